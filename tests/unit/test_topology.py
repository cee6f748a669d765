"""Topology rules: the mesh, route-reflector sessions, tenants per router, numbers by formula."""

from __future__ import annotations

from typing import Any

from netaddr import IPAddress, IPNetwork

from fabric import addressing as ap
from fabric import deferred, loader, topology
from tests.conftest import patch


def member(name: str, site: str, site_id: int, node: int, reflector: bool = False) -> topology.MeshMember:
    return topology.MeshMember(
        name=name,
        site=site,
        site_id=site_id,
        node_id=node,
        endpoint=f"198.51.100.{site_id * 10 + node}",
        port=51820,
        public_key=deferred.public_key(name).sample,
        mesh_address=f"172.27.{site_id}.{node}",
        roles=("route-reflector",) if reflector else (),
    )


def build(raw: dict[str, Any], remote: list[topology.MeshMember] | None = None) -> topology.Plan:
    inv = loader.load(raw)
    return topology.build(inv, remote or [])


REMOTE = [
    member("dc2-r1", "dc2", 2, 1, reflector=True),
    member("dc2-r2", "dc2", 2, 2),
    member("aws-n1", "aws", 3, 1),
]


def test_full_mesh_reaches_every_other_member(base_raw: dict[str, Any]) -> None:
    plan = build(base_raw, REMOTE)
    for r in plan.routers:
        assert {p.name for p in r.wireguard_peers} == {"r1", "r2", "hv1", "dc2-r1", "dc2-r2", "aws-n1"} - {r.name}
        for p in r.wireguard_peers:
            assert p.allowed_ips == (
                f"{next(m for m in (*plan.members, *REMOTE) if m.name == p.name).mesh_address}/32",
            )


def test_no_peer_pairs_are_left_out(base_raw: dict[str, Any]) -> None:
    plan = build(patch(base_raw, {"mesh": {"no_peer": [["r2", "aws-n1"]]}}), REMOTE)
    r2 = next(r for r in plan.routers if r.name == "r2")
    r1 = next(r for r in plan.routers if r.name == "r1")
    assert "aws-n1" not in {p.name for p in r2.wireguard_peers}
    assert "aws-n1" in {p.name for p in r1.wireguard_peers}


def test_route_reflector_sessions(base_raw: dict[str, Any]) -> None:
    plan = build(base_raw, REMOTE)
    r1 = next(r for r in plan.routers if r.name == "r1")  # reflector of dc1
    r2 = next(r for r in plan.routers if r.name == "r2")  # client in dc1
    # The reflector: its site's clients, clients of sites without a reflector (aws), other reflectors.
    assert {(n.name, n.client) for n in r1.bgp_neighbors} == {
        ("r2", True),
        ("hv1", True),
        ("aws-n1", True),
        ("dc2-r1", False),
    }
    # A client peers with its own site's reflectors only, never with another site's clients.
    assert {(n.name, n.client) for n in r2.bgp_neighbors} == {("r1", False)}
    # Sessions use mesh addresses, so they ride inside WireGuard.
    assert all(IPAddress(n.address) in IPNetwork("172.27.0.0/20") for n in r1.bgp_neighbors)


def test_tenants_only_on_gateway_routers_of_their_sites(base_raw: dict[str, Any]) -> None:
    raw = patch(
        base_raw,
        {
            "datacenter.routers[2]": {
                "name": "r3",
                "id": 3,
                "hypervisor": "hv1",
                "gateway": False,
                "public_address": "5.254.54.4",
            },
            "tenants[2]": {"name": "remote", "id": 30, "sites": ["dc2"]},
        },
    )
    plan = build(raw)
    carried = {r.name: [c.tenant.name for c in r.tenants] for r in plan.routers}
    assert carried == {"r1": ["acme", "globex"], "r2": ["acme", "globex"], "r3": []}


def test_tenant_numbers_follow_the_documented_formulas(base_raw: dict[str, Any]) -> None:
    plan = build(base_raw)
    acme = next(t for t in plan.tenants if t.name == "acme")
    assert (acme.vni, acme.l3_vni, acme.vrf_table, acme.route_target) == (
        10010,
        20010,
        1010,
        "65000:10",
    )
    assert (str(acme.network), str(acme.access), str(acme.services)) == (
        "100.65.10.0/24",
        "100.64.10.0/24",
        "100.80.10.0/24",
    )
    r1, r2 = plan.routers
    t1, t2 = r1.tenants[0], r2.tenants[0]
    c1, c2 = t1.first, t2.first
    assert (str(c1.vrrp_address), str(c1.address), str(c2.address)) == ("100.65.10.1", "100.65.10.17", "100.65.10.18")
    assert (c1.vrid, t1.priority, t2.priority) == (1, 199, 198)
    assert t1.route_distinguisher == "172.27.1.1:10"
    # DHCP: the upper half of the network, split between the pair.
    assert c1.dhcp is not None and c2.dhcp is not None
    assert (str(c1.dhcp[0]), str(c1.dhcp[1]), str(c2.dhcp[0]), str(c2.dhcp[1])) == (
        "100.65.10.128",
        "100.65.10.190",
        "100.65.10.191",
        "100.65.10.254",
    )


