"""The Mermaid diagram (``python -m fabric diagram``), read back statement by statement.

Every test parses the output with :func:`read`, a strict reader of exactly the statements
the diagram writes (a label may hold only the escaper's plain characters, entity codes
and ``<br>``), so an unescaped name fails every test, not only the hostile one. Where
Mermaid itself is installed (``.tools/mermaid``, see :data:`MERMAID`), its own parser
reads the same diagrams and must find the same nodes, labels and edges.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from fabric import deferred, diagram, loader, stackfile, topology
from tests.conftest import ROOT, burst_raw, patch

# ----------------------------------------------------------------------------- the reader

ID = r"[A-Za-z0-9_]+"
LABEL = r'"(?:[A-Za-z0-9 .,:/()+=@*!?_-]|#[0-9]+;|<br>)*"'
SHAPES = {
    "box": rf"\[({LABEL})\]",
    "rounded": rf"\(({LABEL})\)",
    "stadium": rf"\(\[({LABEL})\]\)",
    "cylinder": rf"\[\(({LABEL})\)\]",
    "hexagon": rf"\{{\{{({LABEL})\}}\}}",
    "parallelogram": rf"\[/({LABEL})/\]",
}
EDGES = {
    "ibgp": r"== (iBGP EVPN(?: \(RR client\))?) ===",
    "wg": r"-\. (wg) \.-",
    "vmspawn": r"-\. (vmspawn) \.-",
    "carries": rf"---\|({LABEL})\|",
    "vtep": rf"-\.-\|({LABEL})\|",
    "routes": r"-\.-()",
}
SUBGRAPH = re.compile(rf"  subgraph ({ID})\[({LABEL})\]")
NODE = re.compile(rf"    ({ID})(?:{'|'.join(SHAPES.values())})")
EDGE = re.compile(rf"  ({ID}) (?:{'|'.join(EDGES.values())}) ({ID})")
COMMENT = re.compile(r"  %% [A-Za-z0-9 .,:/()]*")
PEER_CLASS = "  classDef peer stroke-dasharray: 5 5"
PEERS = re.compile(rf"  class ({ID}(?:,{ID})*) peer")


def lines_of(label: str) -> list[str]:
    """A label's text lines, entity codes decoded: what a reader of the diagram sees."""
    return [re.sub(r"#([0-9]+);", lambda m: chr(int(m[1])), part) for part in label[1:-1].split("<br>")]


@dataclass
class Edge:
    a: str
    kind: str
    text: list[str]
    b: str


@dataclass
class Diagram:
    """A diagram as read back: nodes and subgraphs by id (label lines), where each node is, edges."""

    nodes: dict[str, list[str]] = field(default_factory=dict)
    shapes: dict[str, str] = field(default_factory=dict)
    subgraphs: dict[str, list[str]] = field(default_factory=dict)
    inside: dict[str, str] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    peers: set[str] = field(default_factory=set)
    comments: list[str] = field(default_factory=list)

    def node(self, first_line: str) -> str:
        """The id of the one node whose label starts with ``first_line``."""
        (found,) = [i for i, lines in self.nodes.items() if lines[0] == first_line]
        return found

    def subgraph(self, first_line: str) -> str:
        (found,) = [i for i, lines in self.subgraphs.items() if lines[0] == first_line]
        return found

    def edges_of(self, kind: str) -> set[tuple[str, str]]:
        return {(e.a, e.b) for e in self.edges if e.kind == kind}

    def labels(self) -> list[str]:
        """Every line of every label."""
        edge_lines = [line for e in self.edges for line in e.text]
        return [line for lines in (*self.nodes.values(), *self.subgraphs.values()) for line in lines] + edge_lines


