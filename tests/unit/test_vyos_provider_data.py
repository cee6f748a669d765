"""The VyOS provider's data handling: config text and device trees to lines, deltas, secrets,
state of earlier versions. No device needed."""

from __future__ import annotations

import pytest

from fabric import loader, stackfile, topology
from fabric.components.router import sections_text
from fabric.deferred import Deferred
from fabric.render.vyos import render_routers
from fabric.render.vyos.command import Command, set_line
from providers.vyos import (
    VyosConfigProvider,
    VyosError,
    config_lines,
    delta,
    desired_config,
    fill_secrets,
    flatten,
    line_text,
    mask_secrets,
    normalize_fingerprint,
    owned,
    parse_lines,
    router_text,
    same_config,
    same_roots,
    wanted_lines,
)
from tests.conftest import ROOT, with_tenants

TREE = {
    "interfaces": {
        "wireguard": {
            "wg0": {
                "address": ["172.27.1.1/20"],
                "private-key": "SECRETKEY=",
                "peer": {"dc2-r1": {"allowed-ips": ["172.27.2.1/32"], "public-key": "PUB="}},
            }
        },
        "vxlan": {"vxlan10010": {"parameters": {"nolearning": {}}, "vni": "10010"}},
    },
    "system": {"host-name": "r1", "ntp": {"server": {"pool": {}}}},
}


def test_flatten_turns_a_show_config_tree_into_lines() -> None:
    assert flatten(TREE) == {
        "interfaces wireguard wg0 address": ["172.27.1.1/20"],
        "interfaces wireguard wg0 private-key": ["SECRETKEY="],
        "interfaces wireguard wg0 peer dc2-r1 allowed-ips": ["172.27.2.1/32"],
        "interfaces wireguard wg0 peer dc2-r1 public-key": ["PUB="],
        "interfaces vxlan vxlan10010 parameters nolearning": [],
        "interfaces vxlan vxlan10010 vni": ["10010"],
        "system host-name": ["r1"],
        "system ntp server pool": [],
    }


def test_owned_keeps_only_the_owned_subtrees() -> None:
    lines = flatten(TREE)
    mine = owned(lines, [["interfaces", "wireguard", "wg0"], ["system", "host-name"]])
    assert set(mine) == {p for p in lines if p.startswith("interfaces wireguard wg0") or p == "system host-name"}
    assert owned(lines, [["system", "host"]]) == {}  # a prefix of a word is not a subtree


def test_delta_deletes_what_is_gone_then_sets_what_is_new() -> None:
    current = {
        "a b": ["1"],  # gone
        "c": ["x", "y"],  # multi-valued: y goes, z comes
        "d": ["old"],  # single value changes
        "e": [],  # valueless leaf stays
    }
    desired = {"c": ["x", "z"], "d": ["new"], "e": [], "f": []}
    assert delta(current, desired, [["a"], ["c"], ["d"], ["e"], ["f"]]) == [
        {"op": "delete", "path": ["a"]},  # nothing desired under the owned root a: it goes whole
        {"op": "delete", "path": ["c", "y"]},
        {"op": "delete", "path": ["d", "old"]},
        {"op": "set", "path": ["c", "z"]},
        {"op": "set", "path": ["d", "new"]},
        {"op": "set", "path": ["f"]},
    ]
    assert delta(desired, desired, [["c"]]) == []


def test_a_removed_subtree_goes_whole_but_never_above_its_owned_root() -> None:
    current = {
        "interfaces vxlan vxlan10010 vni": ["10010"],
        "interfaces vxlan vxlan10040 vni": ["10040"],
        "interfaces vxlan vxlan10040 parameters nolearning": [],
        "interfaces ethernet eth0 vif 1040 description": ["tenant umbrella"],
    }
    desired = {"interfaces vxlan vxlan10010 vni": ["10010"]}
    owns = [["interfaces", "vxlan"], ["interfaces", "ethernet", "eth0", "vif"]]
    assert delta(current, desired, owns) == [
        {"op": "delete", "path": ["interfaces", "vxlan", "vxlan10040"]},
        {"op": "delete", "path": ["interfaces", "ethernet", "eth0", "vif"]},
    ]


