"""Tests of the offline VyOS command validator (fabric/vyos_schema.py).

The expectations come from VyOS itself: the bundled trees of vyos-1x's XML interface
definitions, and the validator sources (vyos-1x src/validators, vyos-utils, ipaddrcheck).
"""

from __future__ import annotations

import ast
import gzip
import hashlib
import ipaddress
import json
import re
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fabric import vyos_schema
from fabric.vyos_schema import SUPPORTED_VERSIONS, Violation, VyosSchema

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "fabric" / "data" / "vyos"

#: A WireGuard key as `wg genkey` prints it: 32 bytes, 44 base64 characters.
KEY = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk="

#: SHA-256 of the decompressed bundled trees (also listed in fabric/data/vyos/README.md).
TREE_SHA256 = {
    "config-tree.json.gz": "479d7e0c2f41711bc4708e4d13b4a6ae321881ca287a51b5df5b7340ec2a32da",
    "config-tree-1.4.json.gz": "176714a9dbb2c5551202d626ce16fab3a619d0f819e845d5d7172c3a4908e1ef",
}


def cmd(text: str) -> tuple[str, ...]:
    return tuple(text.split(" "))


@pytest.fixture(params=SUPPORTED_VERSIONS)
def schema(request: pytest.FixtureRequest) -> VyosSchema:
    return VyosSchema.load(request.param)


def validator(name: str, argument: str = "") -> Callable[[str], str | None]:
    check = vyos_schema._validator_check(name, argument)
    assert check is not None, f"{name} should be checked offline"
    return check


# ---- loading and packaging -----------------------------------------------------------


def test_load_is_cached_per_version() -> None:
    assert VyosSchema.load("1.5") is VyosSchema.load("1.5")
    assert VyosSchema.load("1.4") is not VyosSchema.load("1.5")
    assert VyosSchema.load("1.5").version == "1.5"
    assert VyosSchema.load("1.4").version == "1.4"
    assert SUPPORTED_VERSIONS == ("1.5", "1.4")


def test_unknown_version_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"'1\.3'.*1\.5, 1\.4"):
        VyosSchema.load("1.3")


@pytest.mark.parametrize(
    ("file_name", "ref"), [("config-tree.json.gz", "current"), ("config-tree-1.4.json.gz", "sagitta")]
)
def test_bundled_trees_are_the_generated_json(file_name: str, ref: str) -> None:
    raw = gzip.decompress((DATA / file_name).read_bytes())
    assert hashlib.sha256(raw).hexdigest() == TREE_SHA256[file_name]
    document = json.loads(raw)
    assert document["format"] == "vyos-config-tree/1"
    assert document["source"]["repository"] == "vyos/vyos-1x"
    assert document["source"]["ref"] == ref
    readme = (DATA / "README.md").read_text()
    assert document["source"]["commit"] in readme
    assert TREE_SHA256[file_name] in readme


def test_every_validator_in_the_trees_is_known() -> None:
    """A name we do not know would silently be unchecked; make that a test failure."""
    for file_name in TREE_SHA256:
        document = json.loads(gzip.decompress((DATA / file_name).read_bytes()))
        used = set(document["stats"]["validators_used"])
        entries: set[tuple[str, ...]] = set()
        stack = list(document["tree"].values())
        while stack:
            node = stack.pop()
            stack.extend(node.get("c", {}).values())
            entries.update(tuple(v) for v in node.get("val", ()))
            for group in node.get("grp", ()):
                entries.update(tuple(v) for v in group.get("val", ()))
        assert {e[0] for e in entries} == used
        for entry in entries:
            base = entry[0].split()[0]
            assert base in vyos_schema._VALIDATORS, entry
            checked = vyos_schema._validator(entry) is not None
            router_bound = base in vyos_schema._UNCHECKED_VALIDATORS
            assert checked == (not router_bound or "/sys/class/net" in entry[0]), entry