def read(text: str) -> Diagram:
    """The diagram, statement by statement; any other line, an id declared twice, an edge to
    an undeclared node or an unclosed subgraph fails."""
    assert text.endswith("\n")
    lines = text.splitlines()
    assert lines[0] == "graph TB"
    d = Diagram()
    open_subgraph: str | None = None
    for line in lines[1:]:
        if m := SUBGRAPH.fullmatch(line):
            assert open_subgraph is None, "subgraphs are not nested"
            assert m[1] not in d.subgraphs and m[1] not in d.nodes, line
            open_subgraph, d.subgraphs[m[1]] = m[1], lines_of(m[2])
        elif line == "  end":
            assert open_subgraph is not None
            open_subgraph = None
        elif m := NODE.fullmatch(line):
            assert open_subgraph is not None, f"a node outside a subgraph: {line}"
            assert m[1] not in d.nodes and m[1] not in d.subgraphs, line
            shape, label = next((s, g) for s, g in zip(SHAPES, m.groups()[1:], strict=True) if g is not None)
            d.nodes[m[1]], d.shapes[m[1]], d.inside[m[1]] = lines_of(label), shape, open_subgraph
        elif m := EDGE.fullmatch(line):
            kind, edge_label = next((k, g) for k, g in zip(EDGES, m.groups()[1:-1], strict=True) if g is not None)
            shown = lines_of(edge_label) if edge_label.startswith('"') else ([edge_label] if edge_label else [])
            d.edges.append(Edge(m[1], kind, shown, m.groups()[-1]))
        elif COMMENT.fullmatch(line):
            d.comments.append(line[5:])
        elif line == PEER_CLASS:
            pass
        elif m := PEERS.fullmatch(line):
            d.peers |= set(m[1].split(","))
        else:
            raise AssertionError(f"not a statement the diagram writes: {line!r}")
    assert open_subgraph is None
    for e in d.edges:
        assert e.a in d.nodes and e.b in d.nodes, e
    assert d.peers <= set(d.nodes)
    return d


# ----------------------------------------------------------------------------- plans


def stack_plan(stack: str) -> topology.Plan:
    return stackfile.load_stack(ROOT, stack).plan


def burst_plan(raw: dict[str, Any] | None = None) -> topology.Plan:
    return topology.build(loader.load(burst_raw() if raw is None else raw))


def no_key_anywhere(text: str, plans: list[topology.Plan]) -> None:
    """No public key is printed: no marker, no stand-in, no key of any member the plans know."""
    assert "<public-key" not in text and "public-key" not in text
    members = [m for p in plans for m in (*p.members, *p.remote)]
    assert members
    for m in members:
        key = m.public_key
        assert deferred.public_key(m.name).sample not in text
        assert (key.sample if isinstance(key, deferred.Deferred) else key) not in text


# ----------------------------------------------------------------------------- the examples


