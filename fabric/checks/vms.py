"""Rules of tenant VMs (``datacenter.vms``) and of ``l2`` nodes' tenant ports: names, ids,
tenants, hosts, addresses, images and the devices they make on their host.

A VM is a vmspawn machine on its hypervisor and a port of its tenant's segment there, so
its name shares the routers' (one machine namespace, and the tap ``vt-<name>``), its
hypervisor must be a VTEP (in the mesh: a public address), its tenant must reach this
datacenter, a fixed address must be one no gateway, router, node or DHCP lease can hold,
and its disk image is its own. An ``l2`` node's port is the same kind of thing on a node.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from netaddr import IPAddress

from fabric import addressing as ap
from fabric.checks.common import duplicates, planned, spans_known, tap_fits
from fabric.model import Inventory, Tenant
from fabric.topology import FIRST_SEGMENT, IMAGE_DIR, machine_image, public_hypervisors, router_image


def _some(what: str, names: list[str], shown: int = 8) -> str:
    """``what: a, b, …`` naming at most ``shown`` of them (a fabric may have hundreds)."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return f"{what}: {', '.join(names[:shown]) or 'none'}{more}"


def _tenant_at(inv: Inventory, tenants: dict[str, Tenant], key: str, name: str, site: str) -> Iterator[str]:
    """The tenant ``name`` exists and spans ``site`` (a tenant naming unknown sites is reported by its own rule)."""
    tenant = tenants.get(name)
    if tenant is None:
        yield f"{key}.tenant: unknown tenant {name!r} ({_some('tenants', sorted(tenants))})"
    elif set(tenant.sites or ()) <= {s.name for s in inv.sites} and site not in inv.tenant_sites(tenant):
        yield f"{key}.tenant: tenant {name} does not span {site} (its sites: {', '.join(inv.tenant_sites(tenant))})"


def _segment(inv: Inventory, key: str, tenant: Tenant, name: str | None, site: str) -> Iterator[str]:
    """``segment`` names one of the tenant's segments, and that segment spans ``site``."""
    if name is None:
        return
    segments = {s.name: s for s in planned(inv, tenant).segments}
    if name not in segments:
        yield f"{key}.segment: tenant {tenant.name} has no segment {name!r} ({_some('segments', sorted(segments))})"
    elif site not in segments[name].sites:
        yield f"{key}.segment: segment {name} of tenant {tenant.name} does not span {site}"


def address_free(
    inv: Inventory, key: str, tenant: Tenant, segment: str | None, address: IPAddress, sites: list[int]
) -> Iterator[str]:
    """A fixed address in its segment, off the gateways' and every site's block, off the DHCP range
    (what a VM, a port or a published service's target may be)."""
    seg = next((s for s in planned(inv, tenant).segments if s.name == (segment or FIRST_SEGMENT)), None)
    if seg is None:
        return  # an unknown segment is reported by its own rule
    network = seg.network
    host = int(address) - network.first
    first, last = ap.dhcp_range(network)
    where = f"tenant {tenant.name}'s network" if seg.first else f"segment {seg.name} of tenant {tenant.name}"
    if address not in network:
        yield f"{key}: {address} is outside {where} {network}"
    elif address in (network.network, network.broadcast):
        yield f"{key}: {address} is the network or broadcast address of {network}"
    elif host < ap.GATEWAY_BLOCK or host // ap.GATEWAY_BLOCK in sites:
        block = host // ap.GATEWAY_BLOCK
        what = "the sites' gateway addresses" if block == 0 else f"site {block}'s routers and nodes"
        yield (
            f"{key}: {address} is in the block of {what} "
            f"({ap.GATEWAY_BLOCK}-address blocks: 0 for gateways, s for site s); use a block no site has"
        )
    elif first <= address <= last:
        yield f"{key}: {address} is in the DHCP range {first}-{last} of {network}"


def vms_unique(inv: Inventory) -> Iterator[str]:
    """VM names and ids are unique, no VM is named like a router (both are vmspawn machines)."""
    if (dc := inv.datacenter) is None:
        return
    yield from duplicates(dc.vms, "name", "datacenter.vms")
    yield from duplicates(dc.vms, "id", "datacenter.vms")
    routers = {r.name for r in dc.routers}
    for vm in dc.vms:
        if vm.name in routers:
            yield f"datacenter.vms[{vm.name}].name: {vm.name!r} is also a router's name (both are VMs on the hypervisors)"
        yield from tap_fits(f"datacenter.vms[{vm.name}]", vm.name, "VM")


def vm_places_known(inv: Inventory) -> Iterator[str]:
    """A VM's tenant reaches this datacenter, and its hypervisor is one of the datacenter's, in the mesh."""
    if (dc := inv.datacenter) is None:
        return
    hypervisors = {hv.name for hv in dc.hypervisors}
    vteps = {hv.name for hv in public_hypervisors(dc)}
    tenants = {t.name: t for t in inv.tenants}
    for vm in dc.vms:
        key = f"datacenter.vms[{vm.name}]"
        yield from _tenant_at(inv, tenants, key, vm.tenant, dc.name)
        if vm.tenant in tenants and spans_known(inv, tenants[vm.tenant]):
            yield from _segment(inv, key, tenants[vm.tenant], vm.segment, dc.name)
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
        problems = list(address_free(inv, key, tenants[vm.tenant], vm.segment, vm.address, sites))
        yield from problems
        if not problems and vm.address in seen:
            yield f"{key}: {vm.address} is also the address of datacenter.vms[{seen[vm.address]}]"
        seen.setdefault(vm.address, vm.name)


