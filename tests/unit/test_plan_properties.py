"""Property tests of the address plan and topology (hypothesis).

Numbers never move: every allocation is a formula of ids, so (1) no two allocations
overlap, and (2) adding or removing a tenant, router or site changes nothing that
belongs to anyone else.
"""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from netaddr import IPNetwork

from fabric import addressing as ap
from fabric import deferred, loader, model, topology
from fabric.render.vyos import render_router
from tests.conftest import ERRORS, load_yaml, patch

BASE: dict[str, Any] = load_yaml(ERRORS / "_base.yaml")

tenant_ids = st.sets(st.integers(min_value=1, max_value=255), min_size=1, max_size=40)


def _inventory(ids: set[int], routers: int = 2, sites: int = 3, prefix_length: int = 24) -> model.Inventory:
    raw = patch(
        BASE,
        {
            "address_plan": {"tenant_prefix_length": prefix_length},
            "tenants": [{"name": f"t{i}", "id": i} for i in sorted(ids)],
            "sites": [{"name": "dc1", "id": 1}] + [{"name": f"s{s}", "id": s} for s in range(2, sites + 1)],
            "datacenter.routers": [
                {
                    "name": f"r{r}",
                    "id": r,
                    "hypervisor": "hv1",
                    "route_reflector": r == 1,
                    "gateway": r <= 2,
                    "public_address": f"5.254.54.{r + 1}",
                }
                for r in range(1, routers + 1)
            ],
        },
    )
    return loader.load(raw)


def _remote(site_ids: list[int]) -> list[topology.MeshMember]:
    return [
        topology.MeshMember(
            name=f"s{s}-n{n}",
            site=f"s{s}",
            site_id=s,
            node_id=n,
            endpoint=f"198.51.100.{s * 10 + n}",
            port=51820,
            public_key=deferred.public_key(f"s{s}-n{n}").sample,
            mesh_address=str(ap.mesh_address(IPNetwork("172.27.0.0/20"), s, n)),
            roles=("route-reflector",) if n == 1 else (),
        )
        for s in site_ids
        for n in (1, 2)
    ]


def _build(inv: model.Inventory, remote_sites: list[int] = ()) -> topology.Plan:  # type: ignore[assignment]
    return topology.build(inv, _remote(list(remote_sites)))


@settings(max_examples=60, deadline=None)
@given(ids=tenant_ids, prefix_length=st.sampled_from([20, 22, 24]))
def test_no_two_allocations_overlap(ids: set[int], prefix_length: int) -> None:
    capacity = 1 << (prefix_length - 16)
    ids = {i for i in ids if i < capacity} or {1}
    plan = _build(_inventory(ids, prefix_length=prefix_length))
    prefixes = [p for t in plan.tenants for p in t.prefixes]
    prefixes += [ap.site_block(plan.control_plane, s) for s in range(1, 4)]
    prefixes += [ap.site_block(IPNetwork("172.16.0.0/20"), s) for s in range(1, 4)]
    ranges = sorted((p.first, p.last) for p in prefixes)
    for (_, last), (first, _) in itertools.pairwise(ranges):
        assert last < first
    for numbers in (
        [t.vni for t in plan.tenants] + [t.l3_vni for t in plan.tenants],
        [t.vrf_table for t in plan.tenants],
        [t.route_target for t in plan.tenants],
    ):
        assert len(numbers) == len(set(numbers))
    # Inside each tenant network: gateways, router addresses and DHCP never meet.
    for r in plan.routers:
        for c in (on for t in r.tenants for on in t.segments):
            net = c.segment.network
            assert c.vrrp_address in net and c.address in net and c.vrrp_address != c.address
            if c.dhcp:
                assert c.dhcp[0] > c.address and c.dhcp[1] < net.broadcast
    addresses = [c.address for r in plan.routers for t in r.tenants for c in t.segments] + [
        c.vrrp_address for r in plan.routers for t in r.tenants for c in t.segments if r.id == 1
    ]
    assert len(addresses) == len(set(addresses))


@settings(max_examples=60, deadline=None)
@given(ids=tenant_ids, extra=st.integers(min_value=1, max_value=255))
def test_adding_or_removing_a_tenant_changes_no_other_tenant(ids: set[int], extra: int) -> None:
    without = _build(_inventory(ids - {extra}))
    with_extra = _build(_inventory(ids | {extra}))
    assert [t for t in with_extra.tenants if t.id != extra] == list(without.tenants)
    for before, after in zip(without.routers, with_extra.routers, strict=True):
        assert [c for c in after.tenants if c.tenant.id != extra] == list(before.tenants)
        assert (before.mesh_address, before.wireguard_peers, before.bgp_neighbors) == (
            after.mesh_address,
            after.wireguard_peers,
            after.bgp_neighbors,
        )


@settings(max_examples=30, deadline=None)
@given(ids=tenant_ids)
def test_adding_a_router_changes_nothing_of_the_others(ids: set[int]) -> None:
    two = _build(_inventory(ids, routers=2))
    three = _build(_inventory(ids, routers=3))
    for before in two.routers:
        after = next(r for r in three.routers if r.name == before.name)
        assert after.tenants == before.tenants
        assert (after.mesh_address, after.backbone_address) == (before.mesh_address, before.backbone_address)
        # Its peers gain exactly the new router.
        assert [p for p in after.wireguard_peers if p.name != "r3"] == list(before.wireguard_peers)
        assert {p.name for p in after.wireguard_peers} - {p.name for p in before.wireguard_peers} == {"r3"}