def test_overrides_win_over_formulas(base_raw: dict[str, Any]) -> None:
    plan = build(patch(base_raw, {"tenants[0].vni": 777, "tenants[0].vrf_table": 3000}))
    acme = next(t for t in plan.tenants if t.name == "acme")
    assert (acme.vni, acme.vrf_table, acme.l3_vni) == (777, 3000, 20010)


def test_mtu_plan() -> None:
    assert ap.mtu_plan(1500, ipv6_underlay=False, tenant=None) == ap.MtuPlan(1500, 1440, 1390)
    assert ap.mtu_plan(1610, ipv6_underlay=False, tenant=None).tenant == 1500
    assert ap.mtu_plan(1500, ipv6_underlay=True, tenant=None).wireguard == 1420


def test_nat_addresses_are_per_tenant_and_held_by_a_public_vrrp_group(base_raw: dict[str, Any]) -> None:
    raw = patch(
        base_raw,
        {
            "datacenter.public_prefixes": ["5.254.54.0/26", "5.254.43.208/29"],
            "datacenter.nat_addresses": {"acme": "5.254.43.209", "globex": "5.254.54.20"},
        },
    )
    plan = build(raw)
    by_tenant = {c.tenant.name: c.nat_address for c in plan.routers[0].tenants}
    assert by_tenant == {"acme": IPAddress("5.254.43.209"), "globex": IPAddress("5.254.54.20")}
    for r in plan.routers:
        assert [str(a) for a in r.nat_addresses] == ["5.254.43.209/29", "5.254.54.20/26"]
        assert r.public_vrid == 101
    assert build(base_raw).routers[0].tenants[0].nat_address is None  # masquerade


def test_frr_nodes_join_the_mesh_and_their_sites_reflection(base_raw: dict[str, Any]) -> None:
    """A site of frr nodes with its own reflector: its nodes peer with it, it peers with the
    other reflectors, and every router peers with every node over WireGuard."""
    ssh = {"host_key": "SHA256:loJWC7AWlN5Cq/s52UNfND+2mHmMRrHAIDAWupiFDLY"}
    raw = patch(
        base_raw,
        {
            "nodes": [
                {
                    "name": "a1",
                    "id": 1,
                    "site": "aws",
                    "route_reflector": True,
                    "endpoint": "198.51.100.31",
                    "ssh": {"address": "198.51.100.31", **ssh},
                },
                {
                    "name": "a2",
                    "id": 2,
                    "site": "aws",
                    "endpoint": "198.51.100.32",
                    "ssh": {"address": "198.51.100.32", **ssh},
                },
            ],
            "tenants[0].sites": ["dc1", "aws"],
        },
    )
    plan = build(raw, REMOTE[:2])
    a1, a2 = plan.nodes
    assert (a1.mesh_address, a2.mesh_address) == (IPAddress("172.27.3.1"), IPAddress("172.27.3.2"))
    assert [(n.name, n.client) for n in a1.bgp_neighbors] == [("r1", False), ("dc2-r1", False), ("a2", True)]
    assert [(n.name, n.client) for n in a2.bgp_neighbors] == [("a1", False)]
    for r in plan.routers:
        assert {"a1", "a2"} <= {p.name for p in r.wireguard_peers}
    assert {p.name for p in a2.wireguard_peers} == {"r1", "r2", "hv1", "dc2-r1", "dc2-r2", "a1"}
    assert [(t.tenant.name, str(t.address)) for t in a2.tenants] == [("acme", "100.65.10.50")]
    assert [m.name for m in plan.members] == ["r1", "r2", "hv1", "a1", "a2"]


def test_only_cloud_nodes_are_next_hops_and_no_peer_pairs_have_no_session(base_raw: dict[str, Any]) -> None:
    """An SSH node in a cloud site does not forward, so routers never route a cloud subnet
    through it; a ``no_peer`` pair has no tunnel, so it gets no BGP session either."""
    ssh = {"host_key": "SHA256:loJWC7AWlN5Cq/s52UNfND+2mHmMRrHAIDAWupiFDLY"}
    raw = patch(
        base_raw,
        {
            "nodes": [
                {
                    "name": "edge1",
                    "id": 2,
                    "site": "aws",
                    "endpoint": "198.51.100.32",
                    "ssh": {"address": "198.51.100.32", **ssh},
                }
            ],
            "clouds": {"aws": {"enabled": True, "region": "eu-central-1"}},
            "tenants[0].sites": ["dc1", "aws"],
            "mesh": {"no_peer": [["r1", "edge1"]]},
        },
    )
    plan = build(raw)
    acme = next(c for r in plan.routers for c in r.tenants if c.tenant.name == "acme")
    assert [(str(s), str(a)) for s, a in acme.cloud_routes] == [("10.243.10.0/24", "100.65.10.49")]  # aws-n1 only
    r1 = next(r for r in plan.routers if r.name == "r1")
    assert "edge1" not in {n.name for n in r1.bgp_neighbors} and "aws-n1" in {n.name for n in r1.bgp_neighbors}
    assert "r1" not in {n.name for n in plan.nodes[0].bgp_neighbors}