def test_a_marker_where_the_renderer_put_no_secret_is_refused() -> None:
    """User text that spells a marker (the model refuses it; this is the provider's own guard)
    never receives a secret: the whole apply is refused before anything is sent."""
    secrets = {"vyos-api-key": "THE-API-KEY", "wireguard-private-key": "SECRETKEY="}
    paths = {"interfaces wireguard wg0 private-key": "wireguard-private-key"}
    hostile = [
        {"op": "set", "path": ["firewall", "ipv4", "name", "t", "rule", "10", "description", "<secret:vyos-api-key>"]},
        {"op": "set", "path": ["interfaces", "wireguard", "wg0", "description", "x <secret:wireguard-private-key>"]},
        # The right marker at a path the renderer did not mark.
        {"op": "set", "path": ["interfaces", "wireguard", "wg0", "description", "<secret:wireguard-private-key>"]},
    ]
    for command in hostile:
        with pytest.raises(VyosError, match="holds secret marker text where fabric placed no secret"):
            fill_secrets([command], secrets, paths)


def test_secrets_are_filled_only_in_the_request_and_masked_on_read() -> None:
    secrets = {"wireguard-private-key": "SECRETKEY="}
    desired = {"interfaces wireguard wg0 private-key": ["<secret:wireguard-private-key>"]}
    paths = {"interfaces wireguard wg0 private-key": "wireguard-private-key"}
    commands = fill_secrets(delta({}, desired, [["interfaces"]]), secrets, paths)
    assert commands == [{"op": "set", "path": ["interfaces", "wireguard", "wg0", "private-key", "SECRETKEY="]}]
    actual = flatten(TREE)
    masked = mask_secrets(actual, desired, secrets)
    assert masked["interfaces wireguard wg0 private-key"] == ["<secret:wireguard-private-key>"]
    # A key changed by hand shows as a digest, never in plain text.
    drifted = mask_secrets({"interfaces wireguard wg0 private-key": ["HANDMADE="]}, desired, secrets)
    assert drifted["interfaces wireguard wg0 private-key"][0].startswith("<redacted sha256:")
    assert "HANDMADE" not in str(drifted)


PEER_KEY = "KVjp0Yx3b5R0a0+f8hsNNYn2yYl3fSxqdpk0L/3x7Hc="
LATE_CONFIG = {
    "wireguard": "set interfaces wireguard wg0 peer dc1-r2 public-key '<public-key:dc1-r2>'\n",
    "firewall": (
        "set firewall group address-group MESH address '5.254.54.3'\n"
        "set firewall group address-group MESH address '<endpoint:aws-n1>'\n"
        "set firewall group address-group MESH address '<endpoint:gcp-n1>'\n"
    ),
}
LATE = {"public-key": {"dc1-r2": PEER_KEY}, "endpoint": {"aws-n1": "203.0.113.10", "gcp-n1": "203.0.113.30"}}
LATE_PATHS = {
    "interfaces wireguard wg0 peer dc1-r2 public-key": [["public-key", "dc1-r2"]],
    "firewall group address-group MESH address": [["endpoint", "aws-n1"], ["endpoint", "gcp-n1"]],
}


def test_values_known_after_up_are_filled_in_exactly_where_the_renderer_put_them() -> None:
    """A peer's key and cloud addresses reach the lines from the ``late`` input, at the paths
    ``late_paths`` lists (several on one multi-valued leaf); the lines read as the router's."""
    props = {"config": LATE_CONFIG, "late": LATE, "late_paths": LATE_PATHS}
    lines = wanted_lines(props)
    assert [text for _, _, text in lines["wireguard"]] == [
        f"set interfaces wireguard wg0 peer dc1-r2 public-key '{PEER_KEY}'"
    ]
    assert [value for _, value, _ in lines["firewall"]] == ["5.254.54.3", "203.0.113.10", "203.0.113.30"]


def test_a_late_marker_where_the_renderer_put_none_is_refused() -> None:
    """Marker text of a key or address anywhere the renderer did not place it, or a slot
    without its value, refuses the apply: no user text can pull a value in."""

    def wanted(text: str, late: object = LATE) -> object:
        return wanted_lines({"config": {"s": text}, "late": late, "late_paths": LATE_PATHS})

    with pytest.raises(VyosError, match="fabric placed no public-key at this path"):
        wanted("set interfaces wireguard wg0 description '<public-key:dc1-r2>'\n")
    with pytest.raises(VyosError, match="fabric placed no endpoint at this path"):
        wanted("set interfaces wireguard wg0 peer dc1-r2 public-key '<endpoint:aws-n1>'\n")
    with pytest.raises(VyosError, match="holds marker text where fabric placed no value"):
        wanted("set interfaces wireguard wg0 description 'key <public-key:dc1-r2>'\n")
    with pytest.raises(VyosError, match="holds marker text where fabric placed no value"):
        wanted("set firewall group address-group '<endpoint:aws-n1>' address '1.2.3.4'\n")
    with pytest.raises(VyosError, match="the public-key of 'dc1-r2', which the resource was not given"):
        wanted("set interfaces wireguard wg0 peer dc1-r2 public-key '<public-key:dc1-r2>'\n", late={})


