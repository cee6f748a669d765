"""``frr`` nodes and cloud-init: what a cloud node is told at first boot, checked by the real tools.

Every rendered ``frr.conf`` goes through FRR's own checker (``vtysh --dryrun``, from
Debian's ``frr``), every user-data through cloud-init's schema (``cloud-init schema``,
from Debian's ``cloud-init``); each check also proves it can fail on a broken input.
The rest pins what the files must say: peers, addresses, VNIs, MTUs, isolation.
"""

from __future__ import annotations

import base64
import dataclasses
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from netaddr import IPNetwork

import markers
from fabric import deferred, loader, topology
from fabric.cloud_limits import CLOUDS
from fabric.deferred import WIREGUARD_PRIVATE_KEY
from fabric.errors import ConfigError
from fabric.render.cloudinit import packed_user_data, render_user_data, user_data_problems
from fabric.render.linux.node import (
    FRR_CONF,
    NFTABLES,
    WG_CONF,
    frr_config,
    render_node,
)
from fabric.render.vyos import render_routers, schema_problems
from fabric.stackfile import load_inventory, raw_config
from markers import ENDPOINT, SECRET
from tests.conftest import ROOT, burst_raw, with_tenants

DC2 = load_inventory(ROOT, "dc2")
REMOTE = topology.stand_ins(topology.local_members(DC2))
ENDPOINTS = {"aws-n1": "203.0.113.10", "azure-n1": "203.0.113.20", "gcp-n1": "203.0.113.30"}


def burst_plan() -> topology.Plan:
    inv = loader.load(burst_raw())
    return topology.build(inv, REMOTE)


def reflector_variant(node: topology.NodePlan) -> topology.NodePlan:
    """The same node as a route reflector of a small site (as the lab's nodes are)."""
    clients = tuple(dataclasses.replace(n, client=True) for n in node.bgp_neighbors)
    return dataclasses.replace(node, route_reflector=True, bgp_neighbors=clients)