def test_module_is_pure() -> None:
    """Part of the pure core: stdlib and fabric's release table only, no pulumi, no network clients."""
    source = (ROOT / "fabric" / "vyos_schema.py").read_text()
    imported: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    # Of fabric, only the release table (which versions exist and their bundled trees).
    assert "from fabric.vyos_releases import" in source and source.count("from fabric") == 1
    allowed = {
        "fabric",
        "__future__",
        "base64",
        "binascii",
        "collections",
        "dataclasses",
        "difflib",
        "functools",
        "gzip",
        "ipaddress",
        "json",
        "pathlib",
        "re",
        "typing",
    }
    assert imported <= allowed, imported - allowed
    assert "/work/shared" not in source


def test_every_constraint_compiles_and_runs(schema: VyosSchema) -> None:
    """All regexes (POSIX classes included) translate to Python without warnings, and no
    validator raises on odd input."""
    seen = 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stack = list(schema._root.values())
        while stack:
            node = stack.pop()
            stack.extend(node.children.values())
            constraint = node.constraint()
            if constraint is None:
                continue
            seen += 1
            for value in ("", "x", "0", "!", "1-2", "é", "a b", "::", "1.2.3.4/33"):
                result = constraint(value)
                assert result is None or isinstance(result, str)
    assert seen > 4000


# ---- single commands ------------------------------------------------------------------

VALID_IN_BOTH = [
    f"interfaces wireguard wg0 private-key {KEY}",
    "interfaces wireguard wg0 address 172.27.0.1/24",
    "interfaces wireguard wg0 port 51820",
    f"interfaces wireguard wg0 peer dc2-r1 public-key {KEY}",
    "interfaces wireguard wg0 peer dc2-r1 allowed-ips 172.27.2.1/32",
    "interfaces wireguard wg0 peer dc2-r1 allowed-ips 10.20.0.0/16",
    "interfaces wireguard wg0 peer dc2-r1 address 203.0.113.7",
    "interfaces wireguard wg0 peer dc2-r1 port 51820",
    "interfaces wireguard wg0 peer dc2-r1 persistent-keepalive 25",
    "protocols bgp system-as 65000",
    "protocols bgp neighbor 172.27.1.2 remote-as internal",
    "protocols bgp neighbor 172.27.1.2 remote-as 4200000001",
    "protocols bgp address-family l2vpn-evpn advertise-all-vni",
    "protocols bgp parameters router-id 172.27.0.1",
    "vrf name tenant-acme vni 200007",
    "vrf name tenant-acme table 1007",
    "vrf name tenant-acme protocols bgp system-as 65000",
    "vrf name tenant-acme protocols bgp address-family l2vpn-evpn rd 172.27.0.1:7",
    "vrf name tenant-acme protocols bgp address-family l2vpn-evpn route-target import 65000:200007",
    "vrf name tenant-acme protocols bgp address-family l2vpn-evpn route-target export 65000:200007",
    "vrf name tenant-acme protocols bgp address-family l2vpn-evpn advertise ipv4 unicast",
    "interfaces vxlan vxlan200007 vni 200007",
    "interfaces vxlan vxlan200007 source-address 172.27.0.1",
    "interfaces vxlan vxlan200007 parameters nolearning",
    "interfaces vxlan vxlan200007 mtu 1450",
    "interfaces vxlan vxlan1 group 239.0.0.1",
    "high-availability vrrp group x address 100.65.7.1/24",
    "high-availability vrrp group x address 100.65.7.1",
    "high-availability vrrp group x vrid 7",
    "high-availability vrrp group x interface eth1",
    "service https api keys id fabric key secret",
    "interfaces ethernet eth1 vif 100 address 10.0.0.1/24",
    "interfaces ethernet eth0 address dhcp",
    "interfaces ethernet eth0 ipv6 address eui64 2001:db8:1::/64",
    "interfaces ethernet eth0 mac 00:53:00:ab:cd:ef",
    "protocols static route 0.0.0.0/0 next-hop 203.0.113.1",
    "firewall ipv4 name WAN rule 10 action accept",
    "firewall ipv4 name WAN rule 10 destination port 22,80-443,https",
    "firewall ipv4 name WAN rule 10 protocol tcp_udp",
    "firewall ipv4 name WAN rule 10 source address !10.0.0.0/8",
    "firewall ipv4 name WAN rule 10 source address 10.0.0.1-10.0.0.9",
    "firewall ipv4 name WAN rule 10 mark !100-200",
    "policy route-map RM rule 10 action permit",
    "policy route-map RM rule 10 set large-community add 65000:1:2",
    "system host-name dc1-r1",
    "service ntp server time.example.net",
    # a command may stop at a plain node or at a tag value
    "service https",
    "interfaces wireguard wg0",
    "protocols bgp neighbor 172.27.1.2 address-family l2vpn-evpn",
]


