"""``fabric:index:Tenant``: a tenant's numbers and the routers that carry it here."""

from __future__ import annotations

import pulumi

from fabric.topology import Plan, TenantPlan


class Tenant(pulumi.ComponentResource):
    """Its inputs (and outputs) are the tenant's name and egress policy, what the policy pack
    and a reviewer check: ``allow_all`` and the allow list, from its isolation policy."""

    def __init__(self, name: str, plan: Plan, tenant: TenantPlan, opts: pulumi.ResourceOptions) -> None:
        policy = tenant.policy
        egress = {
            "allow_all": policy.egress_default == "accept",
            "allow": [
                {
                    "destination": ", ".join(map(str, e.destinations)),
                    **({"source": ", ".join(map(str, e.sources))} if e.sources else {}),
                    "protocol": e.protocol,
                    "ports": list(e.ports),
                    "description": e.reason,
                }
                for e in policy.allows
            ],
        }
        super().__init__("fabric:index:Tenant", name, {"name": tenant.name, "egress": egress}, opts)
        self.vni = tenant.vni
        self.l3_vni = tenant.l3_vni
        self.route_target = tenant.route_target
        self.network = str(tenant.network)
        self.routers = [r.name for r in plan.routers if any(c.tenant.name == tenant.name for c in r.tenants)]
        self.register_outputs(
            {
                # Inputs and outputs alike: the policy pack's stack rules read outputs.
                "name": tenant.name,
                "egress": egress,
                "id": tenant.id,
                "vrf": tenant.vrf,
                "vni": self.vni,
                "l3_vni": self.l3_vni,
                "vrf_table": tenant.vrf_table,
                "route_target": self.route_target,
                "network": self.network,
                "sites": list(tenant.sites),
                "routers": self.routers,
            }
        )
