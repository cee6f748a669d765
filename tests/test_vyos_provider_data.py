"""The VyOS provider's data handling: device trees to lines, deltas, secrets. No device needed."""

from __future__ import annotations

from providers.vyos import delta, fill_secrets, flatten, mask_secrets, normalize_fingerprint, owned

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


def test_secrets_are_filled_only_in_the_request_and_masked_on_read() -> None:
    secrets = {"wireguard-private-key": "SECRETKEY="}
    desired = {"interfaces wireguard wg0 private-key": ["<secret:wireguard-private-key>"]}
    commands = fill_secrets(delta({}, desired, [["interfaces"]]), secrets)
    assert commands == [{"op": "set", "path": ["interfaces", "wireguard", "wg0", "private-key", "SECRETKEY="]}]
    actual = flatten(TREE)
    masked = mask_secrets(actual, desired, secrets)
    assert masked["interfaces wireguard wg0 private-key"] == ["<secret:wireguard-private-key>"]
    # A key changed by hand shows as a digest, never in plain text.
    drifted = mask_secrets({"interfaces wireguard wg0 private-key": ["HANDMADE="]}, desired, secrets)
    assert drifted["interfaces wireguard wg0 private-key"][0].startswith("<redacted sha256:")
    assert "HANDMADE" not in str(drifted)


def test_fingerprints_are_normalized() -> None:
    hexa = "ab" * 32
    assert normalize_fingerprint("SHA256:" + ":".join(["AB"] * 32)) == hexa
    assert normalize_fingerprint(hexa) == hexa


def test_diff_is_from_data_and_only_another_router_is_a_replace() -> None:
    from providers.vyos import VyosConfigProvider

    base = {"router": "r1", "endpoint": "https://10.0.0.1:443", "config": {"a": ["1"]}, "secrets": {}, "tls": {}}
    diff = VyosConfigProvider().diff
    assert diff("id", base, base).changes is False
    changed = diff("id", base, {**base, "config": {"a": ["2"]}})
    assert changed.changes and changed.replaces == []
    renamed = diff("id", base, {**base, "router": "edge"})
    assert renamed.changes and renamed.replaces == []
    moved = diff("id", base, {**base, "endpoint": "https://10.0.0.9:443"})
    assert moved.changes and moved.replaces == ["endpoint"] and moved.delete_before_replace
    assert diff("id", base, {**base, "endpoint": "https://10.0.0.1:8443"}).replaces == []  # same router, other port