def test_dc1_and_dc2_sites_routers_hypervisors_sessions_and_tenants() -> None:
    plans = [stack_plan("dc1"), stack_plan("dc2")]
    text = diagram.mermaid(plans)
    d = read(text)
    assert d.subgraphs["dc1_SITE"] == ["dc1", "datacenter", "mesh 172.27.1.0/24"]
    assert d.subgraphs["dc2_SITE"] == ["dc2", "datacenter", "mesh 172.27.2.0/24"]
    assert d.nodes["dc1_r1"] == [
        "dc1-r1",
        "VyOS router",
        "mesh 172.27.1.1",
        "route reflector, gateway",
        "endpoint 5.254.54.2:51820",
    ]
    assert d.nodes["dc2_r2"][:4] == ["dc2-r2", "VyOS router", "mesh 172.27.2.2", "gateway"]
    assert d.inside["dc2_r2"] == "dc2_SITE" and d.shapes["dc2_r2"] == "box"
    # Hypervisors are mesh members (VTEPs) at host 128 + id, drawn as hosts.
    hv = d.nodes["dc1_hv1"]
    assert d.shapes["dc1_hv1"] == "cylinder" and d.inside["dc1_hv1"] == "dc1_SITE"
    assert hv == [
        "dc1-hv1",
        "hypervisor, VTEP",
        "mesh 172.27.1.129",
        "backbone 172.16.1.129",
        "public 5.254.54.10/26",
        "1 tenant VM",
        "DHCP acme, globex",
        "endpoint 5.254.54.10:51820",
    ]
    assert "2 tenant VMs" in d.nodes["dc1_hv2"] and "DHCP initech, umbrella" in d.nodes["dc2_hv1"]
    assert d.edges_of("vmspawn") == {
        ("dc1_hv1", "dc1_r1"),
        ("dc1_hv2", "dc1_r2"),
        ("dc2_hv1", "dc2_r1"),
        ("dc2_hv2", "dc2_r2"),
    }
    # Each hypervisor is the VTEP of the tenants whose VMs or DHCP it hosts.
    vteps = {(e.a, e.b): e.text for e in d.edges if e.kind == "vtep" and "_hv" in e.b}
    assert vteps[("acme_TENANT", "dc1_hv1")] == ["VTEP, 1 VM, 3 segments"]  # acme: main, data, services
    assert vteps[("initech_TENANT", "dc1_hv2")] == ["VTEP, 1 VM"]  # its VM; initech's DHCP is dc2's
    assert vteps[("globex_TENANT", "dc1_hv2")] == ["VTEP, DHCP"]
    assert len(vteps) == 9
    # Reflectors peer with each other and reflect to their own site's routers.
    sessions = {(e.a, e.b): e.text for e in d.edges if e.kind == "ibgp"}
    client = ["iBGP EVPN (RR client)"]
    assert sessions == {
        ("dc1_r1", "dc1_r2"): client,
        ("dc1_r1", "dc1_hv1"): client,
        ("dc1_r1", "dc1_hv2"): client,
        ("dc1_r1", "dc2_r1"): ["iBGP EVPN"],
        ("dc2_r1", "dc2_r2"): client,
        ("dc2_r1", "dc2_hv1"): client,
        ("dc2_r1", "dc2_hv2"): client,
    }
    # The rest of the full mesh: tunnels without a session (8 members, 28 tunnels, 7 with one).
    assert len(d.edges_of("wg")) == 21 and ("dc1_hv1", "dc2_hv2") in d.edges_of("wg")
    assert "WireGuard full mesh: 28 tunnels among 8 members" in d.comments
    assert d.nodes["acme_TENANT"] == [
        "acme (id 10)",
        "VRF acme, table 1010",
        "VNI 10010 / L3 20010",
        "RT 65000:10",
        "100.65.10.0/24",
    ]
    assert d.inside["acme_TENANT"] == "TENANTS"
    carried = {(e.a, e.b): e.text for e in d.edges if e.kind == "carries"}
    assert carried[("acme_TENANT", "dc1_r2")] == ["VRF, VRRP 100.65.10.1"]
    assert carried[("umbrella_TENANT", "dc2_r1")] == ["VRF, VRRP 100.65.40.2"]
    assert {r for t, r in carried if t == "umbrella_TENANT"} == {"dc2_r1", "dc2_r2"}
    assert len(carried) == 14
    assert d.peers == set()  # both stacks given: nobody is known only from a peer
    no_key_anywhere(text, plans)


def test_one_stack_draws_its_peers_dashed_from_their_export() -> None:
    plan = stack_plan("dc1")
    d = read(diagram.mermaid([plan]))
    assert d.peers == {"dc2_r1", "dc2_r2", "dc2_hv1", "dc2_hv2"}
    assert d.nodes["dc2_r1"][-1] == "(peer stack)"
    assert d.subgraphs["dc2_SITE"] == ["dc2", "mesh 172.27.2.0/24"]  # not this stack's datacenter
    assert d.edges_of("vmspawn") == {("dc1_hv1", "dc1_r1"), ("dc1_hv2", "dc1_r2")}
    assert d.nodes["dc2_hv1"][1] == "hypervisor, VTEP" and d.nodes["dc2_hv1"][-1] == "(peer stack)"
    assert all(r.startswith("dc1_") for t, r in d.edges_of("carries"))


