"""Rules of tenant VMs (``datacenter.vms``): names, ids, tenants, hypervisors, fixed addresses.

A VM is a vmspawn machine on its hypervisor and a port of its tenant's segment there, so
its name shares the routers' (one machine namespace, and the tap ``vt-<name>``), its
hypervisor must be a VTEP (in the mesh: a public address), its tenant must reach this
datacenter, and a fixed address must be one no gateway, router, node or DHCP lease can hold.
"""

from __future__ import annotations

from collections.abc import Iterator

from netaddr import IPAddress

from fabric import addressing as ap
from fabric.checks.common import duplicates
from fabric.model import MAX_VM_NAME, Inventory
from fabric.topology import public_hypervisors, tenant_plan


def _some(what: str, names: list[str], shown: int = 8) -> str:
    """``what: a, b, …`` naming at most ``shown`` of them (a fabric may have hundreds)."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return f"{what}: {', '.join(names[:shown]) or 'none'}{more}"


def vms_unique(inv: Inventory) -> Iterator[str]:
    """VM names and ids are unique, no VM is named like a router (both are vmspawn machines) and
    no hypervisor like a router (both are mesh members)."""
    if (dc := inv.datacenter) is None:
        return
    yield from duplicates(dc.vms, "name", "datacenter.vms")
    yield from duplicates(dc.vms, "id", "datacenter.vms")
    routers = {r.name for r in dc.routers}
    for hv in dc.hypervisors:
        if hv.name in routers:
            yield f"datacenter.hypervisors[{hv.name}].name: {hv.name!r} is also a router's name (both are mesh members)"
    for vm in dc.vms:
        if vm.name in routers:
            yield f"datacenter.vms[{vm.name}].name: {vm.name!r} is also a router's name (both are VMs on the hypervisors)"
        if len(vm.name) > MAX_VM_NAME:
            yield (
                f"datacenter.vms[{vm.name}].name: {vm.name!r} is too long: systemd-vmspawn names the VM's tap "
                f"vt-<name> and Linux interface names have at most 15 characters, so a VM name has at most {MAX_VM_NAME}"
            )


def vm_places_known(inv: Inventory) -> Iterator[str]:
    """A VM's tenant reaches this datacenter, and its hypervisor is one of the datacenter's, in the mesh."""
    if (dc := inv.datacenter) is None:
        return
    tenants = {t.name: t for t in inv.tenants}
    hypervisors = {hv.name for hv in dc.hypervisors}
    vteps = {hv.name for hv in public_hypervisors(dc)}
    for vm in dc.vms:
        key = f"datacenter.vms[{vm.name}]"
        tenant = tenants.get(vm.tenant)
        if tenant is None:
            yield f"{key}.tenant: unknown tenant {vm.tenant!r} ({_some('tenants', sorted(tenants))})"
        elif set(tenant.sites or ()) <= {s.name for s in inv.sites} and dc.name not in inv.tenant_sites(tenant):
            yield f"{key}.tenant: tenant {vm.tenant} does not span {dc.name} (its sites: {', '.join(inv.tenant_sites(tenant))})"
        if vm.hypervisor not in hypervisors:
            yield f"{key}.hypervisor: unknown hypervisor {vm.hypervisor!r} ({_some('hypervisors', sorted(hypervisors))})"
        elif vm.hypervisor not in vteps:
            yield (
                f"{key}.hypervisor: {vm.hypervisor} has no public address (no public_address, and its ssh.address "
                f"is not in datacenter.public_prefixes), so it is not in the WireGuard mesh and carries no tenant"
            )


def vm_addresses_free(inv: Inventory) -> Iterator[str]:
    """A fixed address lies in its tenant's network, off the gateway blocks of every site and off
    the DHCP range, and no two VMs share one."""
    if (dc := inv.datacenter) is None:
        return
    tenants = {t.name: t for t in inv.tenants}
    sites = sorted(s.id for s in inv.sites)
    seen: dict[IPAddress, str] = {}
    for vm in dc.vms:
        if vm.address is None or vm.tenant not in tenants:
            continue
        key = f"datacenter.vms[{vm.name}].address"
        network = tenant_plan(inv, tenants[vm.tenant]).network
        host = int(vm.address) - network.first
        first, last = ap.dhcp_range(network)
        if vm.address not in network:
            yield f"{key}: {vm.address} is outside tenant {vm.tenant}'s network {network}"
        elif vm.address in (network.network, network.broadcast):
            yield f"{key}: {vm.address} is the network or broadcast address of {network}"
        elif host < ap.GATEWAY_BLOCK or host // ap.GATEWAY_BLOCK in sites:
            block = host // ap.GATEWAY_BLOCK
            what = "the sites' gateway addresses" if block == 0 else f"site {block}'s routers and nodes"
            yield (
                f"{key}: {vm.address} is in the block of {what} "
                f"({ap.GATEWAY_BLOCK}-address blocks: 0 for gateways, s for site s); use a block no site has"
            )
        elif first <= vm.address <= last:
            yield f"{key}: {vm.address} is in the DHCP range {first}-{last} of {network}"
        elif vm.address in seen:
            yield f"{key}: {vm.address} is also the address of datacenter.vms[{seen[vm.address]}]"
        seen.setdefault(vm.address, vm.name)


def dhcp_hosts_in_mesh(inv: Inventory) -> Iterator[str]:
    """A DHCP-site gateway router runs on a hypervisor in the mesh: that host serves the router's
    DHCP slice on the tenant's segment, which only reaches hosts in the mesh."""
    if (dc := inv.datacenter) is None:
        return
    registered = {s.name for s in inv.sites}
    spanning = [t for t in inv.tenants if set(t.sites or ()) <= registered]  # others are reported
    if not any(tenant_plan(inv, t).dhcp_site == dc.name for t in spanning):
        return
    vteps = {hv.name for hv in public_hypervisors(dc)}
    known = {hv.name for hv in dc.hypervisors}
    for r in dc.routers:
        if r.gateway and r.hypervisor in known and r.hypervisor not in vteps:
            yield (
                f"datacenter.routers[{r.name}].hypervisor: {r.hypervisor} serves this gateway's tenant DHCP, "
                f"so it must be in the WireGuard mesh: give it a public_address"
            )


