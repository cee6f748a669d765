"""Rules of this stack's datacenter: public addresses, hypervisors and their bonds, routers, API access."""

from __future__ import annotations

from collections.abc import Iterator

from netaddr import IPAddress, IPNetwork

from fabric import addressing as ap
from fabric.checks.common import duplicates, overlap, overlaps, tap_fits, unusable
from fabric.model import DEFAULT_BOND_MTU, Datacenter, Inventory

#: Where a public block can never be: (network, what it is).
NOT_PUBLIC = (
    (IPNetwork("0.0.0.0/8"), "'this network' (0.0.0.0/8)"),
    (IPNetwork("127.0.0.0/8"), "loopback (127.0.0.0/8)"),
    (IPNetwork("169.254.0.0/16"), "link-local (169.254.0.0/16)"),
    (IPNetwork("224.0.0.0/4"), "multicast (224.0.0.0/4)"),
    (IPNetwork("240.0.0.0/4"), "reserved (240.0.0.0/4)"),
)
#: Largest value the kernel's bonding driver takes for its timers (milliseconds, an int).
BOND_TIMER_MAX_MS = 2**31 - 1


def _in_public(dc: Datacenter, addr: IPAddress) -> bool:
    return any(addr in p for p in dc.public_prefixes)


def _taken_public(dc: Datacenter) -> dict[IPAddress, str]:
    """Public addresses already given out: the gateway, then the routers'."""
    taken: dict[IPAddress, str] = {dc.upstream_gateway: "datacenter.public_gateway"}
    for router in dc.routers:
        taken.setdefault(router.public_address, f"datacenter.routers[{router.name}].public_address")
    return taken


def public_prefixes_usable(inv: Inventory) -> Iterator[str]:
    """Public blocks are unicast, apart from each other and from the fabric's own space."""
    if (dc := inv.datacenter) is None:
        return
    plan = inv.address_plan
    yield from overlaps([(f"datacenter.public_prefixes[{i}]", p) for i, p in enumerate(dc.public_prefixes)])
    for i, p in enumerate(dc.public_prefixes):
        for net, what in NOT_PUBLIC:
            if overlap(p, net):
                yield f"datacenter.public_prefixes[{i}]: {p} is {what}, never a public block"
        for key, net in (
            ("address_plan.control_plane", plan.control_plane),
            ("address_plan.backbone", plan.backbone),
            ("address_plan.tenant_base", plan.tenant_base),
        ):
            if overlap(p, net):
                yield f"datacenter.public_prefixes[{i}]: {p} overlaps {key} {net}"


def public_gateway_usable(inv: Inventory) -> Iterator[str]:
    """The upstream gateway is a host address of a public block."""
    if (dc := inv.datacenter) is None or dc.public_gateway is None:
        return
    if not _in_public(dc, dc.public_gateway):
        yield f"datacenter.public_gateway: {dc.public_gateway} is outside datacenter.public_prefixes"
    elif unusable(dc.public_gateway, dc.public_prefixes):
        yield f"datacenter.public_gateway: {dc.public_gateway} is the network or broadcast address of its public prefix"


def hypervisor_addresses_free(inv: Inventory) -> Iterator[str]:
    """A hypervisor's SSH and public addresses are no public address given to something else, and
    a public address is a host of a public block."""
    if (dc := inv.datacenter) is None:
        return
    taken = _taken_public(dc)
    for hv in dc.hypervisors:
        key = f"datacenter.hypervisors[{hv.name}]"
        addresses = [("ssh.address", hv.ssh.address)]
        if hv.public_address is not None:
            if _in_public(dc, hv.ssh.address) and hv.ssh.address != hv.public_address:
                yield (
                    f"{key}.public_address: {hv.public_address} is not its ssh.address {hv.ssh.address}, which is "
                    "public: the host has one public address (networkd would remove the one Pulumi reaches it at); "
                    "leave public_address out or make it the same"
                )
                continue
            if problem := _public_host_problem(dc, hv.public_address, "hypervisor"):
                yield f"{key}.public_address: {problem}"
                continue
            if hv.public_address != hv.ssh.address:
                addresses.append(("public_address", hv.public_address))
        elif _in_public(dc, hv.ssh.address) and (problem := _public_host_problem(dc, hv.ssh.address, "hypervisor")):
            yield f"{key}.ssh.address: {problem}"
            continue
        for field, address in addresses:
            if address in taken:
                yield f"{key}.{field}: {address} is also {taken[address]}"
            elif _in_public(dc, address):
                taken[address] = f"{key}.{field}"