@pytest.mark.parametrize("text", VALID_IN_BOTH)
def test_valid_commands(schema: VyosSchema, text: str) -> None:
    assert schema.check(cmd(text)) is None


def test_values_with_spaces_are_one_token(schema: VyosSchema) -> None:
    assert schema.check(("policy", "route-map", "RM", "rule", "10", "set", "as-path", "prepend", "65000 65001")) is None
    assert schema.check(("interfaces", "ethernet", "eth0", "description", "uplink to dc2")) is None


SEED_MISTAKES = [
    (
        "protocols bgp neighbor 172.27.1.2 address-family l2vpn-evpn activate",
        (
            "protocols bgp neighbor 172.27.1.2 address-family l2vpn-evpn: no 'activate' here; "
            "expected one of: allowas-in, attribute-unchanged, nexthop-self, route-map,"
        ),
    ),
    (
        "protocols bgp l2vpn-evpn advertise-all-vni",
        (
            "protocols bgp: no 'l2vpn-evpn' here (did you mean 'address-family l2vpn-evpn'?); "
            "expected one of: address-family, bmp, interface, listen, neighbor,"
        ),
    ),
    (
        "high-availability vrrp group G virtual-address 1.2.3.4",
        "high-availability vrrp group G: no 'virtual-address' here (did you mean",
    ),
]


@pytest.mark.parametrize(("text", "message"), SEED_MISTAKES)
def test_seed_mistakes_are_rejected_with_the_path(schema: VyosSchema, text: str, message: str) -> None:
    problem = schema.check(cmd(text))
    assert problem is not None
    assert problem.startswith(message)
    if "vrrp" in text:
        assert "'address'" in problem.split("expected one of")[0]


BAD_VALUES = [
    (
        "interfaces wireguard wg0 port 70000",
        ("interfaces wireguard wg0 port: value '70000' is invalid: Port number must be in range 1 to 65535"),
    ),
    (
        "interfaces wireguard wg0 peer p allowed-ips 172.27.2.300/32",
        "interfaces wireguard wg0 peer p allowed-ips: value '172.27.2.300/32' is invalid",
    ),
    (
        "interfaces wireguard wg0 peer p allowed-ips 172.27.2.1/24",
        "has host bits set; the prefix is 172.27.2.0/24",
    ),
    ("protocols static route 10.1.2.3/8 next-hop 192.0.2.1", "'10.1.2.3/8' has host bits set"),
    ("protocols static route 10.0.0.0/33 next-hop 192.0.2.1", "protocols static route: tag value"),
    ("interfaces wireguard wg0 private-key not-base64!", "Key is not base64-encoded"),
    (f"interfaces wireguard wg0 private-key {KEY[:-1]}", "Key is not base64-encoded"),
    ("vrf name eth0 table 1007", "vrf name: tag value 'eth0' is invalid: VRF instance name must"),
    ("vrf name default table 1007", "VRF name 'default' is reserved"),
    ("vrf name tenant-acme table 99", "VRF routing table must be in range from 100 to 65535"),
    ("vrf name tenant-acme vni 16777215", "Number is not in any of allowed ranges"),
    ("interfaces wireguard wgX", "WireGuard interface must be named wgN"),
    ("high-availability vrrp group x address 100.65.7.0/24", "is a network address"),
    ("interfaces ethernet eth0 address 10.0.0.0/24", "is a network address"),
    ("interfaces ethernet eth0 mac 00:53:00:ab:cd", "is not a MAC address"),
    ("interfaces vxlan vxlan1 group 10.0.0.1", "Multicast IPv4/IPv6 address required"),
    ("protocols bgp system-as 0", "Number is not in any of allowed ranges"),
    ("protocols bgp system-as 65000.5", "is not a valid integer number"),
    ("firewall ipv4 name WAN rule 10 destination port 22,ssh2", "'ssh2' is not a valid service"),
    ("firewall ipv4 name WAN rule 10 protocol tcp-foo", "is not an IP protocol name"),
    ("firewall ipv4 name WAN rule 10 source address 10.0.0.9-10.0.0.1", "first address is greater"),
    (
        "vrf name t protocols bgp address-family l2vpn-evpn rd 70000:70000",
        "is not a valid route distinguisher",
    ),
]