def test_diff_compares_lines_with_their_values_known_after_up_in() -> None:
    """State written before markers (the key in the text) and the same key as a marker and a
    value ask the same of the router; a rotated key, or one still unknown in a preview, differ."""
    base = {"router": "r1", "endpoint": "https://10.0.0.1:443", "owns": {}, "secrets": {}, "tls": {}}
    earlier = {
        **base,
        "config": {
            "wireguard": f"set interfaces wireguard wg0 peer dc1-r2 public-key '{PEER_KEY}'\n",
            "firewall": LATE_CONFIG["firewall"]
            .replace("<endpoint:aws-n1>", "203.0.113.10")
            .replace("<endpoint:gcp-n1>", "203.0.113.30"),
        },
    }
    now = {**base, "config": LATE_CONFIG, "late": LATE, "late_paths": LATE_PATHS}
    diff = VyosConfigProvider().diff
    assert diff("id", earlier, now).changes is False
    assert diff("id", now, now).changes is False
    rotated = {**now, "late": {**LATE, "public-key": {"dc1-r2": "B" * 43 + "="}}}
    assert diff("id", now, rotated).changes
    unknown = {**now, "late": {**LATE, "public-key": {"dc1-r2": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"}}}
    assert diff("id", now, unknown).changes


def test_fingerprints_are_normalized() -> None:
    hexa = "ab" * 32
    assert normalize_fingerprint("SHA256:" + ":".join(["AB"] * 32)) == hexa
    assert normalize_fingerprint(hexa) == hexa


def test_diff_is_from_data_and_only_another_router_is_a_replace() -> None:
    base = {
        "router": "r1",
        "endpoint": "https://10.0.0.1:443",
        "config": {"system": "set system host-name 'r1'\n"},
        "owns": {"system": [["system", "host-name"]]},
        "secrets": {},
        "tls": {},
    }
    diff = VyosConfigProvider().diff
    assert diff("id", base, base).changes is False
    changed = diff("id", base, {**base, "config": {"system": "set system host-name 'r2'\n"}})
    assert changed.changes and changed.replaces == []
    renamed = diff("id", base, {**base, "router": "edge"})
    assert renamed.changes and renamed.replaces == []
    moved = diff("id", base, {**base, "endpoint": "https://10.0.0.9:443"})
    assert moved.changes and moved.replaces == ["endpoint"] and moved.delete_before_replace
    assert diff("id", base, {**base, "endpoint": "https://10.0.0.1:8443"}).replaces == []  # same router, other port
    assert diff("id", base, {**base, "owns": {"system": [["system"]]}}).changes
    # Config not known yet (a preview before a new key exists) is a change.
    assert diff("id", base, {**base, "config": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"}).changes
    # State of an earlier version: the same lines and subtrees in the old form are no change.
    earlier = {**base, "config": {"system host-name": ["r1"]}, "owns": [["system", "host-name"]]}
    assert diff("id", earlier, base).changes is False
    assert diff("id", earlier, {**base, "config": {"system": "set system host-name 'r2'\n"}}).changes


def test_set_lines_are_read_as_set_line_writes_them() -> None:
    text = (
        "set system host-name 'r1'\n"
        "set interfaces vxlan vxlan10010 parameters nolearning\n"
        "\n"
        "set firewall ipv4 name E rule 30 description 'other tenants'\\''s \"cloud\"'\n"
        "set system login banner pre-login 'two\nlines'\n"
        "set system domain-search ''\n"
        "set a 'tag value' leaf\n"
        "set b 'back\\slash'"
    )
    assert parse_lines(text) == [
        ("system host-name", "r1", "set system host-name 'r1'"),
        (
            "interfaces vxlan vxlan10010 parameters nolearning",
            None,
            "set interfaces vxlan vxlan10010 parameters nolearning",
        ),
        ("firewall ipv4 name E rule 30 description", 'other tenants\'s "cloud"', text.split("\n")[3]),
        ("system login banner pre-login", "two\nlines", "set system login banner pre-login 'two\nlines'"),
        ("system domain-search", "", "set system domain-search ''"),
        ("a tag value leaf", None, "set a 'tag value' leaf"),
        ("b", "back\\slash", "set b 'back\\slash'"),
    ]
    with pytest.raises(VyosError, match=r"'delete system host-name' is not a `set` line"):
        parse_lines("delete system host-name")
    with pytest.raises(VyosError, match=r"unterminated quote"):
        parse_lines("set system host-name 'r1")


def test_every_rendered_line_reads_back_as_its_command() -> None:
    """The provider's reading of ``set_line`` agrees with the renderer, line by line, on every
    example router and with 200 tenants; and it writes a router's own lines the same way."""
    routers = []
    for stack, tenants in (("dc1", None), ("dc2", None), ("dc1", 200)):
        raw = stackfile.raw_config(ROOT, stack)
        if tenants:
            with_tenants(raw, [{"name": f"t{i}", "id": i} for i in range(1, tenants + 1)])
        inv = loader.load(raw)
        routers += render_routers(topology.build(inv))
    for rendered in routers:
        text = sections_text(rendered)
        assert len(text) == 13  # one value per section, however many lines
        assert desired_config(text) == rendered.config()
        for c in rendered.commands():
            value = c.value.marker if isinstance(c.value, Deferred) else c.value
            assert line_text(" ".join(c.path), value) == set_line(c)
    assert len(routers[-1].commands()) > 14_000
    odd = [Command(("a", "b"), 'it\'s "odd"\nand long'), Command(("c",), ""), Command(("d", "e"))]
    assert desired_config({"s": "".join(set_line(c) + "\n" for c in odd)}) == {
        "a b": ['it\'s "odd"\nand long'],
        "c": [""],
        "d e": [],
    }


def test_configs_are_the_same_when_they_ask_the_same_of_the_router() -> None:
    new = {
        "system": "set system host-name 'r1'\nset system name-server '10.0.0.1'\nset system name-server '10.0.0.2'\n"
    }
    earlier = {"system host-name": ["r1"], "system name-server": ["10.0.0.1", "10.0.0.2"]}
    assert same_config(new, new) and same_config(earlier, new) and same_config(new, earlier)
    reordered = {
        "system": "set system name-server '10.0.0.2'\nset system name-server '10.0.0.1'\nset system host-name 'r1'"
    }
    assert same_config(new, reordered)  # the router keeps its own order of a leaf's values
    assert not same_config(earlier, {"system": "set system host-name 'r1'\n"})
    assert not same_config(new, None) and not same_config(new, "04da6b54-80e4-46f7-96ec-b56ff0331ba9")
    assert same_roots([["a", "b"], ["c"]], {"x": [["c"]], "y": [["a", "b"]]})
    assert not same_roots([["a", "b"]], {"x": [["a"]]})


def test_what_the_router_holds_is_written_back_per_section() -> None:
    desired = {
        "system": "set system host-name 'r1'\n",
        "vxlan": "set interfaces vxlan vxlan1 vni '1'\nset interfaces vxlan vxlan1 parameters nolearning\n",
    }
    owns = {"system": [["system", "host-name"]], "vxlan": [["interfaces", "vxlan"]], "nat": [["nat", "source"]]}
    actual = {
        "system host-name": ["r1"],
        "interfaces vxlan vxlan1 vni": ["1"],
        "interfaces vxlan vxlan2 description": ["by hand"],
        "nat source rule 5 outbound-interface name": ["eth0"],
    }
    assert router_text(actual, config_lines(desired), owns) == {
        "system": "set system host-name 'r1'\n",
        "vxlan": "set interfaces vxlan vxlan1 vni '1'\nset interfaces vxlan vxlan2 description 'by hand'\n",
        "nat": "set nat source rule 5 outbound-interface name 'eth0'\n",
    }
    # State of an earlier version has one list of subtrees: everything is one section.
    earlier = router_text(actual, config_lines({"system host-name": ["r1"]}), [["system"], ["interfaces"]])
    assert earlier == {
        "config": "set system host-name 'r1'\nset interfaces vxlan vxlan1 vni '1'\n"
        "set interfaces vxlan vxlan2 description 'by hand'\n"
    }