def nat_addresses_usable(inv: Inventory) -> Iterator[str]:
    """A NAT address belongs to a tenant here and is a free host address of a public block."""
    if (dc := inv.datacenter) is None:
        return
    taken = _taken_public(dc)
    taken.update({hv.ssh.address: f"datacenter.hypervisors[{hv.name}].ssh.address" for hv in dc.hypervisors})
    taken.update(
        {
            hv.public_address: f"datacenter.hypervisors[{hv.name}].public_address"
            for hv in dc.hypervisors
            if hv.public_address
        }
    )
    tenants = {t.name: t for t in inv.tenants}
    for name, addr in dc.nat_addresses.items():
        key = f"datacenter.nat_addresses[{name}]"
        tenant = tenants.get(name)
        if tenant is None:
            yield f"{key}: no tenant is named {name!r}"
        elif dc.name not in inv.tenant_sites(tenant):
            yield f"{key}: tenant {name} does not span datacenter {dc.name}"
        if not _in_public(dc, addr):
            yield f"{key}: {addr} is outside datacenter.public_prefixes"
        elif unusable(addr, dc.public_prefixes):
            yield f"{key}: {addr} is the network or broadcast address of its public prefix"
        elif addr in taken:
            yield f"{key}: {addr} is also {taken[addr]}"
        else:
            taken[addr] = key


def admin_prefixes_bounded(inv: Inventory) -> Iterator[str]:
    """Router APIs and SSH are never open to the whole internet unless the stack says so explicitly."""
    if (dc := inv.datacenter) is None or dc.admin_from_anywhere:
        return
    for i, p in enumerate(dc.admin_prefixes):
        if p.prefixlen == 0:
            yield (
                f"datacenter.admin_prefixes[{i}]: {p} opens the routers' API and SSH to the whole internet; "
                "list your management networks (or set datacenter.admin_from_anywhere: true to mean it)"
            )


def host_keys_pinned(inv: Inventory) -> Iterator[str]:
    """Every hypervisor's SSH host key is pinned: an unknown key is never accepted."""
    if (dc := inv.datacenter) is None:
        return
    for hv in dc.hypervisors:
        if hv.ssh.host_key is None:
            yield (
                f"datacenter.hypervisors[{hv.name}].ssh.host_key: missing; pin the host's key "
                "(`ssh-keyscan -t ed25519 <address>` output, or its SHA256: fingerprint, verified out of band)"
            )


def inventory_unique(inv: Inventory) -> Iterator[str]:
    """Hypervisor and router names and ids, and router public addresses, are unique."""
    if (dc := inv.datacenter) is None:
        return
    yield from duplicates(dc.hypervisors, "name", "datacenter.hypervisors")
    yield from duplicates(dc.hypervisors, "id", "datacenter.hypervisors")
    yield from duplicates(dc.routers, "name", "datacenter.routers")
    yield from duplicates(dc.routers, "id", "datacenter.routers")
    yield from duplicates(dc.routers, "public_address", "datacenter.routers")


def hypervisor_ids_fit(inv: Inventory) -> Iterator[str]:
    """A hypervisor's backbone address (offset 128 + id) lies inside the site's /24."""
    if (dc := inv.datacenter) is None:
        return
    hosts = ap.site_block(inv.address_plan.backbone, 0).size
    for hv in dc.hypervisors:
        if ap.HYPERVISOR_HOST_OFFSET + hv.id >= hosts - 1:
            yield f"datacenter.hypervisors[{hv.name}].id: {hv.id} is past the end of the backbone /24 (hypervisor ids 1-126)"


