"""The trunk to the hypervisor: the public and backbone VLANs on ``eth0``, each with an address.

No tenant segment is a VLAN: the router reaches them through EVPN only (``bridge``).
"""

from __future__ import annotations

from fabric.render.vyos.command import Command, cmd
from fabric.render.vyos.names import TRUNK
from fabric.topology import Plan, RouterPlan

# Not the whole interface: VyOS keeps its own leaves there (``hw-id``).
OWNS = (
    ("interfaces", "ethernet", TRUNK, "description"),
    ("interfaces", "ethernet", TRUNK, "mtu"),
    ("interfaces", "ethernet", TRUNK, "vif"),
)
#: The backbone vif carries the address the provider reaches the API at: a delete of the
#: router's config leaves the trunk's VLANs in place.
KEEP_ON_DELETE = (("interfaces", "ethernet", TRUNK, "vif"),)


def render(plan: Plan, router: RouterPlan) -> list[Command]:
    eth = ("interfaces", "ethernet", TRUNK)
    out = [
        cmd(*eth, "description", value="trunk to hypervisor " + router.hypervisor),
        cmd(*eth, "mtu", value=plan.mtu.underlay),
        cmd(*eth, "vif", plan.public_vlan, "description", value="public"),
        cmd(
            *eth, "vif", plan.public_vlan, "address", value=f"{router.public_address}/{router.public_prefix.prefixlen}"
        ),
        cmd(*eth, "vif", plan.backbone_vlan, "description", value="backbone"),
        cmd(*eth, "vif", plan.backbone_vlan, "address", value=f"{router.backbone_address}/{router.backbone.prefixlen}"),
    ]
    return out
