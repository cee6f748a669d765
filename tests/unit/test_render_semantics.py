"""What the schema cannot see: rendered configs that are valid VyOS but would not work.

Checked on the example stacks: every BGP session rides a WireGuard tunnel, every
interface a line refers to exists, every address the router claims is owned by an
interface or a VRRP group, and no two owners claim one address.
"""

from __future__ import annotations

import pytest
from netaddr import IPAddress, IPNetwork

from fabric import stackfile, topology
from fabric.render.vyos import render_router
from fabric.render.vyos.command import Command
from tests.conftest import ROOT


@pytest.fixture(scope="module", params=["dc1", "dc2"])
def plan(request: pytest.FixtureRequest) -> topology.Plan:
    return stackfile.load_stack(ROOT, request.param).plan


def _commands(plan: topology.Plan, router: topology.RouterPlan) -> list[Command]:
    return render_router(plan, router).commands()


def _interfaces(commands: list[Command]) -> set[str]:
    """Names of the interfaces the config creates (``eth0.10`` for a vif)."""
    names = {"lo"}
    for c in commands:
        p = c.path
        if p[0] == "interfaces" and len(p) >= 3:
            names.add(p[2])
            if p[1] == "ethernet" and len(p) >= 5 and p[3] == "vif":
                names.add(f"{p[2]}.{p[4]}")
    return names


def test_every_bgp_session_rides_a_wireguard_tunnel(plan: topology.Plan) -> None:
    for r in plan.routers:
        tunneled = {ip.split("/")[0] for p in r.wireguard_peers for ip in p.allowed_ips}
        commands = _commands(plan, r)
        neighbors = {c.path[3] for c in commands if c.path[:3] == ("protocols", "bgp", "neighbor")}
        assert neighbors and neighbors <= tunneled
        sources = {c.value for c in commands if c.path[-1:] == ("update-source",)}
        assert sources == {str(r.mesh_address)}


def test_referenced_interfaces_exist(plan: topology.Plan) -> None:
    for r in plan.routers:
        commands = _commands(plan, r)
        names = _interfaces(commands)
        vrfs = {c.path[2] for c in commands if c.path[:2] == ("vrf", "name")}
        for c in commands:
            if "member" in c.path and "interface" in c.path:
                assert c.path[c.path.index("interface") + 1] in names, c
            if c.path[-1:] == ("interface",) and c.path[0] in ("high-availability",):
                assert c.value in names, c
            if c.path[-2:] == ("inbound-interface", "name") or c.path[-2:] == ("outbound-interface", "name"):
                assert c.value in names | vrfs, c  # tenant input rules match the VRF device
            if c.path[:2] == ("protocols", "static") and "interface" in c.path:
                assert c.path[c.path.index("interface") + 1] in names, c


def test_every_claimed_address_has_exactly_one_owner(plan: topology.Plan) -> None:
    for r in plan.routers:
        commands = _commands(plan, r)
        owned: list[IPNetwork] = []
        for c in commands:
            if c.path[0] == "interfaces" and c.path[-1] == "address":
                owned.append(IPNetwork(str(c.value)))
            if c.path[:2] == ("high-availability", "vrrp") and "address" in c.path:
                owned.append(IPNetwork(c.path[c.path.index("address") + 1]))
        ips = [net.ip for net in owned]
        assert len(ips) == len(set(ips)), "an address is configured twice"
        # Source NAT only translates to addresses the router (or its VRRP group) holds.
        for c in commands:
            if (
                c.path[:2] == ("nat", "source")
                and c.path[-2:] == ("translation", "address")
                and c.value != "masquerade"
            ):
                assert IPAddress(str(c.value)) in ips, c


def test_tenant_gateways_are_on_the_segment_they_serve(plan: topology.Plan) -> None:
    for r in plan.routers:
        for carried in (on for c in r.tenants for on in c.segments):
            net = carried.segment.network
            assert carried.vrrp_address in net and carried.address in net
            if carried.dhcp is not None:
                first, last = carried.dhcp
                assert first in net and last < net.broadcast
                # Leases never hand out a gateway's or a router's address.
                assert int(first) > int(carried.address) and int(first) > int(carried.vrrp_address)