def node_ports_sound(inv: Inventory) -> Iterator[str]:
    """Only an ``l2`` node has ports; a port's tenant spans the node's site; port names are unique
    and fit their interface (``vt-<name>``), and no two ports or VMs of a site share an id (their MAC)."""
    tenants = {t.name: t for t in inv.tenants}
    registered = {s.name for s in inv.sites}
    names: dict[str, str] = {
        vm.name: f"datacenter.vms[{vm.name}]" for vm in (inv.datacenter.vms if inv.datacenter else [])
    }
    macs: dict[tuple[str, int], str] = {}
    if inv.datacenter is not None:
        macs = {(inv.datacenter.name, vm.id): f"datacenter.vms[{vm.name}]" for vm in inv.datacenter.vms}
    for node in inv.nodes:
        if node.ports and node.kind != "l2":
            yield f"nodes[{node.name}].ports: only an l2 node has ports (an frr node is on every segment of its site)"
            continue
        for index, port in enumerate(node.ports):
            key = f"nodes[{node.name}].ports[{port.name}]"
            tenant = tenants.get(port.tenant)
            if tenant is None:
                yield f"{key}.tenant: unknown tenant {port.tenant!r} ({_some('tenants', sorted(tenants))})"
            elif set(tenant.sites or ()) <= registered and node.site not in inv.tenant_sites(tenant):
                yield f"{key}.tenant: tenant {port.tenant} does not span {node.site}"
            if port.name in names:
                yield f"nodes[{node.name}].ports[{index}].name: {port.name!r} is also the name of {names[port.name]}"
            names.setdefault(port.name, f"nodes[{node.name}].ports[{index}]")
            if len(port.name) > MAX_VM_NAME:
                yield f"{key}.name: {port.name!r} is too long: its interface is vt-<name>, at most 15 characters"
            if (node.site, port.id) in macs:
                yield f"{key}.id: {port.id} is also {macs[(node.site, port.id)]} of site {node.site} (one MAC each)"
            macs.setdefault((node.site, port.id), key)


RULES = (vms_unique, vm_places_known, vm_addresses_free, dhcp_hosts_in_mesh, node_ports_sound)
