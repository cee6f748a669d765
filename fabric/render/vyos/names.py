"""Interface and object names on a VyOS router, shared by the sections that refer to them."""

from __future__ import annotations

from fabric.isolation import Rule
from fabric.topology import TenantPlan

#: The router VM's one NIC: a tap on the hypervisor's OVS bridge, trunking the public and backbone VLANs.
TRUNK = "eth0"
#: The WireGuard mesh interface.
MESH = "wg0"
#: Firewall group of every mesh peer's public endpoint (the only WireGuard sources admitted).
MESH_ENDPOINTS = "MESH-ENDPOINTS"
#: Firewall group of the prefixes allowed to reach the router's API and SSH.
ADMIN = "ADMIN"
#: Firewall group of all tenant space (``tenant_base``) and every cloud network: sources only a
#: tenant's own VRF may bring in.
TENANT_SPACE = "TENANT-SPACE"


def vif(vlan: int) -> str:
    return f"{TRUNK}.{vlan}"


def l3_bridge(t: TenantPlan) -> str:
    """The bridge that binds the tenant's L3 VNI to its VRF (EVPN type-5)."""
    return f"br{t.l3_vni}"


def l3_vxlan(t: TenantPlan) -> str:
    return f"vxlan{t.l3_vni}"


def tenant_group(t: TenantPlan) -> str:
    """Firewall network-group of every prefix the tenant owns."""
    return f"TENANT-{t.name}"


#: What a tenant's egress chain's name starts with (the rest is the tenant's name).
EGRESS_PREFIX = "EGRESS-"


def egress_chain(t: TenantPlan) -> str:
    """Firewall chain a tenant's outbound traffic jumps to."""
    return f"{EGRESS_PREFIX}{t.name}"


def ingress_chain(t: TenantPlan) -> str:
    """Firewall chain traffic to a tenant's published services jumps to."""
    return f"INGRESS-{t.name}"


def publish_group(t: TenantPlan, rule: Rule) -> str:
    """Firewall network-group of who may reach one published service (``from``), by its rule number."""
    return f"PUBLISH-{t.name}-{rule.number}"