@pytest.mark.parametrize(("text", "message"), BAD_VALUES)
def test_bad_values_are_rejected(schema: VyosSchema, text: str, message: str) -> None:
    problem = schema.check(cmd(text))
    assert problem is not None
    assert message in problem


STRUCTURE_ERRORS = [
    ("interfaces wireguard", "interfaces wireguard: missing the tag value after 'wireguard'"),
    ("interfaces wireguard wg0 port", "interfaces wireguard wg0 port: missing value"),
    (
        "protocols bgp address-family l2vpn-evpn advertise-all-vni yes",
        "protocols bgp address-family l2vpn-evpn advertise-all-vni: takes no value, got 'yes'",
    ),
    (
        "interfaces wireguard wg0 port 51820 51821",
        "interfaces wireguard wg0 port 51820: unexpected '51821' after the value",
    ),
    ("set interfaces wireguard wg0", "(top level): no 'set' here (pass the path without"),
    ("bogus", "(top level): no 'bogus' here; expected one of: container, firewall,"),
    ("service https api keys id k key secret extra", "unexpected 'extra' after the value"),
]


@pytest.mark.parametrize(("text", "message"), STRUCTURE_ERRORS)
def test_structural_errors(schema: VyosSchema, text: str, message: str) -> None:
    problem = schema.check(cmd(text))
    assert problem is not None
    assert problem.startswith(message) or message in problem


def test_empty_command_is_rejected(schema: VyosSchema) -> None:
    assert schema.check(()) == "empty command"


def test_long_child_lists_are_elided(schema: VyosSchema) -> None:
    problem = schema.check(cmd("interfaces ethernet eth0 bogus"))
    assert problem is not None
    assert re.search(r"\.\.\. \(\d+ more\)$", problem)


def test_https_rest_api_only_exists_in_1_5() -> None:
    """Rolling releases (late 2024) must enable the REST API explicitly; 1.4 has no node."""
    assert VyosSchema.load("1.5").check(cmd("service https api rest")) is None
    problem = VyosSchema.load("1.4").check(cmd("service https api rest"))
    assert problem is not None
    assert problem.startswith("service https api: no 'rest' here; expected one of:")


def test_1_4_only_paths_are_rejected_by_1_5() -> None:
    """The other direction: 1.5 moved dhcpv6 prefix-delegation ranges away from `start`."""
    text = (
        "service dhcpv6-server shared-network-name N subnet 2001:db8::/64 "
        "prefix-delegation start 2001:db8:1:: stop 2001:db8:1:ff::"
    )
    assert VyosSchema.load("1.4").check(cmd(text)) is None
    assert VyosSchema.load("1.5").check(cmd(text)) is not None


def test_group_constraints_need_every_check() -> None:
    """1.4's prefix-delegation start takes a `grp`: the regex AND ipv6-address."""
    schema = VyosSchema.load("1.4")
    base = "service dhcpv6-server shared-network-name N subnet 2001:db8::/64 prefix-delegation start"
    assert schema.check(cmd(f"{base} 2001:db8:1::")) is None
    # a valid IPv6 address, but not of the form the regex demands (ending in '::')
    assert schema.check(cmd(f"{base} 2001:db8:1::1")) is not None