def test_the_cli_writes_the_same_diagram(tmp_path: Any) -> None:
    """``python -m fabric diagram --stack dc1`` is :func:`diagram.mermaid` of that stack's plan."""
    out = tmp_path / "fabric.mmd"
    result = subprocess.run(
        [sys.executable, "-m", "fabric", "diagram", "--stack", "dc1", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert out.read_text() == diagram.mermaid([stack_plan("dc1")])


def test_site_blocks_come_from_the_configured_control_plane() -> None:
    raw = patch(burst_raw(), {"address_plan.control_plane": "10.99.16.0/20"})
    plan = loader.validate(loader.load(raw), {}).plan
    text = diagram.mermaid([plan])
    d = read(text)
    # Site s owns the control plane's s-th /24.
    assert d.subgraphs["dc1_SITE"][-1] == "mesh 10.99.17.0/24"
    assert d.subgraphs["aws_SITE"][2] == "mesh 10.99.19.0/24"
    assert d.subgraphs["azure_SITE"][2] == "mesh 10.99.20.0/24"
    assert d.subgraphs["gcp_SITE"][2] == "mesh 10.99.21.0/24"
    assert "mesh 10.99.17.2" in d.nodes["dc1_r2"] and "mesh 10.99.21.1" in d.nodes["gcp_n1"]
    assert "AS 65000, WireGuard mesh (control plane) 10.99.16.0/20" in d.comments
    assert "172.27" not in text


def test_burst_clouds_nodes_providers_regions_and_subnets() -> None:
    plan = burst_plan()
    text = diagram.mermaid([plan])
    d = read(text)
    clouds = {
        "aws": ("eu-central-1", "172.27.3", "10.243", ["acme", "globex"]),
        "azure": ("westeurope", "172.27.4", "10.244", ["globex"]),
        "gcp": ("europe-west3", "172.27.5", "10.245", ["acme"]),
    }
    for provider, (region, mesh, network, tenants) in clouds.items():
        node = f"{provider}_n1"
        assert d.subgraphs[f"{provider}_SITE"] == [
            provider,
            f"cloud {provider}, region {region}",
            f"mesh {mesh}.0/24",
            f"network {network}.0.0/16",
        ]
        # The node's endpoint is the cloud's address, allocated during up: not drawn.
        assert d.nodes[node] == [
            f"{provider}-n1",
            f"cloud node: {provider}, region {region}",
            f"mesh {mesh}.1",
            f"private {network}.0.10",
        ]
        assert d.shapes[node] == "stadium" and d.inside[node] == f"{provider}_SITE"
        subnets = {b for a, b in d.edges_of("routes") if a == node}
        assert subnets == {f"{t}_IN_{provider}" for t in tenants}
        for t in tenants:
            assert d.inside[f"{t}_IN_{provider}"] == f"{provider}_SITE"
            assert d.shapes[f"{t}_IN_{provider}"] == "parallelogram"
        assert {t for t, n in d.edges_of("vtep") if n == node} == {f"{t}_TENANT" for t in tenants}
        # A cloud site has no reflector: dc1's reflector serves its node.
        assert ("dc1_r1", node) in d.edges_of("ibgp")
    assert d.nodes["globex_IN_azure"] == ["globex subnet", "10.244.20.0/24", "egress: internet"]
    assert d.nodes["acme_IN_gcp"] == ["acme subnet", "10.245.10.0/24", "egress: allow list"]
    vteps = {(e.a, e.b): e.text for e in d.edges if e.kind == "vtep"}
    assert vteps[("globex_TENANT", "azure_n1")] == ["VTEP 100.65.20.65"]
    for m in plan.members:
        if isinstance(m.endpoint, deferred.Deferred):
            assert m.endpoint.sample not in text
    assert "198.18." not in text
    no_key_anywhere(text, [plan])


def test_a_peer_stacks_stand_in_endpoint_is_not_drawn() -> None:
    """Offline, a peer's cloud node comes with its stand-in address as plain text: still not an endpoint."""
    burst = loader.load(burst_raw())
    remote = topology.stand_ins(topology.local_members(burst))
    plan = topology.build(stackfile.load_inventory(ROOT, "dc2"), remote)
    (aws,) = [m for m in plan.remote if m.name == "aws-n1"]
    assert isinstance(aws.endpoint, str) and aws.endpoint.startswith("198.18.")
    text = diagram.mermaid([plan])
    d = read(text)
    assert d.nodes["aws_n1"] == ["aws-n1", "cloud node", "mesh 172.27.3.1", "(peer stack)"]
    assert d.shapes["aws_n1"] == "stadium" and "aws_n1" in d.peers
    assert "endpoint 5.254.54.2:51820" in d.nodes["dc1_r1"]  # a peer's real address is drawn
    assert "198.18." not in text
    no_key_anywhere(text, [plan])


def test_shown_endpoint_only_for_plain_text() -> None:
    m = topology.MeshMember("x-n1", "x", 3, 1, deferred.endpoint("x-n1"), 51820, "k", "172.27.3.1")
    assert diagram.shown_endpoint(m) is None
    assert diagram.shown_endpoint(dataclasses.replace(m, endpoint="")) is None
    assert diagram.shown_endpoint(dataclasses.replace(m, endpoint=deferred.endpoint("x-n1").sample)) is None
    assert diagram.shown_endpoint(dataclasses.replace(m, endpoint="192.0.2.7")) == "192.0.2.7:51820"


def test_the_lab_draws_frr_nodes_reflectors_and_vteps() -> None:
    plan = stack_plan("lab")
    text = diagram.mermaid([plan])
    d = read(text)
    assert set(d.subgraphs) == {"lab_a_SITE", "lab_b_SITE", "lab_c_SITE", "TENANTS"}
    assert d.nodes["a1"] == ["a1", "frr node", "mesh 172.27.1.1", "route reflector", "endpoint 10.254.0.11:51820"]
    assert d.nodes["c2"] == ["c2", "frr node", "mesh 172.27.3.2", "endpoint 10.254.0.16:51820"]
    assert all(d.shapes[n] == "rounded" for n in ("a1", "a2", "a3", "b1", "b2", "b3", "c1", "c2"))
    assert d.nodes["a3"] == ["a3", "l2 node", "mesh 172.27.1.3", "endpoint 10.254.0.17:51820"]
    assert d.inside["b2"] == "lab_b_SITE"
    assert not d.edges_of("vmspawn") and not d.edges_of("carries")  # no routers, no hypervisors
    # red everywhere, green in a and b, blue in b and c: each frr node is a VTEP of its site's
    # tenants, an l2 node of its ports' (a3: red and green, b3: blue).
    vteps = d.edges_of("vtep")
    assert {n for t, n in vteps if t == "green_TENANT"} == {"a1", "a2", "a3", "b1", "b2"}
    assert {n for t, n in vteps if t == "blue_TENANT"} == {"b1", "b2", "b3", "c1", "c2"}
    assert len({n for t, n in vteps if t == "red_TENANT"}) == 7
    texts = {(e.a, e.b): e.text for e in d.edges if e.kind == "vtep"}
    assert texts[("red_TENANT", "a3")] == ["VTEP, 1 port"] and texts[("red_TENANT", "a1")] == [
        "VTEP 100.65.10.17, 2 segments"
    ]
    sessions = {(e.a, e.b): e.text[0] for e in d.edges if e.kind == "ibgp"}
    assert sessions[("a1", "b1")] == "iBGP EVPN"
    assert sessions[("a1", "c1")] == "iBGP EVPN (RR client)"  # lab-c has no reflector: both serve it
    assert sessions[("b1", "c1")] == "iBGP EVPN (RR client)"
    assert ("a2", "b2") not in sessions and ("a2", "b2") in d.edges_of("wg")
    assert len(sessions) + len(d.edges_of("wg")) == 28  # the full mesh of 8
    no_key_anywhere(text, [plan])


@pytest.mark.parametrize("stacks", [["dc1"], ["dc2"], ["lab"], ["dc1", "dc2", "lab"]])
def test_every_example_reads_back(stacks: list[str]) -> None:
    plans = [stack_plan(s) for s in stacks]
    text = diagram.mermaid(plans)
    read(text)
    no_key_anywhere(text, plans)


# ----------------------------------------------------------------------------- hostile labels

#: Words Mermaid 11 reads as keywords where a node id is expected (lower case: as a name would be).
KEYWORDS = ["end", "graph", "flowchart", "subgraph", "style", "class", "interpolate", "call", "click", "href"]


#: Names no validator lets through, each trying to end a label, a statement or a subgraph,
#: inject HTML or Mermaid's entity codes, or take another node's id.
HOSTILE = {
    "dc1": 'dc1"] --> pwn["x',
    "dc1-r1": "<img src=x onerror=alert(1)>",
    "dc1-r2": "end",
    "dc1-hv1": "a#quot;b`md`%%{init: {}}%%",
    "dc1-hv2": "Ünïcödé ✓\u202e",
    "acme": "ac\nme <b>&amp;</b>",
    "globex": "dc1_r1",
    "initech": "style",
    "aws": 'aws|"x"|',
    "eu-central-1": "<script>alert(1)</script>",
    "aws-n1": 'n1"]\n  click n1 call alert()',
    "gcp": "gcp\r\nend\r\nsubgraph",
    "gcp-n1": "click",
}


def renamed(obj: Any, names: dict[str, str]) -> Any:
    """``obj`` with every string field equal to a key of ``names`` replaced by its value:
    a plan as an unvalidated config would make it."""
    if isinstance(obj, str):
        return names.get(obj, obj)
    if isinstance(obj, tuple):
        return tuple(renamed(x, names) for x in obj)
    if isinstance(obj, BaseModel):
        return obj.model_copy(update={k: names[v] for k, v in obj if isinstance(v, str) and v in names})
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        changes = {f.name: renamed(getattr(obj, f.name), names) for f in dataclasses.fields(obj) if f.init}
        return dataclasses.replace(obj, **changes)
    return obj


def test_hostile_names_stay_inside_their_labels() -> None:
    plan = renamed(burst_plan(), HOSTILE)
    assert plan.routers[0].name == HOSTILE["dc1-r1"] and plan.clouds[0].spec.region == HOSTILE["eu-central-1"]
    text = diagram.mermaid([plan])
    d = read(text)  # every line is a statement the diagram writes, every label only plain text
    for raw in ("<img", "<script", "<b>", "</b>", "`", "%%{", "\r", "\n\n", "\u202e", "Ü", "|x|", 'x"'):
        assert raw not in text
    # What a reader sees is exactly the name.
    assert d.subgraphs[d.subgraph(HOSTILE["dc1"])][1:] == ["datacenter", "mesh 172.27.1.0/24"]
    r1, r2 = d.node(HOSTILE["dc1-r1"]), d.node(HOSTILE["dc1-r2"])
    assert d.nodes[r1][1:3] == ["VyOS router", "mesh 172.27.1.1"]
    assert d.nodes[d.node(HOSTILE["dc1-hv1"])][1] == "hypervisor, VTEP"
    assert d.nodes[d.node(HOSTILE["dc1-hv2"])][1] == "hypervisor, VTEP"
    acme = d.node(f"{HOSTILE['acme']} (id 10)")
    globex = d.node(f"{HOSTILE['globex']} (id 20)")
    assert f"VRF {HOSTILE['acme']}, table 1010" in d.nodes[acme]
    aws = d.node(HOSTILE["aws-n1"])
    assert d.nodes[aws][1] == f"cloud node: {HOSTILE['aws']}, region {HOSTILE['eu-central-1']}"
    assert d.subgraphs[d.subgraph(HOSTILE["aws"])][1] == f"cloud {HOSTILE['aws']}, region {HOSTILE['eu-central-1']}"
    subnets = {tuple(d.nodes[i][:2]) for i in d.nodes if d.shapes[i] == "parallelogram"}
    assert (f"{HOSTILE['acme']} subnet", "10.245.10.0/24") in subnets
    assert d.subgraphs[d.subgraph(HOSTILE["gcp"])][2] == "mesh 172.27.5.0/24"
    # Keywords are not ids, and a tenant named like a router's id is not that router.
    initech = d.node(f"{HOSTILE['initech']} (id 30)")
    assert r2 != "end" and initech != "style_TENANT" and "dc1_r1" not in d.nodes
    assert d.node("click") == "X636c69636b" and (r1, "X636c69636b") in d.edges_of("ibgp")
    assert len({r1, r2, acme, globex, initech, aws}) == 6
    assert (r1, r2) in d.edges_of("ibgp")
    assert (globex, aws) in d.edges_of("vtep")
    assert {line for e in d.edges if e.kind == "carries" for line in e.text} == {
        "VRF, VRRP 100.65.10.1",
        "VRF, VRRP 100.65.20.1",
        "VRF, VRRP 100.65.30.1",
    }


def test_hostile_label_characters_are_escaped() -> None:
    assert diagram.escape('a"b') == "a#34;b"
    assert diagram.escape("<br>") == "#60;br#62;"
    assert diagram.escape("#quot;") == "#35;quot#59;"
    assert diagram.escape("&amp;") == "#38;amp#59;"
    assert diagram.escape("x\ny") == "x#10;y"
    assert diagram.escape("dc1-r1 (id 10): 172.27.1.0/24") == "dc1-r1 (id 10): 172.27.1.0/24"
    assert diagram.label("a", '"b"') == '"a<br>#34;b#34;"'


@given(st.text())
def test_any_text_is_one_label_that_reads_back_as_itself(text: str) -> None:
    quoted = diagram.label(text)
    assert re.fullmatch(LABEL, quoted)
    assert lines_of(quoted) == [text]


@given(st.text(max_size=12), st.text(max_size=12), st.sampled_from(["", "SITE", "HV", "TENANT"]))
def test_node_ids_are_plain_and_never_collide(a: str, b: str, tag: str) -> None:
    for name in (a, b):
        assert re.fullmatch(ID, diagram.node_id(name, tag))
        assert diagram.node_id(name).lower() not in KEYWORDS
    for other in ("", "SITE", "HV", "TENANT"):
        if (a, tag) != (b, other):
            assert diagram.node_id(a, tag) != diagram.node_id(b, other)
    assert diagram.subnet_id(a, b) not in {diagram.node_id(a), diagram.node_id(b, "TENANT")}
    if a != b:
        assert diagram.subnet_id(a, b) != diagram.subnet_id(b, a)


def test_node_ids_of_names_and_keywords() -> None:
    for word in KEYWORDS:
        assert diagram.node_id(word) == "X" + word.encode().hex()
    assert diagram.node_id("end-x") == "end_x"  # a keyword only as a whole word
    assert diagram.node_id("dc1-r1") == "dc1_r1"
    assert diagram.node_id("dc1", "SITE") == "dc1_SITE"
    assert diagram.node_id("end") == "X656e64"
    assert diagram.node_id("dc1_r1") == "X6463315f7231"  # not a valid name: cannot pose as dc1-r1
    assert diagram.subnet_id("acme", "aws") == "acme_IN_aws"


# ----------------------------------------------------------------------------- Mermaid's own parser

#: Mermaid and jsdom for Node, pinned, where scripts/setup.sh installs them (``npm install --prefix .tools/mermaid``).
MERMAID = ROOT / ".tools" / "mermaid"
#: Reads JSON ``[text, ...]`` on stdin; prints per diagram its vertices, subgraphs and edges with
#: their text as a browser shows it (Mermaid's entity codes decoded, then the HTML label's text).
PARSE_JS = r"""
import { readFileSync } from 'fs';
import { JSDOM } from 'jsdom';
const dom = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
globalThis.DOMParser = dom.window.DOMParser;
const { default: mermaid } = await import('mermaid');
mermaid.initialize({ startOnLoad: false, securityLevel: 'strict' });
const shown = (text) => {
  const el = document.createElement('div');
  el.innerHTML = text.replace(/ﬂ°°/g, '&#').replace(/ﬂ°/g, '&').replace(/¶ß/g, ';').replace(/<br>/g, '\n');
  return el.textContent;
};
const out = [];
for (const text of JSON.parse(readFileSync(0, 'utf8'))) {
  await mermaid.parse(text);
  const db = (await mermaid.mermaidAPI.getDiagramFromText(text)).db;
  out.push({
    vertices: Object.fromEntries([...db.getVertices().values()].map((v) => [v.id, shown(v.text)])),
    subgraphs: Object.fromEntries(db.getSubGraphs().map((s) => [s.id, shown(s.title)])),
    edges: db.getEdges().map((e) => [e.start, e.end, shown(e.text)]),
  });
}
console.log(JSON.stringify(out));
"""


def test_mermaid_parses_every_diagram_as_written() -> None:
    node = shutil.which("node")
    assert node is not None and (MERMAID / "node_modules" / "mermaid").is_dir(), (
        f"Mermaid is not installed in {MERMAID}: run ./scripts/setup.sh"
    )
    plans = [
        [stack_plan("dc1"), stack_plan("dc2")],
        [stack_plan("lab")],
        [burst_plan()],
        [renamed(burst_plan(), HOSTILE)],
    ]
    texts = [diagram.mermaid(p) for p in plans]
    result = subprocess.run(
        [node, "--input-type=module", "-e", PARSE_JS],
        input=json.dumps(texts),
        cwd=MERMAID,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for text, parsed in zip(texts, json.loads(result.stdout), strict=True):
        d = read(text)
        assert parsed["vertices"] == {i: "\n".join(lines) for i, lines in d.nodes.items()}
        assert parsed["subgraphs"] == {i: "\n".join(lines) for i, lines in d.subgraphs.items()}
        assert [tuple(e) for e in parsed["edges"]] == [(e.a, e.b, "\n".join(e.text)) for e in d.edges]