def bonds_sound(inv: Inventory) -> Iterator[str]:
    """Bonds enslave known NICs, each NIC once; names are unique."""
    if (dc := inv.datacenter) is None:
        return
    for hv in dc.hypervisors:
        key = f"datacenter.hypervisors[{hv.name}]"
        nic_names = [nic.name for nic in hv.nics]
        yield from duplicates(hv.nics, "name", f"{key}.nics")
        yield from duplicates(hv.bonds, "name", f"{key}.bonds")
        enslaved: dict[str, str] = {}
        for bond in hv.bonds:
            for member in bond.interfaces:
                if member not in nic_names:
                    yield f"{key}.bonds[{bond.name}].interfaces: unknown NIC {member!r} (nics: {', '.join(nic_names)})"
                elif member in enslaved:
                    yield f"{key}.bonds[{bond.name}].interfaces: {member} is already in {enslaved[member]}"
                else:
                    enslaved[member] = bond.name


def bond_timers_sound(inv: Inventory) -> Iterator[str]:
    """Bond timers within the kernel's range, delays whole multiples of the MII interval (else the kernel rounds them)."""
    if (dc := inv.datacenter) is None:
        return
    for hv in dc.hypervisors:
        for bond in hv.bonds:
            key = f"datacenter.hypervisors[{hv.name}].bonds[{bond.name}]"
            for field in ("mii_monitor_ms", "updelay_ms", "downdelay_ms"):
                value = getattr(bond, field)
                if value > BOND_TIMER_MAX_MS:
                    yield f"{key}.{field}: {value} is past the kernel's limit of {BOND_TIMER_MAX_MS} ms"
                elif (
                    field != "mii_monitor_ms"
                    and 0 < bond.mii_monitor_ms <= BOND_TIMER_MAX_MS
                    and value % bond.mii_monitor_ms
                ):
                    yield (
                        f"{key}.{field}: {value} is not a multiple of mii_monitor_ms {bond.mii_monitor_ms}; "
                        "the kernel would round it down"
                    )


def uplinks_sound(inv: Inventory) -> Iterator[str]:
    """The management bond and the OVS uplink are two known bonds; the uplink carries full-size frames."""
    if (dc := inv.datacenter) is None:
        return
    for hv in dc.hypervisors:
        key = f"datacenter.hypervisors[{hv.name}]"
        bond_names = [b.name for b in hv.bonds]
        if hv.management_bond not in bond_names:
            yield f"{key}.management_bond: unknown bond {hv.management_bond!r} (bonds: {', '.join(bond_names)})"
        if hv.ovs.uplink not in bond_names:
            yield f"{key}.ovs.uplink: unknown bond {hv.ovs.uplink!r} (bonds: {', '.join(bond_names)})"
        elif hv.ovs.uplink == hv.management_bond:
            yield f"{key}.ovs.uplink: {hv.ovs.uplink} is also the management_bond; use the other bond"
        else:
            uplink = next(b for b in hv.bonds if b.name == hv.ovs.uplink)
            if (uplink.mtu or DEFAULT_BOND_MTU) < inv.mtu.underlay:
                yield (
                    f"{key}.bonds[{uplink.name}].mtu: {uplink.mtu or DEFAULT_BOND_MTU} is below mtu.underlay "
                    f"{inv.mtu.underlay}; the OVS uplink would drop the routers' full-size frames"
                )


def router_names_fit(inv: Inventory) -> Iterator[str]:
    """A router name fits the VM's tap name (``vt-<name>``, 15 characters)."""
    for router in inv.routers:
        yield from tap_fits(f"datacenter.routers[{router.name}]", router.name, "router")


def router_hypervisors_known(inv: Inventory) -> Iterator[str]:
    """A router runs on a hypervisor of this datacenter."""
    if (dc := inv.datacenter) is None:
        return
    names = {hv.name for hv in dc.hypervisors}
    for router in dc.routers:
        if router.hypervisor not in names:
            yield (
                f"datacenter.routers[{router.name}].hypervisor: unknown hypervisor {router.hypervisor!r} "
                f"(hypervisors: {', '.join(sorted(names))})"
            )


def router_public_addresses_usable(inv: Inventory) -> Iterator[str]:
    """A router's public address is a free host address on the gateway's link."""
    if (dc := inv.datacenter) is None:
        return
    for router in dc.routers:
        key = f"datacenter.routers[{router.name}].public_address"
        if router.public_address == dc.upstream_gateway:
            yield f"{key}: {router.public_address} is also datacenter.public_gateway"
        elif problem := _public_host_problem(dc, router.public_address, "router"):
            yield f"{key}: {problem}"