def vm_images_own(inv: Inventory) -> Iterator[str]:
    """A tenant VM boots its own disk: an image under /var/lib/machines/, no other VM's on its
    hypervisor and never a router's (which holds the router's keys), nor a device of the host."""
    if (dc := inv.datacenter) is None:
        return
    routers = {router_image(r): r.name for r in dc.routers}
    used: dict[tuple[str, str], str] = {}
    names = [vm.name for vm in dc.vms]
    # A repeated name, or a router's, is its own rule's (a default image is named after the VM).
    counts, router_names = Counter(names), {r.name for r in dc.routers}
    for vm in (v for v in dc.vms if counts[v.name] == 1 and v.name not in router_names):
        key = f"datacenter.vms[{vm.name}].image"
        image = machine_image(vm.name, vm.image)
        if not image.startswith(IMAGE_DIR) or image == IMAGE_DIR:
            yield f"{key}: {image} is not under {IMAGE_DIR}: a tenant VM boots an image there, never a host device"
        elif image in routers:
            yield f"{key}: {image} is router {routers[image]}'s image"
        elif (vm.hypervisor, image) in used:
            yield f"{key}: {image} is also the image of datacenter.vms[{used[(vm.hypervisor, image)]}] on {vm.hypervisor}"
        used.setdefault((vm.hypervisor, image), vm.name)


def host_devices_apart(inv: Inventory) -> Iterator[str]:
    """A hypervisor's own devices (NICs, bonds, OVS bridge) are named unlike the devices its tenants
    make there: the tenant's bridge and VXLAN device (``br<vni>``, ``vxlan<vni>``) and VRF (its name)."""
    if (dc := inv.datacenter) is None:
        return
    tenant_devices: dict[str, str] = {}
    for t in inv.tenants:
        if spans_known(inv, t) and dc.name in inv.tenant_sites(t):
            p = planned(inv, t)
            tenant_devices.update({p.vrf: t.name})
            tenant_devices.update({name: t.name for s in p.segments for name in (s.bridge, s.vxlan)})
    for hv in dc.hypervisors:
        key = f"datacenter.hypervisors[{hv.name}]"
        own = [
            ("ovs.bridge", hv.ovs.bridge),
            *(("bonds", b.name) for b in hv.bonds),
            *(("nics", n.name) for n in hv.nics),
        ]
        for field, name in own:
            if name in tenant_devices:
                yield f"{key}.{field}: {name} is also a device of tenant {tenant_devices[name]} on the hypervisors"


def dhcp_hosts_in_mesh(inv: Inventory) -> Iterator[str]:
    """A DHCP-site gateway router runs on a hypervisor in the mesh: that host serves the router's
    DHCP slice on the tenant's segment, which only reaches hosts in the mesh."""
    if (dc := inv.datacenter) is None:
        return
    registered = {s.name for s in inv.sites}
    spanning = [t for t in inv.tenants if set(t.sites or ()) <= registered]  # others are reported
    if not any(planned(inv, t).dhcp_site == dc.name for t in spanning):
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
    """Only an ``l2`` node has ports; a port's tenant spans the node's site and its address is a
    free one of the tenant network; port names are unique and fit their interface (``vt-<name>``),
    and no two ports or VMs of a site share an id (their MAC)."""
    tenants = {t.name: t for t in inv.tenants}
    sites = sorted(s.id for s in inv.sites)
    names: dict[str, str] = {}
    macs: dict[tuple[str, int], str] = {}
    if (dc := inv.datacenter) is not None:
        names = {vm.name: f"datacenter.vms[{vm.name}]" for vm in dc.vms}
        macs = {(dc.name, vm.id): f"datacenter.vms[{vm.name}]" for vm in dc.vms}
    for node in inv.nodes:
        if node.ports and node.kind != "l2":
            yield f"nodes[{node.name}].ports: only an l2 node has ports (an frr node is on every segment of its site)"
            continue
        for index, port in enumerate(node.ports):
            key = f"nodes[{node.name}].ports[{port.name}]"
            yield from _tenant_at(inv, tenants, key, port.tenant, node.site)
            if port.tenant in tenants and spans_known(inv, tenants[port.tenant]):
                yield from _segment(inv, key, tenants[port.tenant], port.segment, node.site)
                yield from address_free(inv, f"{key}.address", tenants[port.tenant], port.segment, port.address, sites)
            if port.name in names:
                yield f"nodes[{node.name}].ports[{index}].name: {port.name!r} is also the name of {names[port.name]}"
            names.setdefault(port.name, f"nodes[{node.name}].ports[{index}]")
            yield from tap_fits(key, port.name, "port")
            if (node.site, port.id) in macs:
                yield f"{key}.id: {port.id} is also {macs[(node.site, port.id)]} of site {node.site} (one MAC each)"
            macs.setdefault((node.site, port.id), key)


RULES = (
    vms_unique,
    vm_places_known,
    vm_addresses_free,
    vm_images_own,
    host_devices_apart,
    dhcp_hosts_in_mesh,
    node_ports_sound,
)