def vtysh_check(text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "frr.conf"
    path.write_text(text)
    return subprocess.run(["vtysh", "--dryrun", "-f", str(path)], capture_output=True, text=True, timeout=60)


def cloud_init_check(text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "user-data"
    path.write_text(text)
    return subprocess.run(["cloud-init", "schema", "-c", str(path)], capture_output=True, text=True, timeout=120)


def test_every_frr_config_passes_frrs_checker(tmp_path: Path) -> None:
    plan = burst_plan()
    nodes = [c.node for c in plan.clouds]
    assert len(nodes) == 3
    for node in [*nodes, *(reflector_variant(n) for n in nodes)]:
        text = render_node(plan, node).file(FRR_CONF).content
        result = vtysh_check(text, tmp_path)
        assert result.returncode == 0 and not result.stdout.strip(), (node.name, result.stdout, result.stderr)


def test_frrs_checker_rejects_a_broken_config(tmp_path: Path) -> None:
    plan = burst_plan()
    text = frr_config(plan, plan.clouds[0].node).replace("advertise-all-vni", "advertise-every-vni")
    result = vtysh_check(text, tmp_path)
    assert result.returncode != 0 and "advertise-every-vni" in result.stdout + result.stderr


def test_every_user_data_passes_cloud_inits_schema(tmp_path: Path) -> None:
    plan = burst_plan()
    for cloud in plan.clouds:
        text = render_user_data(plan, cloud)
        assert text.startswith("#cloud-config\n")
        result = cloud_init_check(text, tmp_path)
        assert result.returncode == 0 and "Valid cloud-config" in result.stdout, (
            cloud.site,
            result.stdout,
            result.stderr,
        )


def test_cloud_inits_schema_rejects_a_broken_user_data(tmp_path: Path) -> None:
    plan = burst_plan()
    text = render_user_data(plan, plan.clouds[0]).replace("package_update: true", "package_update: sometimes")
    result = cloud_init_check(text, tmp_path)
    assert result.returncode != 0 and "package_update" in result.stdout + result.stderr


def test_user_data_writes_the_nodes_files_after_its_packages_and_runs_its_actions() -> None:
    plan = burst_plan()
    cloud = next(c for c in plan.clouds if c.provider == "aws")
    doc = yaml.safe_load(render_user_data(plan, cloud))
    state = render_node(plan, cloud.node)
    assert {f["path"]: f["content"] for f in doc["write_files"]} == {f.path: f.content for f in state.files()}
    assert all(f["defer"] for f in doc["write_files"])  # after packages: frr owns its files
    assert {"wireguard-tools", "frr", "nftables"} <= set(doc["packages"])
    commands = [tuple(c) for c in doc["runcmd"]]
    wanted = [argv for concern in state.concerns.values() for a in concern.actions for argv in a.commands]
    assert commands[1:] == wanted
    # The private key is a marker the component replaces inside a secret; no key text here.
    assert render_user_data(plan, cloud).count(WIREGUARD_PRIVATE_KEY.marker) == 1
    assert "users" not in doc  # aws has no ssh_public_key in this config
    azure = yaml.safe_load(render_user_data(plan, next(c for c in plan.clouds if c.provider == "azure")))
    assert azure["users"][1]["ssh_authorized_keys"][0].startswith("ssh-ed25519 ")


def test_wireguard_peers_are_every_router_and_other_cloud_with_their_endpoints() -> None:
    plan = burst_plan()
    aws = next(c for c in plan.clouds if c.provider == "aws")
    conf = render_node(plan, aws.node).file(WG_CONF)
    assert conf.mode == 0o600
    peers = [
        line.removeprefix("# ") for line in conf.content.splitlines() if line.startswith("# ") and "Managed" not in line
    ]
    datacenters = ["dc1-r1", "dc1-r2", "dc1-hv1", "dc1-hv2", "dc2-r1", "dc2-r2", "dc2-hv1", "dc2-hv2"]
    assert peers == [*datacenters, "azure-n1", "gcp-n1"]
    # The other clouds' addresses are known after up: slots the provider fills in.
    assert "Endpoint = <endpoint:azure-n1>:51820" in conf.content and "Endpoint = 5.254.43.162:51820" in conf.content
    azure = deferred.endpoint("azure-n1")
    assert f"Endpoint = {azure.sample}:51820" in conf.filled(deferred.samples(conf.slots))
    assert (
        f"Address = {aws.node.mesh_address}/20" in conf.content
        and aws.node.mesh_address == IPNetwork("172.27.3.1/32").ip
    )
    assert f"MTU = {plan.mtu.wireguard}" in conf.content
    # The firewall's sources are exactly those endpoints.
    assert set(aws.wireguard_sources) == {
        "5.254.54.2",
        "5.254.54.3",
        "5.254.54.10",
        "5.254.54.11",
        "5.254.43.162",
        "5.254.43.163",
        "5.254.43.170",
        "5.254.43.171",
        deferred.endpoint("azure-n1"),
        deferred.endpoint("gcp-n1"),
    }


def test_segments_exist_only_for_tenants_spanning_the_cloud_and_ride_the_mesh() -> None:
    plan = burst_plan()
    by_site = {c.site: c for c in plan.clouds}
    assert {t.tenant.name for t in by_site["aws"].node.tenants} == {"acme", "globex"}
    assert {t.tenant.name for t in by_site["gcp"].node.tenants} == {"acme"}
    assert {t.tenant.name for t in by_site["azure"].node.tenants} == {"globex"}
    gcp = render_node(plan, by_site["gcp"].node)
    vxlan = gcp.file("/etc/systemd/network/60-vxlan10010.netdev").content
    assert "VNI=10010" in vxlan and "Local=172.27.5.1" in vxlan and "MacLearning=no" in vxlan
    assert f"MTUBytes={plan.mtu.tenant}" in vxlan
    bridge = gcp.file("/etc/systemd/network/60-br10010.network").content
    assert "Address=100.65.10.81/24" in bridge  # 16 * site 5 + node 1
    assert not any("10020" in f.path for f in gcp.files())  # globex does not span gcp


def test_forwarding_lets_each_tenants_cloud_subnet_reach_only_its_own_segment() -> None:
    plan = burst_plan()
    aws = next(c for c in plan.clouds if c.provider == "aws")
    nft = render_node(plan, aws.node).file(NFTABLES).content
    assert "policy drop;" in nft
    rules = [line.strip() for line in nft.splitlines() if line.strip().endswith('"') and "accept" in line]
    own = {t.name: "{ " + ", ".join(map(str, t.policy.own)) + " }" for t in plan.tenants}
    assert own["acme"].startswith("{ 100.65.10.0/24, ") and "10.243.10.0/24" in own["acme"]
    assert rules == [
        'iifname "br10010" oifname "br10010" accept comment "tenant acme: its own segment"',
        f'iifname != "br*" ip saddr 10.243.10.0/24 ip daddr {own["acme"]} oifname "br10010" accept'
        ' comment "tenant acme: cloud to fabric (own prefixes)"',
        f'iifname "br10010" ip saddr {own["acme"]} ip daddr 10.243.10.0/24 accept'
        ' comment "tenant acme: fabric to cloud (own prefixes)"',
        'iifname "br10020" oifname "br10020" accept comment "tenant globex: its own segment"',
        f'iifname != "br*" ip saddr 10.243.20.0/24 ip daddr {own["globex"]} oifname "br10020" accept'
        ' comment "tenant globex: cloud to fabric (own prefixes)"',
        f'iifname "br10020" ip saddr {own["globex"]} ip daddr 10.243.20.0/24 accept'
        ' comment "tenant globex: fabric to cloud (own prefixes)"',
    ]


def test_bgp_sessions_go_to_every_reflector_over_mesh_addresses() -> None:
    plan = burst_plan()
    for cloud in plan.clouds:
        assert [(n.name, n.address, n.client) for n in cloud.node.bgp_neighbors] == [
            ("dc1-r1", "172.27.1.1", False),
            ("dc2-r1", "172.27.2.1", False),
        ]
        text = frr_config(plan, cloud.node)
        assert f" bgp router-id {cloud.node.mesh_address}" in text and "  advertise-all-vni" in text
        assert f" neighbor 172.27.2.1 update-source {cloud.node.mesh_address}" in text


@pytest.mark.parametrize("provider", ["aws", "azure", "gcp"])
def test_a_burst_adds_exactly_its_node_to_every_router(provider: str) -> None:
    """Enabling one cloud adds its node as a peer (and reflector client) everywhere, and
    static routes for its tenants' subnets; disabling it takes exactly that away."""
    clouds = burst_raw()["clouds"]
    without = dict(clouds, **{provider: dict(clouds[provider], enabled=False)})
    inv_on, inv_off = loader.load(burst_raw()), loader.load(burst_raw(without))
    on = topology.build(inv_on, REMOTE)
    off = topology.build(inv_off, REMOTE)
    node = f"{provider}-n1"
    assert {c.site for c in on.clouds} - {c.site for c in off.clouds} == {provider}
    for r_on, r_off in zip(on.routers, off.routers, strict=True):
        assert {p.name for p in r_on.wireguard_peers} - {p.name for p in r_off.wireguard_peers} == {node}
        assert {p.name for p in r_off.wireguard_peers} <= {p.name for p in r_on.wireguard_peers}
        sessions_on = {n.name for n in r_on.bgp_neighbors}
        sessions_off = {n.name for n in r_off.bgp_neighbors}
        assert sessions_on - sessions_off == ({node} if r_on.route_reflector else set())
        for t_on, t_off in zip(r_on.tenants, r_off.tenants, strict=True):
            extra = set(t_on.cloud_routes) - set(t_off.cloud_routes)
            spans = provider in t_on.tenant.sites
            assert {str(subnet) for subnet, _ in extra} == (
                {str(dict(t_on.tenant.cloud_subnets)[provider])} if spans else set()
            )
    # The other clouds' nodes lose only their peer with this one.
    for c_on in on.clouds:
        c_off = next((c for c in off.clouds if c.site == c_on.site), None)
        if c_off is not None:
            assert {p.name for p in c_on.node.wireguard_peers} - {p.name for p in c_off.node.wireguard_peers} == {node}


def test_the_peer_stack_learns_a_cloud_node_from_the_exports() -> None:
    """dc2's routers peer with dc1's cloud nodes and route their tenants' subnets through them."""
    inv = loader.load(burst_raw())
    members = topology.local_members(inv)
    # As dc1 exports them after its up: keys, and the clouds' addresses.
    values = {**deferred.sample_values(m.public_key for m in members), ENDPOINT: ENDPOINTS}
    dc1_members = [topology.resolved(m, values) for m in members]
    # Tenants are fabric-wide (Pulumi.yaml): dc2 sees the same spans.
    dc2_inv = loader.load({**raw_config(ROOT, "dc2"), "tenants": burst_raw()["tenants"]})
    dc2 = topology.build(dc2_inv, dc1_members)
    r1 = next(r for r in dc2.routers if r.name == "dc2-r1")
    aws = next(p for p in r1.wireguard_peers if p.name == "aws-n1")
    assert aws.endpoint == "203.0.113.10" and aws.allowed_ips == ("172.27.3.1/32",)
    assert ("aws-n1", True) in {(n.name, n.client) for n in r1.bgp_neighbors}
    acme = next(c for c in r1.tenants if c.tenant.name == "acme")
    assert [(str(s), str(a)) for s, a in acme.cloud_routes] == [
        ("10.243.10.0/24", "100.65.10.49"),
        ("10.245.10.0/24", "100.65.10.81"),
    ]


def test_a_cloud_nodes_endpoint_is_known_after_up_and_a_peers_unexported_one_is_left_out() -> None:
    """This stack's cloud node's address is a deferred value (the provider fills it in); a
    peer stack's cloud node exported before its cloud had an address is listed without an
    endpoint, and initiates the tunnel itself."""
    inv = loader.load(burst_raw())
    plan = topology.build(inv, REMOTE)
    peer = next(p for p in plan.routers[0].wireguard_peers if p.name == "aws-n1")
    assert peer.endpoint == deferred.endpoint("aws-n1") and peer.public_key == deferred.public_key("aws-n1")
    dc2 = loader.load({**raw_config(ROOT, "dc2"), "tenants": burst_raw()["tenants"]})
    unexported = [dataclasses.replace(topology.stand_ins([m])[0], endpoint="") for m in topology.local_members(inv)]
    peer = next(p for p in topology.build(dc2, unexported).routers[0].wireguard_peers if p.name == "aws-n1")
    assert peer.endpoint == "" and peer.public_key == deferred.public_key("aws-n1").sample


def test_routers_with_bursts_render_valid_vyos() -> None:
    """The lines bursts add on routers (peers without endpoints, VRF static routes) are valid VyOS."""
    inv = loader.load(burst_raw())
    for plan in (burst_plan(), topology.build(inv, REMOTE)):
        assert schema_problems(plan) == []
        text = "\n".join(r.text() for r in render_routers(plan))
        assert "set vrf name acme protocols static route 10.243.10.0/24 next-hop '100.65.10.49'" in text
        assert "rule 10 destination group network-group 'TENANT-acme'" in text
        assert "set firewall group network-group TENANT-acme network '10.245.10.0/24'" in text


def test_packed_user_data_is_what_cloud_init_unpacks(tmp_path: Path) -> None:
    """Packed (gzip + base64) because user-data outgrows AWS's 16 KiB raw; cloud-init's own
    code (Debian's python3 module) turns the decoded bytes back into the cloud-config."""
    plan = many_tenants_plan(30)
    cloud = next(c for c in plan.clouds if c.provider == "aws")
    key = WIREGUARD_PRIVATE_KEY.sample
    values = node_values(plan, cloud, key)
    packed = packed_user_data(plan, cloud, values)
    assert packed == packed_user_data(plan, cloud, values)  # reproducible: no timestamp in the gzip header
    (tmp_path / "blob").write_bytes(base64.b64decode(packed))
    unpack = (
        "import sys; from cloudinit import user_data; "
        "msg = user_data.convert_string(open(sys.argv[1], 'rb').read()); "
        "sys.stdout.write(msg.get_payload(decode=True).decode())"
    )
    out = subprocess.run(["/usr/bin/python3", "-c", unpack, str(tmp_path / "blob")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout == render_user_data(plan, cloud, values)
    assert f"PrivateKey = {key}" in out.stdout
    assert len(render_user_data(plan, cloud)) > CLOUDS["aws"].user_data_bytes > len(base64.b64decode(packed))


def node_values(plan: topology.Plan, cloud: topology.CloudPlan, key: str) -> markers.Values:
    """What the cloud component fills into the node's user-data: its private key, and the
    other members' keys and addresses (here their stand-ins)."""
    slots = tuple(s for f in render_node(plan, cloud.node).files() for s in f.slots)
    return {**deferred.samples(slots), SECRET: {WIREGUARD_PRIVATE_KEY.name: key}}


def many_tenants_plan(tenants: int) -> topology.Plan:
    raw = burst_raw()
    with_tenants(raw, [{"name": f"t{t}", "id": t, "sites": ["dc1", "aws"]} for t in range(1, tenants + 1)])
    raw["datacenter"]["nat_addresses"] = {}
    inv = loader.load(raw)
    return topology.build(inv, REMOTE)


def test_user_data_over_the_clouds_limit_is_a_config_error() -> None:
    plan = many_tenants_plan(255)
    aws = next(c for c in plan.clouds if c.provider == "aws")
    message = r"clouds.aws: the node's user-data is [0-9.]+ KiB packed, over aws's 16 KiB limit; 255 tenants span aws"
    with pytest.raises(ConfigError, match=message):
        packed_user_data(plan, aws, node_values(plan, aws, WIREGUARD_PRIVATE_KEY.sample))
    # The same problem is found before anything is created, with the config.
    assert any(re.match(message, p) for p in user_data_problems(plan))


def test_every_nftables_file_passes_nfts_own_check(tmp_path: Path) -> None:
    """``nft -c`` (Debian's nftables, checked by the kernel without committing) accepts each
    node's filter, cloud nodes' (forwarding, MSS clamp), SSH nodes' and hypervisors' (tenant
    bridges kept off the host, each VM to its MAC and network) alike; a broken one fails."""
    plan = burst_plan()
    ssh_node = topology.build(
        loader.load(
            {
                **burst_raw(),
                "nodes": [
                    {
                        "name": "x1",
                        "id": 3,
                        "site": "aws",
                        "endpoint": "198.51.100.9",
                        "ssh": {"address": "198.51.100.9", "host_key": "SHA256:" + "A" * 43},
                    }
                ],
            }
        ),
        REMOTE,
    ).nodes[0]
    path = tmp_path / "fabric.nft"
    clouds = [c.node for c in plan.clouds]
    hypervisors = [hv.vtep for hv in plan.hypervisors if hv.vtep is not None]  # inet, arp and bridge tables
    assert hypervisors and any(t.ports for hv in hypervisors for t in hv.tenants)
    for node in [*clouds, ssh_node, *hypervisors]:
        text = render_node(plan, node).file(NFTABLES).content
        path.write_text(text)
        result = subprocess.run(["nft", "-c", "-f", str(path)], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, (node.name, result.stderr)
        assert ("maxseg size set rt mtu" in text) == (node in clouds)
    path.write_text(re.sub(r"policy (drop|accept);", "policy maybe;", text))
    assert subprocess.run(["nft", "-c", "-f", str(path)], capture_output=True, text=True).returncode != 0