def _public_host_problem(dc: Datacenter, addr: IPAddress, what: str) -> str | None:
    """Why ``addr`` cannot be a host's address on the public VLAN (with the default route), or None."""
    gateway = dc.upstream_gateway
    if not _in_public(dc, addr):
        return f"{addr} is outside datacenter.public_prefixes"
    if unusable(addr, dc.public_prefixes):
        return f"{addr} is the network or broadcast address of its public prefix"
    if not any(addr in p and gateway in p for p in dc.public_prefixes):
        return f"{addr} is not in the same prefix as the public gateway {gateway}, so the {what}'s default route would be off-link"
    return None


def router_ids_fit(inv: Inventory) -> Iterator[str]:
    """Router ids fit the site /24s; gateway routers' the tenant networks' gateway block."""
    for router in inv.routers:
        key = f"datacenter.routers[{router.name}].id"
        if router.id >= ap.HYPERVISOR_HOST_OFFSET:
            yield f"{key}: {router.id} is past the end of the site /24s (router ids 1-127)"
        if router.gateway and router.id >= ap.GATEWAY_BLOCK:
            yield (
                f"{key}: gateway routers need an id 1-{ap.GATEWAY_BLOCK - 1} (their tenant-network address is "
                "16*site+id)"
            )


def gateway_site_fits(inv: Inventory) -> Iterator[str]:
    """The datacenter's site id has a gateway block in the tenant networks, when it has gateways and tenants."""
    if (dc := inv.datacenter) is None or not inv.tenants or dc.name not in {s.name for s in inv.sites}:
        return
    plan = inv.address_plan
    max_site = ap.max_gateway_site(plan.tenant_prefix_length)
    if inv.site_id <= max_site:
        return
    for router in dc.routers:
        if router.gateway:
            yield (
                f"datacenter.routers[{router.name}].gateway: site {dc.name} (id {inv.site_id}) has no gateway "
                f"block in /{plan.tenant_prefix_length} tenant networks (sites 1-{max_site}); lower "
                "address_plan.tenant_prefix_length"
            )


def gateway_pair(inv: Inventory) -> Iterator[str]:
    """At most two gateway routers: one VRRP pair."""
    gateways = [r for r in inv.routers if r.gateway]
    if len(gateways) > 2:
        yield (
            f"datacenter.routers: {len(gateways)} gateway routers ({', '.join(r.name for r in gateways)}); "
            "a VRRP pair is at most 2: set gateway: false on the others"
        )


def route_reflector_present(inv: Inventory) -> Iterator[str]:
    """A datacenter has a route reflector for its routers."""
    if inv.datacenter is not None and not any(r.route_reflector for r in inv.routers):
        yield "datacenter.routers: no route reflector; set route_reflector: true on at least one router"


def api_trust_clear(inv: Inventory) -> Iterator[str]:
    """A router's certificate is verified one way: ``insecure`` excludes a pin or a CA file."""
    for router in inv.routers:
        api = router.api
        if api.insecure and (api.fingerprint or api.ca_file):
            given = "fingerprint" if api.fingerprint else "ca_file"
            yield (
                f"datacenter.routers[{router.name}].api.insecure: true together with api.{given}; "
                f"remove insecure to verify against the {given}"
            )


def api_key_set(inv: Inventory) -> Iterator[str]:
    """Routers need the API key, as a Pulumi secret."""
    if inv.vyos_api_key is None and inv.routers:
        yield "vyos_api_key: missing secret; set it with `pulumi config set --secret fabric:vyos_api_key <key>`"


RULES = (
    public_prefixes_usable,
    public_gateway_usable,
    hypervisor_addresses_free,
    nat_addresses_usable,
    admin_prefixes_bounded,
    host_keys_pinned,
    inventory_unique,
    hypervisor_ids_fit,
    bonds_sound,
    bond_timers_sound,
    uplinks_sound,
    router_names_fit,
    router_hypervisors_known,
    router_public_addresses_usable,
    router_ids_fit,
    gateway_site_fits,
    gateway_pair,
    route_reflector_present,
    api_trust_clear,
)
