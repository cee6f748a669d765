"""Rendered VyOS config: valid against VyOS's own schema, owned disjointly, deterministic.

The schema data is VyOS's (vyos-1x interface definitions, copied under
``fabric/data/vyos``); no VyOS router runs here, so validity is checked offline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fabric import loader, stackfile, topology
from fabric.deferred import Deferred
from fabric.errors import ConfigError
from fabric.render.vyos import SECTIONS, owned_subtrees, render_router, render_routers, schema_problems
from fabric.render.vyos.command import Command, late_paths, secret_paths, set_line
from fabric.render.vyos.names import l3_bridge
from fabric.vyos_schema import VyosSchema
from tests.conftest import ROOT, patch

STACKS = ["dc1", "dc2"]


@pytest.fixture(scope="module", params=STACKS)
def example_plan(request: pytest.FixtureRequest) -> topology.Plan:
    return stackfile.load_stack(ROOT, request.param).plan


def test_every_example_line_is_valid_vyos(example_plan: topology.Plan) -> None:
    assert schema_problems(example_plan) == []
    assert sum(len(r.commands()) for r in render_routers(example_plan)) > 500


def test_a_vyos_14_router_renders_valid_14_config(base_raw: dict[str, Any]) -> None:
    inv = loader.load(patch(base_raw, {"datacenter.routers[1].vyos_version": "1.4"}))
    plan = topology.build(inv)
    r14 = render_router(plan, plan.routers[1])
    lines = r14.text()
    assert "service https api rest" not in lines  # the node does not exist on 1.4
    assert "commit-confirm" not in lines  # nor commit-confirm settings
    assert VyosSchema.load("1.4").check_all(c.tokens() for c in r14.commands()) == []
    # The 1.5 rendering of the same router would not be valid 1.4.
    r15 = render_router(plan, plan.routers[0])
    assert VyosSchema.load("1.4").check_all(c.tokens() for c in r15.commands())


def test_each_section_writes_only_below_what_it_owns(example_plan: topology.Plan) -> None:
    for rendered in render_routers(example_plan):
        for section, commands in rendered.sections.items():
            owns = owned_subtrees(section)
            for c in commands:
                assert any(c.path[: len(o)] == o for o in owns), (section, c)
    all_owned = [(s, o) for s in SECTIONS for o in owned_subtrees(s)]
    for s1, a in all_owned:
        for s2, b in all_owned:
            if s1 != s2:
                shorter = min(len(a), len(b))
                assert a[:shorter] != b[:shorter], f"{s1} {a} and {s2} {b} overlap"


def test_secrets_and_values_known_after_up_appear_as_markers(example_plan: topology.Plan) -> None:
    """Secrets, and this stack's other members' public keys (routers, hypervisors), are markers at
    their own paths (where the provider fills them in); a peer stack's keys are plain values."""
    for rendered in render_routers(example_plan):
        deferred_values = [c for c in rendered.commands() if isinstance(c.value, Deferred)]
        others = {m.name for m in example_plan.members} - {rendered.name}
        assert {(c.value.kind, c.value.name) for c in deferred_values if isinstance(c.value, Deferred)} == {
            ("secret", "wireguard-private-key"),
            ("secret", "vyos-api-key"),
            *(("public-key", name) for name in others),
        }
        assert secret_paths(rendered.commands()) == {
            "interfaces wireguard wg0 private-key": "wireguard-private-key",
            "service https api keys id fabric key": "vyos-api-key",
        }
        assert late_paths(rendered.commands()) == {
            f"interfaces wireguard wg0 peer {name} public-key": [["public-key", name]] for name in others
        }
        text = rendered.text()
        assert "'<secret:wireguard-private-key>'" in text
        for c in deferred_values:
            assert isinstance(c.value, Deferred) and c.value.sample not in text
        for peer in example_plan.remote:
            assert f"set interfaces wireguard wg0 peer {peer.name} public-key '{peer.public_key}'" in text


def test_seed_mistakes_are_not_rendered(example_plan: topology.Plan) -> None:
    text = "".join(r.text() for r in render_routers(example_plan))
    assert " activate" not in text
    assert "set protocols bgp l2vpn-evpn" not in text
    assert "virtual-address" not in text
    assert "route-target vpn" not in text  # MPLS L3VPN, not EVPN type-5


def test_evpn_tenant_config(example_plan: topology.Plan) -> None:
    r = example_plan.routers[0]
    text = render_router(example_plan, r).text()
    for c in r.tenants:
        t = c.tenant
        assert f"set vrf name {t.vrf} vni '{t.l3_vni}'" in text
        assert (
            f"set vrf name {t.vrf} protocols bgp address-family l2vpn-evpn route-target import '{t.route_target}'"
            in text
        )
        assert f"set interfaces vxlan vxlan{t.vni} source-address '{r.mesh_address}'" in text
        assert f"set interfaces vxlan vxlan{t.vni} parameters nolearning" in text
        assert f"set high-availability vrrp group {t.name}-{r.site} address {c.first.vrrp_address}/24" in text
    assert "set protocols bgp address-family l2vpn-evpn advertise-all-vni" in text


