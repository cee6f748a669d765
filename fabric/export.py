"""The plan as plain JSON-able data: the stack's exports and ``plan --json``.

Keys are left out on purpose: public keys belong to the key resources' outputs, and
private keys are never part of a plan.
"""

from __future__ import annotations

from typing import Any

from fabric.topology import Plan


def plan_summary(plan: Plan) -> dict[str, Any]:
    return {
        "site": plan.site,
        "site_id": plan.site_id,
        "asn": plan.asn,
        "mtu": {"underlay": plan.mtu.underlay, "wireguard": plan.mtu.wireguard, "tenant": plan.mtu.tenant},
        "routers": {
            r.name: {
                "id": r.id,
                "hypervisor": r.hypervisor,
                "vyos_version": r.vyos_version,
                "mesh_address": str(r.mesh_address),
                "backbone_address": str(r.backbone_address),
                "public_address": str(r.public_address),
                "roles": [role for role, on in (("route-reflector", r.route_reflector), ("gateway", r.gateway)) if on],
                "wireguard_peers": [p.name for p in r.wireguard_peers],
                "bgp_neighbors": [{"name": n.name, "address": n.address, "client": n.client} for n in r.bgp_neighbors],
                "tenants": [c.tenant.name for c in r.tenants],
            }
            for r in plan.routers
        },
        "hypervisors": {
            hv.spec.name: {
                "id": hv.spec.id,
                "backbone_address": str(hv.backbone_address),
                "vms": [v.name for v in hv.vms],
                "mesh_address": str(hv.vtep.mesh_address) if hv.vtep else None,
                "tenants": [c.tenant.name for c in hv.vtep.tenants] if hv.vtep else [],
            }
            for hv in plan.hypervisors
        },
        "tenants": {
            t.name: {
                "id": t.id,
                "sites": list(t.sites),
                "vrf": t.vrf,
                "vni": t.vni,
                "l3_vni": t.l3_vni,
                "vrf_table": t.vrf_table,
                "route_target": t.route_target,
                "network": str(t.network),
                "access": str(t.access),
                "services": str(t.services),
                "segments": {s.name: {"vni": s.vni, "network": str(s.network)} for s in t.segments[1:]},
                "dhcp_site": t.dhcp_site,
            }
            for t in plan.tenants
        },
        "clouds": {
            c.site: {
                "provider": c.provider,
                "region": c.spec.region,
                "node": c.node.name,
                "mesh_address": str(c.node.mesh_address),
                "network": str(c.network),
                "node_address": str(c.node_address),
                "wireguard_peers": [p.name for p in c.node.wireguard_peers],
                "bgp_neighbors": [n.name for n in c.node.bgp_neighbors],
                "tenants": {t.tenant.name: str(t.subnet) for t in c.tenants},
            }
            for c in plan.clouds
        },
    }