def test_unchecked_validators_accept() -> None:
    """Validators that need the router cannot prove a value wrong, so they accept."""
    schema = VyosSchema.load("1.5")
    assert schema.check(cmd("system time-zone Not/AZone")) is None
    assert schema.check(cmd("system sysctl parameter any.key.at.all value 1")) is None
    assert schema.check(cmd("high-availability vrrp group g health-check script /x/y")) is None
    # interfaces looked up in /sys/class/net: any possible interface name passes ...
    assert schema.check(cmd("interfaces bonding bond0 member interface enp1s0f0")) is None
    # ... one that no kernel could name does not
    problem = schema.check(cmd("interfaces bonding bond0 member interface a-very-long-ifname0"))
    assert problem is not None
    assert "cannot be a network interface name" in problem


def test_regexes_match_bytes_like_pcre() -> None:
    """PCRE on the router sees UTF-8 bytes: 'é' is two characters for '.{1,8}'."""
    check = vyos_schema._regex_check(".{1,8}")
    assert check("éééé") is None
    assert check("ééééé") is not None
    ascii_only = vyos_schema._regex_check("[[:ascii:]]{1,64}")
    assert ascii_only("plain text") is None
    assert ascii_only("naïve") is not None


def test_top_level_alternation_is_anchored_like_the_router() -> None:
    """`^a|b$` anchors each end separately, exactly as VyOS concatenates it."""
    check = vyos_schema._regex_check("local-as|no-export")
    assert check("local-as") is None
    assert check("local-as-and-more") is None  # '^local-as' matches a prefix
    assert check("prefix-no-export") is None  # 'no-export$' matches a suffix
    assert check("internet") is not None


@pytest.mark.parametrize(
    ("pattern", "translated"),
    [
        ("[[:alnum:]][-_[:alnum:]]*", "[a-zA-Z0-9][-_a-zA-Z0-9]*"),
        ("[^[:space:]]{1,16}", r"[^ \t\n\r\f\v]{1,16}"),
        ("[[:alnum:]-_!@*#]{1,100}", r"[a-zA-Z0-9\-_!@*#]{1,100}"),
        ("[-_a-zA-Z0-9|@]+", r"[-_a-zA-Z0-9\|@]+"),
        (r"\d+(s|m)", r"\d+(s|m)"),
    ],
)
def test_posix_classes_are_translated(pattern: str, translated: str) -> None:
    assert vyos_schema._translate_regex(pattern) == translated


def test_snmp_community_regex_uses_posix_classes(schema: VyosSchema) -> None:
    assert schema.check(cmd("service snmp community pub-lic_1!")) is None
    problem = schema.check(cmd("service snmp community bad%char"))
    assert problem is not None
    assert "Community string is limited" in problem


# ---- command sets -----------------------------------------------------------------------


def test_check_all_reports_each_bad_command(schema: VyosSchema) -> None:
    commands = [
        cmd("protocols bgp system-as 65000"),
        cmd("interfaces wireguard wg0 port 0"),
        cmd("protocols bgp l2vpn-evpn advertise-all-vni"),
    ]
    violations = schema.check_all(commands)
    assert [v.command for v in violations] == [commands[1], commands[2]]
    assert all(isinstance(v, Violation) and v.message for v in violations)


def test_missing_vrf_reference_is_reported(schema: VyosSchema) -> None:
    commands = [cmd("interfaces vxlan vxlan100 vni 100"), cmd("interfaces vxlan vxlan100 vrf RED")]
    assert schema.check_all(commands) == [
        Violation(
            cmd("interfaces vxlan vxlan100 vrf RED"),
            "interfaces vxlan vxlan100 vrf: 'RED' refers to 'vrf name RED', which no command in this set creates",
        )
    ]
    assert schema.check_all([*commands, cmd("vrf name RED table 100")]) == []


def test_references_accept_literal_forms(schema: VyosSchema) -> None:
    """Completion values, defaults and regex forms (an interface where an interface or a
    VRF may go) are not references."""
    commands = [
        cmd("service ssh vrf default"),
        cmd("nat source rule 10 outbound-interface name eth0"),
        cmd("nat source rule 20 outbound-interface name RED"),
    ]
    violations = schema.check_all(commands)
    assert [v.command for v in violations] == [commands[2]]
    assert "'vrf name RED'" in violations[0].message