def test_set_line_quoting() -> None:
    assert set_line(Command(("system", "host-name"), "r1")) == "set system host-name 'r1'"
    assert set_line(Command(("firewall", "ipv4", "name", "X", "description"), "it's")) == (
        "set firewall ipv4 name X description 'it'\\''s'"
    )
    assert set_line(Command(("a", "tag with space", "b"))) == "set a 'tag with space' b"


def test_rendering_is_deterministic() -> None:
    first = [r.text() for r in render_routers(stackfile.load_stack(ROOT, "dc1").plan)]
    second = [r.text() for r in render_routers(stackfile.load_stack(ROOT, "dc1").plan)]
    assert first == second


def test_example_stacks_model_two_datacenters() -> None:
    dc1 = stackfile.load_inventory(ROOT, "dc1")
    dc2 = stackfile.load_inventory(ROOT, "dc2")
    assert [str(p) for p in dc1.dc.public_prefixes] == ["5.254.54.0/26"]
    assert [str(p) for p in dc2.dc.public_prefixes] == ["5.254.43.160/27", "5.254.43.208/29"]
    for inv in (dc1, dc2):
        assert inv.asn == 65000 and len(inv.tenants) >= 3
        assert len(inv.dc.routers) == 2 and sum(r.route_reflector for r in inv.dc.routers) == 1
        for hv in inv.dc.hypervisors:
            models = sorted(n.model for n in hv.nics)
            assert models.count("intel-x710") == 4 and models.count("mellanox-cx4") == 2
            assert len(hv.bonds) == 2 and hv.ovs.hw_offload
    spanning = [t for t in dc1.tenants if {"dc1", "dc2"} <= set(dc1.tenant_sites(t))]
    assert len(spanning) >= 3


def test_plaintext_secret_in_a_stack_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    text = (ROOT / "Pulumi.dc1.yaml").read_text()
    start = text.index("  fabric:vyos_api_key:")
    end = text.index("\n", text.index("secure:", start))
    (tmp_path / "Pulumi.dc1.yaml").write_text(text[:start] + "  fabric:vyos_api_key: hunter2" + text[end:])
    with pytest.raises(
        ConfigError, match=r"vyos_api_key: stored in plain text; store it with `pulumi config set --secret"
    ) as caught:
        stackfile.raw_config(tmp_path, "dc1")
    assert "hunter2" not in str(caught.value)


def test_invalid_packets_are_dropped_only_after_a_tenants_own_prefixes() -> None:
    """Cloud-subnet traffic hairpins through the gateway one way and returns on the segment:
    the router sees half of each TCP flow (conntrack: invalid), which must still pass within
    the tenant, while invalid traffic anywhere else is dropped."""
    plan = stackfile.load_stack(ROOT, "dc1").plan
    text = render_routers(plan)[0].text()
    forward = [line for line in text.splitlines() if "firewall ipv4 forward filter" in line]
    assert forward and not [line for line in forward if "'invalid'" in line]  # no global drop of invalid
    chain = [line for line in text.splitlines() if "firewall ipv4 name EGRESS-acme rule" in line and " action " in line]
    assert chain[:3] == [
        "set firewall ipv4 name EGRESS-acme rule 10 action 'accept'",
        "set firewall ipv4 name EGRESS-acme rule 15 action 'drop'",
        "set firewall ipv4 name EGRESS-acme rule 20 action 'drop'",
    ]
    assert "set firewall ipv4 name EGRESS-acme rule 15 state 'invalid'" in text


def test_tenants_leaving_from_nat_addresses_fail_over_with_them() -> None:
    """Their VRRP groups and the public group are one sync-group: the replies to a NAT address
    (or to a published service) always reach the router that holds the tenant's connections."""
    tied = 0
    for stack in STACKS:
        plan = stackfile.load_stack(ROOT, stack).plan
        for router, rendered in zip(plan.routers, render_routers(plan), strict=True):
            members = rendered.config().get(f"high-availability vrrp sync-group nat-{router.site} member", [])
            nat_tenants = {
                f"{c.tenant.name}-{router.site}"
                if on.segment.first
                else f"{c.tenant.name}.{on.segment.name}.{router.site}"
                for c in router.tenants
                if c.nat_address is not None or c.published
                for on in c.segments
            }
            if router.nat_addresses:
                assert set(members) == {f"public-{router.site}"} | nat_tenants
                tied += len(nat_tenants)
            else:
                assert members == [] and not nat_tenants
    assert tied >= 2


def test_a_routers_l3_vni_bridges_share_one_router_mac_unique_in_the_fabric() -> None:
    """FRR keeps one router MAC per remote VTEP: every L3 VNI bridge of a router has the same one."""
    macs: dict[str, str] = {}
    for stack in STACKS:
        plan = stackfile.load_stack(ROOT, stack).plan
        for router, rendered in zip(plan.routers, render_routers(plan), strict=True):
            config = rendered.config()
            l3 = {v[0] for c in router.tenants for v in [config[f"interfaces bridge {l3_bridge(c.tenant)} mac"]]}
            assert len(l3) == 1
            macs[router.name] = l3.pop()
            # segment bridges keep their own MAC (the VRRP gateway has its own virtual MAC)
            assert not any(f"interfaces bridge {c.tenant.bridge} mac" in config for c in router.tenants)
    assert len(set(macs.values())) == len(macs) >= 4