@settings(max_examples=30, deadline=None)
@given(ids=tenant_ids, sites=st.sets(st.integers(min_value=2, max_value=15), min_size=1, max_size=5))
def test_adding_or_removing_a_site_changes_only_that_sites_peers(ids: set[int], sites: set[int]) -> None:
    inv = _inventory(ids, sites=15)
    site = min(sites)
    without = _build(inv, sorted(sites - {site}))
    with_site = _build(inv, sorted(sites))
    assert without.tenants == with_site.tenants
    new = {f"s{site}-n1", f"s{site}-n2"}
    for before, after in zip(without.routers, with_site.routers, strict=True):
        assert after.tenants == before.tenants
        assert {p.name for p in after.wireguard_peers} == {p.name for p in before.wireguard_peers} | new
        assert [p for p in after.wireguard_peers if p.name not in new] == list(before.wireguard_peers)
        assert [n for n in after.bgp_neighbors if n.name not in new] == list(before.bgp_neighbors)


@settings(max_examples=30, deadline=None)
@given(ids=tenant_ids, extra=st.integers(min_value=1, max_value=255))
def test_adding_a_tenant_only_adds_config_lines(ids: set[int], extra: int) -> None:
    """No rendered line of any other tenant (or of the router itself) changes: rule numbers included."""

    def lines(tenants: set[int]) -> list[set[str]]:
        plan = _build(_inventory(tenants))
        return [set(render_router(plan, r).text().splitlines()) for r in plan.routers]

    for old, new, alone, empty in zip(
        lines(ids - {extra}), lines(ids | {extra}), lines({extra}), lines(set()), strict=True
    ):
        assert old <= new
        # What the tenant adds is the same whoever else is there.
        assert new - old == alone - empty


def _segmented(layout: dict[int, set[int]]) -> model.Inventory:
    """Tenants ``t<id>`` each with segments ``s<j>`` for the ids in ``layout[id]``."""
    raw = patch(
        BASE,
        {
            "tenants": [
                {"name": f"t{t}", "id": t, "segments": [{"name": f"s{j}", "id": j} for j in sorted(js)]}
                for t, js in sorted(layout.items())
            ],
        },
    )
    return loader.load(raw)


def _segment_numbers(plan: topology.Plan) -> dict[tuple[str, str], tuple[Any, ...]]:
    """Everything numbered about each tenant segment: VNI, block, bridge, and per router its
    address, gateway, VRID and DHCP slice, and per hypervisor its DHCP server."""
    out: dict[tuple[str, str], tuple[Any, ...]] = {}
    for t in plan.tenants:
        for s in t.segments:
            on_routers = tuple(
                (r.name, str(on.address), str(on.vrrp_address), on.vrid, on.dhcp)
                for r in plan.routers
                for c in r.tenants
                if c.tenant.name == t.name
                for on in c.segments
                if on.segment.name == s.name
            )
            servers = tuple(
                (hv.spec.name, str(d.address), str(d.first), str(d.last))
                for hv in plan.hypervisors
                for d in hv.dhcp
                if d.tenant.name == t.name and d.segment.name == s.name
            )
            out[(t.name, s.name)] = (s.vni, str(s.network), s.bridge, s.sites, on_routers, servers)
    return out


segment_layouts = st.dictionaries(
    st.integers(min_value=1, max_value=200),
    st.sets(st.integers(min_value=1, max_value=15), max_size=4),
    min_size=1,
    max_size=8,
)


@settings(max_examples=60, deadline=None)
@given(layout=segment_layouts, data=st.data())
def test_segment_numbers_stay_when_another_segment_or_tenant_comes_or_goes(
    layout: dict[int, set[int]], data: st.DataObject
) -> None:
    """Adding or removing a segment, or a whole tenant, leaves every other segment's numbers as
    they were, and no two segments of the fabric share a VNI, block or bridge."""
    before = _segment_numbers(topology.build(_segmented(layout)))
    assert before  # every tenant has its first segment at least
    changed = {t: set(js) for t, js in layout.items()}
    t = data.draw(st.sampled_from(sorted(changed)))
    change = data.draw(st.sampled_from(["add segment", "remove segment", "add tenant", "remove tenant"]))
    if change == "add segment" and len(changed[t]) < 15:
        changed[t].add(data.draw(st.sampled_from(sorted(set(range(1, 16)) - changed[t]))))
    elif change == "remove segment" and changed[t]:
        changed[t].discard(data.draw(st.sampled_from(sorted(changed[t]))))
    elif change == "add tenant":
        new = data.draw(st.integers(min_value=1, max_value=200).filter(lambda i: i not in changed))
        changed[new] = data.draw(st.sets(st.integers(min_value=1, max_value=15), max_size=4))
    elif change == "remove tenant" and len(changed) > 1:
        del changed[t]
    after = _segment_numbers(topology.build(_segmented(changed)))
    for key in before.keys() & after.keys():
        assert before[key] == after[key], key
    for what in range(3):  # VNI, block, bridge
        values = [numbers[what] for numbers in after.values()]
        assert len(values) == len(set(values))