def test_relative_peer_group_references(schema: VyosSchema) -> None:
    """`${COMP_WORDS...} peer-group` means the enclosing BGP instance's peer groups."""
    assert schema.check_all([cmd("protocols bgp neighbor 192.0.2.1 peer-group PG")]) != []
    assert (
        schema.check_all(
            [
                cmd("protocols bgp peer-group PG remote-as external"),
                cmd("protocols bgp neighbor 192.0.2.1 peer-group PG"),
                cmd("protocols bgp listen range 192.0.2.0/24 peer-group PG"),
            ]
        )
        == []
    )
    violations = schema.check_all(
        [
            cmd("protocols bgp peer-group PG remote-as external"),
            cmd("vrf name RED table 100"),
            cmd("vrf name RED protocols bgp neighbor 192.0.2.1 peer-group PG"),
        ]
    )
    assert len(violations) == 1
    assert "'vrf name RED protocols bgp peer-group PG'" in violations[0].message


def test_route_map_reference(schema: VyosSchema) -> None:
    uses = cmd("protocols bgp neighbor 192.0.2.1 address-family ipv4-unicast route-map import RM")
    assert len(schema.check_all([uses])) == 1
    assert schema.check_all([cmd("policy route-map RM rule 10 action permit"), uses]) == []


def test_single_value_leaf_set_twice(schema: VyosSchema) -> None:
    violations = schema.check_all(
        [
            cmd("protocols bgp system-as 65000"),
            cmd("protocols bgp system-as 65000"),
            cmd("protocols bgp system-as 65001"),
            cmd("interfaces wireguard wg0 peer p allowed-ips 10.0.0.0/8"),
            cmd("interfaces wireguard wg0 peer p allowed-ips 10.1.0.0/16"),
        ]
    )
    assert violations == [
        Violation(
            cmd("protocols bgp system-as 65001"),
            "protocols bgp system-as: set to '65001' but already set to '65000'; it takes a single value",
        )
    ]


# ---- validators ---------------------------------------------------------------------------

