"""``fabric:index:Tenant``: a tenant's numbers and the routers that carry it here."""

from __future__ import annotations

import pulumi

from fabric.topology import Plan, TenantPlan


class Tenant(pulumi.ComponentResource):
    def __init__(self, name: str, plan: Plan, tenant: TenantPlan, opts: pulumi.ResourceOptions) -> None:
        super().__init__("fabric:index:Tenant", name, None, opts)
        self.vni = tenant.vni
        self.l3_vni = tenant.l3_vni
        self.route_target = tenant.route_target
        self.network = str(tenant.network)
        self.routers = [r.name for r in plan.routers if any(c.tenant.name == tenant.name for c in r.tenants)]
        self.register_outputs(
            {
                "id": tenant.id,
                "vrf": tenant.vrf,
                "vlan": tenant.vlan,
                "vni": self.vni,
                "l3_vni": self.l3_vni,
                "vrf_table": tenant.vrf_table,
                "route_target": self.route_target,
                "network": self.network,
                "sites": list(tenant.sites),
                "routers": self.routers,
            }
        )