VALIDATOR_CASES: list[tuple[str, str, list[str], list[str]]] = [
    (
        "numeric",
        "--range 1-65535",
        ["1", "65535", "51820"],
        ["0", "65536", "-1", "1.5", "1e3", "0x10", "", " 1", "1-2"],
    ),
    ("numeric", "--non-negative", ["0", "7"], ["-1", "x"]),
    ("numeric", "--positive", ["1"], ["0", "-3"]),
    ("numeric", "", ["-12", "0", "12"], ["1.0", "abc"]),
    ("numeric", "--range 0-0 --range 4-9000", ["0", "4", "9000"], ["1", "3", "9001"]),
    ("numeric", "--range 0.001-1000 --float", ["0.5", "1000", "1"], ["0", "1000.5", "x"]),
    ("numeric", "--allow-range --range 1-4094", ["10", "10-20"], ["0-20", "10-5000", "a-b"]),
    ("numeric", "--relative --", ["+5", "-5"], ["5", "+x"]),
    ("numeric-exclude", "--allow-range --range 0-2147483647", ["!5", "5", "!1-2"], ["!-5", "!x"]),
    ("ipv4-address", "", ["192.0.2.1", "0.0.0.0"], ["192.0.2.256", "01.2.3.4", "192.0.2.1/24", "::1", "1.2.3"]),
    ("ipv6-address", "", ["2001:db8::1", "::"], ["2001:db8::/32", "1::2::3", "fe80::1%eth0", "1.2.3.4"]),
    ("ip-address", "", ["192.0.2.1", "2001:db8::1"], ["192.0.2.1/32", "host"]),
    (
        "ipv4-prefix",
        "",
        ["10.0.0.0/8", "192.0.2.1/32", "0.0.0.0/0"],
        ["10.0.0.1/8", "10.0.0.0", "10.0.0.0/33", "2001:db8::/32"],
    ),
    ("ipv6-prefix", "", ["2001:db8::/32", "::/0"], ["2001:db8::1/32", "2001:db8::/129"]),
    ("ip-prefix", "", ["10.0.0.0/8", "2001:db8::/32"], ["10.0.0.1/8", "10.0.0.0"]),
    ("ipv4-host", "", ["10.0.0.1/24", "10.0.0.0/31", "10.0.0.5/32"], ["10.0.0.0/24", "10.0.0.1"]),
    ("ipv6-host", "", ["2001:db8::1/64", "2001:db8::/128"], ["2001:db8::/64", "10.0.0.1/24"]),
    ("ip-host", "", ["100.65.7.1/24", "2001:db8::1/64"], ["100.65.7.0/24", "100.65.7.1"]),
    ("ip-cidr", "", ["10.0.0.0/8", "10.0.0.1/8", "2001:db8::1/64"], ["10.0.0.1"]),
    ("ipv4", "", ["10.0.0.1", "10.0.0.0/8"], ["2001:db8::1", "10.0.0"]),
    ("ipv6", "", ["2001:db8::1", "2001:db8::/32"], ["10.0.0.1"]),
    ("ipv4-address-exclude", "", ["!192.0.2.1"], ["192.0.2.1", "!192.0.2.0/24"]),
    ("ipv4-prefix-exclude", "", ["!10.0.0.0/8"], ["10.0.0.0/8", "!10.0.0.1/8"]),
    ("ipv6-exclude", "", ["!2001:db8::1", "!2001:db8::/32"], ["2001:db8::1"]),
    (
        "ipv4-range",
        "",
        ["10.0.0.1-10.0.0.9", "10.0.0.1-10.0.0.1"],
        ["10.0.0.9-10.0.0.1", "10.0.0.1", "10.0.0.0/24-10.0.0.9", "10.0.0.1-2001:db8::1"],
    ),
    ("ipv6-range", "", ["2001:db8::1-2001:db8::9"], ["2001:db8::9-2001:db8::1"]),
    ("ipv4-range-exclude", "", ["!10.0.0.1-10.0.0.9"], ["10.0.0.1-10.0.0.9"]),
    ("ipv4-range-mask", "-m 24 -r", ["10.0.0.1-10.0.0.254"], ["10.0.0.1-10.0.1.1", "10.0.0.0/24"]),
    ("ipv4-multicast", "", ["239.0.0.1", "224.0.0.5"], ["10.0.0.1", "239.0.0.0/8"]),
    ("ipv6-multicast", "", ["ff02::1", "ff00::/8"], ["2001:db8::1"]),
    ("ipv6-link-local", "", ["fe80::1", "fe80::1/64", "fe80::1%eth0"], ["2001:db8::1", "x"]),
    ("ipv6-eui64-prefix", "", ["2001:db8:1::/64"], ["2001:db8:1::/48", "x/64", "2001:db8::"]),
    ("ipv6-srv6-segments", "", ["2001:db8::1/2001:db8::2"], ["2001:db8::1/10.0.0.1", "x"]),
    ("mac-address", "", ["00:53:00:AB:cd:ef"], ["00-53-00-ab-cd-ef", "00:53:00:ab:cd"]),
    ("mac-address-exclude", "", ["!00:53:00:ab:cd:ef"], ["00:53:00:ab:cd:ef"]),
    ("fqdn", "", ["example.net", "a", "host-1.example"], ["-example.net", ".x", ""]),
    ("base64", "", [KEY, "", "YQ=="], ["YQ", "not base64", KEY[:-1], "a\u00e9=="]),
    ("psk-secret", "", ["00112233445566778899aabbccddeeff"], ["0011", "zz" * 16]),
    (
        "vrf-name",
        "",
        ["tenant-acme", "red", "local-vrf", "default"],
        ["eth0", "lo", "br-red", "wg0", "1red", "tenant-acme-long-name", ""],
    ),
    (
        "bgp-rd-rt",
        "--route-distinguisher",
        ["65000:100", "172.27.0.1:7", "4200000001:7", "65000:4294967295"],
        ["65000", "70000:70000", "1.2.3.4:70000", "a:1", "65000:1:2", "4294967296:1"],
    ),
    ("bgp-rd-rt", "--route-target-multi", ["65000:1 65000:2"], ["65000:1 x"]),
    ("bgp-extended-community", "", ["65000:100", "192.0.2.1:100"], ["70000:1", "192.0.2.1:70000"]),
    ("bgp-regular-community", "", ["65000:100"], ["65536:1", "1:2:3"]),
    ("bgp-large-community", "", ["4200000001:1:2"], ["1:2", "4294967296:1:1"]),
    ("bgp-large-community-list", "", ["65000:*:.*", "192.0.2.1:1:2"], ["x:1:2", "1:2"]),
    ("as-number-list", "", ["65000", "65000 65001"], ["0", "", "65000 x", "4294967295"]),
    ("port-range", "", ["22", "1-1024", "65535"], ["0", "70000", "20-10", "ssh"]),
    ("port-range-exclude", "", ["!22", "!1-1024"], ["22"]),
    ("port-multi", "", ["22", "22,80-443,https", "ssh"], ["0", "22,", "bogus-service", "9-1"]),
    ("ip-protocol", "", ["tcp", "!udp", "tcp_udp", "0", "255", "ax.25"], ["256", "tcp-foo", "axx25"]),
    (
        "url",
        "--scheme http --scheme https",
        ["https://acme-v02.api.letsencrypt.org/directory", "http://[2001:db8::1]:8080/x", "HTTPS://user:pw@192.0.2.1"],
        ["ftp://example.net", "https://", "https://example.net:70000/", "https://1.2.3.999/", "example.net"],
    ),
    ("url --file-transport", "", ["tftp://192.0.2.1/file", "scp://host/x"], ["mailto://x"]),
]


@pytest.mark.parametrize(
    ("name", "argument", "good", "bad"),
    VALIDATOR_CASES,
    ids=[f"{c[0]} {c[1]}".strip() for c in VALIDATOR_CASES],
)
def test_validator(name: str, argument: str, good: list[str], bad: list[str]) -> None:
    check = validator(name, argument)
    for value in good:
        assert check(value) is None, f"{name} {argument} should accept {value!r}"
    for value in bad:
        problem = check(value)
        assert isinstance(problem, str) and problem, f"{name} {argument} should refuse {value!r}"


def test_unchecked_validators_are_the_router_bound_ones() -> None:
    for name in ("script", "sysctl", "timezone", "wireless-phy", "ddclient-protocol"):
        assert vyos_schema._validator_check(name) is None
        assert name in vyos_schema._UNCHECKED_VALIDATORS
    assert vyos_schema._validator_check("file-path", "--strict --parent-dir /config/auth") is None
    assert vyos_schema._validator_check("no-such-validator") is None


# ---- properties -------------------------------------------------------------------------


@given(st.ip_addresses(v=4), st.integers(min_value=0, max_value=32))
def test_ipv4_prefix_accepts_exactly_network_addresses(address: ipaddress.IPv4Address, length: int) -> None:
    check = validator("ipv4-prefix")
    network = ipaddress.IPv4Network(f"{address}/{length}", strict=False)
    assert check(str(network)) is None
    if network.network_address != address:
        assert check(f"{address}/{length}") is not None


@given(st.ip_addresses(v=6), st.integers(min_value=0, max_value=128))
def test_ipv6_prefix_accepts_exactly_network_addresses(address: ipaddress.IPv6Address, length: int) -> None:
    check = validator("ipv6-prefix")
    network = ipaddress.IPv6Network(f"{address}/{length}", strict=False)
    if "." in network.compressed:  # ipaddrcheck refuses embedded IPv4 notation
        return
    assert check(network.compressed) is None
    if network.network_address != address:
        assert check(f"{address.compressed}/{length}") is not None


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_numeric_range_matches_arithmetic(number: int) -> None:
    check = validator("numeric", "--range 1-65535")
    assert (check(str(number)) is None) == (1 <= number <= 65535)


@given(st.binary(min_size=0, max_size=64))
def test_base64_accepts_every_encoding(data: bytes) -> None:
    import base64

    assert validator("base64")(base64.b64encode(data).decode()) is None
