"""A VTEP's host state: the WireGuard mesh, tenant segments, forwarding, FRR.

Linux nodes (cloud nodes, small sites, the lab) join the fabric as the CIAB seed's
nodes do, but configured from the plan: ``render_node(plan, node)`` returns files and
idempotent actions by concern, the same shape as a hypervisor's, so the host provider
applies it over SSH and cloud-init writes it on a cloud node's first boot. A hypervisor
in the mesh is the same kind of VTEP, an L2 one (``NodePlan.l2``, as an ``l2`` node is):
these concerns are part of its state, with three differences, all here: no address on
its segments (it only bridges them), its tenant ports (VMs' taps) as bridge ports, and
a filter that keeps the segments off the host and each port to its own MAC and tenant
network.

* ``wireguard``: ``/etc/wireguard/wg0.conf`` for ``wg-quick`` (kernel WireGuard, or
  ``wireguard-go`` where the kernel has none). ``Table = off``: the interface's /20
  address already routes the whole mesh into ``wg0``. A change is applied with
  ``wg syncconf`` (peers and keys, no tunnel is torn down); a stopped tunnel is started.
* ``segments``: per tenant segment a VXLAN device (VNI, sourced from the mesh address so it
  rides inside WireGuard, no MAC learning: EVPN learns) enslaved to a bridge holding
  the node's address on the segment, as systemd-networkd files.
* ``forwarding``: an nftables filter so the node never carries one tenant into another
  (it holds an address on every segment it carries): nothing is forwarded but, on cloud
  nodes, each tenant's cloud subnet to its own segment and back, between the tenant's own
  prefixes (its isolation policy's own-prefix rule, :mod:`fabric.isolation`; IP forwarding
  is on there); a segment reaches the node only within its tenant's network.
* Removing a file undoes what it made (``cleanup``): a dropped tenant's VXLAN device
  and bridge are deleted (networkd never deletes a netdev), the tunnel and FRR stop
  when their config goes.
* ``frr``: bgpd with the ``datacenter`` profile; iBGP EVPN sessions to the route
  reflectors over mesh addresses, ``advertise-all-vni``. Route targets are FRR's
  automatic ``asn:vni``, which the VyOS routers' segments use as well.
"""

from __future__ import annotations

from collections.abc import Callable

from fabric.deferred import WIREGUARD_PRIVATE_KEY, Deferred, compose
from fabric.render.linux.network import RELOAD_ACTION
from fabric.render.linux.state import Concern, HostAction, HostFile, HostState
from fabric.render.linux.text import header, ini
from fabric.render.vyos.bgp import HOLDTIME, KEEPALIVE
from fabric.topology import NodePlan, Plan, TenantOnNode, TenantPort

MESH = "wg0"
WG_CONF = f"/etc/wireguard/{MESH}.conf"
NETWORKD = "/etc/systemd/network"
SYSCTL = "/etc/sysctl.d/90-fabric.conf"
NFTABLES = "/etc/nftables.conf"
FRR_CONF = "/etc/frr/frr.conf"
FRR_DAEMONS = "/etc/frr/daemons"
#: The standard VXLAN port (IANA 4789); it only ever appears inside WireGuard.
VXLAN_PORT = 4789


def _head(node: NodePlan, comment: str = "#") -> str:
    return header(node.name, kind=node.kind, comment=comment)


def wireguard(plan: Plan, node: NodePlan) -> Concern:
    interface = [
        _head(node),
        "",
        "[Interface]",
        f"Address = {node.mesh_address}/{plan.control_plane.prefixlen}",
        f"ListenPort = {plan.mesh_port}",
        f"MTU = {plan.mtu.wireguard}",
        "Table = off",
    ]
    peers: list[str | Deferred] = []
    for peer in node.wireguard_peers:
        peers += ["\n[Peer]\n", f"# {peer.name}\n", "PublicKey = ", peer.public_key, "\n"]
        peers.append(f"AllowedIPs = {', '.join(peer.allowed_ips)}\n")
        if peer.endpoint:
            peers += ["Endpoint = ", peer.endpoint, f":{peer.port}\n"]
        if plan.mesh_keepalive:
            peers.append(f"PersistentKeepalive = {plan.mesh_keepalive}\n")
    unit = f"wg-quick@{MESH}"
    sync = (
        f"if systemctl is-active -q {unit}; then wg-quick strip {MESH} > /run/fabric-{MESH}.conf"
        f" && wg syncconf {MESH} /run/fabric-{MESH}.conf; rc=$?; rm -f /run/fabric-{MESH}.conf; exit $rc;"
        f" else systemctl restart {unit}; fi"
    )
    # The private key, and keys and addresses known after `up`, are slots the provider fills in, never text.
    content, slots = compose(["\n".join(interface), "\nPrivateKey = ", WIREGUARD_PRIVATE_KEY, "\n", *peers])
    return Concern(
        files=(
            HostFile(
                WG_CONF,
                content,
                slots=slots,
                mode=0o600,
                reload=("wg-sync",),
                cleanup=(("systemctl", "disable", "--now", unit),),
            ),
        ),
        actions=(HostAction("wg-sync", (("systemctl", "enable", unit), ("sh", "-c", sync))),),
    )


def segments(plan: Plan, node: NodePlan) -> Concern:
    head = _head(node)
    files = []
    for t in node.tenants:
        vx, br, seg = t.segment.vxlan, t.segment.bridge, t.segment
        files += [
            HostFile(
                f"{NETWORKD}/60-{br}.netdev",
                ini(
                    head,
                    [
                        ("NetDev", [("Name", br), ("Kind", "bridge"), ("MTUBytes", plan.mtu.tenant)]),
                        ("Bridge", [("STP", "no")]),
                    ],
                ),
                reload=("networkd-reload",),
                cleanup=(("ip", "link", "delete", br),),
            ),
            HostFile(
                f"{NETWORKD}/60-{vx}.netdev",
                ini(
                    head,
                    [
                        ("NetDev", [("Name", vx), ("Kind", "vxlan"), ("MTUBytes", plan.mtu.tenant)]),
                        (
                            "VXLAN",
                            [
                                ("VNI", seg.vni),
                                ("Local", node.mesh_address),
                                ("DestinationPort", VXLAN_PORT),
                                ("MacLearning", "no"),
                                ("Independent", "yes"),
                            ],
                        ),
                    ],
                ),
                reload=("networkd-reload",),
                cleanup=(("ip", "link", "delete", vx),),
            ),
            HostFile(
                f"{NETWORKD}/60-{vx}.network",
                ini(
                    head,
                    [
                        ("Match", [("Name", vx)]),
                        # The MTU again here: networkd applies .network settings to a live link
                        # on reload, never a changed .netdev to an existing device.
                        ("Link", [("MTUBytes", plan.mtu.tenant)]),
                        (
                            "Network",
                            [("Bridge", br), ("LinkLocalAddressing", "no"), ("ConfigureWithoutCarrier", "yes")],
                        ),
                        ("Bridge", [("Learning", "no"), ("NeighborSuppression", "yes")]),
                    ],
                ),
                reload=("networkd-reload",),
            ),
            HostFile(f"{NETWORKD}/60-{br}.network", ini(head, _bridge_network(plan, t)), reload=("networkd-reload",)),
        ]
        files += [_tap_network(plan, head, br, port) for port in t.ports]
    return Concern(
        files=tuple(files),
        actions=(RELOAD_ACTION,),
    )


def _bridge_network(plan: Plan, t: TenantOnNode) -> list[tuple[str, list[tuple[str, object]]]]:
    """The segment's bridge: the node's address, and the tenant's other prefixes via its home gateway."""
    tp, seg = t.tenant, t.segment
    address = [] if t.address is None else [("Address", f"{t.address}/{seg.network.prefixlen}")]
    # A bridge without an address never gets past "carrier": not what wait-online waits for.
    online = [] if t.address is not None else [("RequiredForOnline", "no")]
    sections: list[tuple[str, list[tuple[str, object]]]] = [
        ("Match", [("Name", seg.bridge)]),
        ("Link", [("MTUBytes", plan.mtu.tenant), *online]),
        (
            "Network",
            [
                ("Description", f"tenant {tp.name} (id {tp.id})" + ("" if seg.first else f" segment {seg.name}")),
                *address,
                ("LinkLocalAddressing", "no"),
                ("ConfigureWithoutCarrier", "yes"),
            ],
        ),
    ]
    if t.home_vrrp_address is not None and t.cloud_subnet is not None:
        sections += [("Route", [("Destination", p), ("Gateway", t.home_vrrp_address)]) for p in tp.prefixes[1:]]
    return sections


def _tap_network(plan: Plan, head: str, bridge: str, port: TenantPort) -> HostFile:
    """A tenant port (``vt-<name>``: a VM's tap made by systemd-vmspawn, a container's veth) as a
    port of its tenant's bridge, at the tenant MTU, whenever it appears. It sorts before
    ``80-vm-vt.network`` (router taps), so networkd uses it."""
    return HostFile(
        f"{NETWORKD}/61-{port.tap}.network",
        ini(
            head,
            [
                ("Match", [("Name", port.tap)]),
                # A VM's tap exists only while it runs: boot never waits for it.
                ("Link", [("MTUBytes", plan.mtu.tenant), ("RequiredForOnline", "no")]),
                (
                    "Network",
                    [
                        ("Description", f"tenant port {port.name}"),
                        ("Bridge", bridge),
                        ("LinkLocalAddressing", "no"),
                        ("ConfigureWithoutCarrier", "yes"),
                    ],
                ),
            ],
        ),
        reload=("networkd-reload",),
    )


def forwarding(plan: Plan, node: NodePlan) -> Concern:
    """The node never carries one tenant into another: a forward filter that drops all
    but each cloud subnet to and from its own segment, and an input filter that answers
    a segment only on that tenant's own network (a node holds an address on every
    tenant it carries). Cloud nodes also turn IP forwarding on. An L2 VTEP (a hypervisor)
    gets :func:`_l2_filter` instead."""
    if node.l2:
        return _l2_filter(node)
    routed = [t for t in node.tenants if t.cloud_subnet is not None]
    forward, local = [], []
    for t in node.tenants:
        br, name = t.segment.bridge, t.tenant.name
        local.append(
            f'        iifname "{br}" ip daddr != {t.segment.network} drop comment "tenant {name}: only its own network"'
        )
        # The node is the tenant's next hop, not a service: ping it, nothing else (no SSH, no BGP).
        local.append(f'        iifname "{br}" meta l4proto != icmp drop comment "tenant {name}: only ICMP to the node"')
        forward.append(_own_segment(t))
        if t.cloud_subnet is not None:
            # The tenant policy's own-prefix rule, the one that applies here (the cloud's route
            # table sends the node only the tenant's prefixes; egress leaves through the cloud).
            rule = t.tenant.policy.own_rule
            own = "{ " + ", ".join(str(p) for p in rule.destinations) + " }"
            forward += [
                # Only from outside the segments: no tenant can pose as another's cloud subnet.
                f'        iifname != "br*" ip saddr {t.cloud_subnet} ip daddr {own} oifname "{br}" accept'
                f' comment "tenant {name}: cloud to fabric ({rule.reason})"',
                f'        iifname "{br}" ip saddr {own} ip daddr {t.cloud_subnet} accept'
                f' comment "tenant {name}: fabric to cloud ({rule.reason})"',
            ]
    inet = [
        "    chain forward {",
        "        type filter hook forward priority filter; policy drop;",
        "        ct state established,related accept",
        "        ct state invalid drop",
        # Cloud workloads' MTU is above the tenants': clamp TCP to the path instead of relying on ICMP.
        *(["        tcp flags syn tcp option maxseg size set rt mtu"] if routed else []),
        *forward,
        "    }",
        "    chain input {",
        "        type filter hook input priority filter; policy accept;",
        *_overlay_only_in_mesh(),
        *local,
        "    }",
    ]
    comment = "# Tenants: each cloud subnet to its own segment and back; nothing else is forwarded."
    return _nftables(node, comment, {"inet": inet}, routed=bool(routed))


def _own_segment(t: TenantOnNode) -> str:
    """Bridged frames reach the forward hook too where br_netfilter is loaded (next to Docker,
    say), as from the bridge to itself: those stay in their segment."""
    br = t.segment.bridge
    return f'        iifname "{br}" oifname "{br}" accept comment "tenant {t.tenant.name}: its own segment"'


def _overlay_only_in_mesh() -> list[str]:
    """VXLAN and BGP are answered only inside WireGuard: the kernel's VXLAN socket listens on every
    address and, without learning, takes a frame from anyone; bgpd listens everywhere too."""
    return [
        f'        udp dport {VXLAN_PORT} iifname != "{MESH}" drop comment "VXLAN only inside WireGuard"',
        f'        tcp dport 179 iifname != "{MESH}" drop comment "BGP only inside WireGuard"',
    ]


def _l2_filter(node: NodePlan) -> Concern:
    """An L2 VTEP (a hypervisor) only bridges its tenants' segments: it routes nothing into or out
    of them, its own services (SSH, FRR, WireGuard) answer none of them, ARP for its addresses is
    not answered there, and each tenant port speaks only IPv4 and ARP, from its own MAC and its
    own sources (its address or the DHCP range), and serves no DHCP. The one exception is the
    DHCP server and resolver of a tenant a hypervisor serves (``dhcp`` concern): DHCP and DNS to
    it, the answers from its forwarders to the resolver's queries, and ARP for its address. VXLAN
    and BGP are taken only from inside WireGuard, as on every VTEP."""
    accepts: list[str] = []
    inet, arp, bridge = [], [], []
    answered: set[str] = set()
    for t in node.tenants:
        br, tp = t.segment.bridge, t.tenant
        # A bridge in the DHCP server's VRF: the input hook names the VRF device (kernel vrf.rst), so
        # both; the VRF device stands for all the tenant's segments, so every accept comes first.
        ins = f'{{ "{br}", "{tp.vrf}" }}' if t.dhcp_server is not None else f'"{br}"'
        if t.dhcp_server is not None:
            accepts += [
                f'        iifname {ins} udp dport 67 accept comment "tenant {tp.name}: DHCP"',
                f"        iifname {ins} ip daddr {t.dhcp_server} meta l4proto {{ udp, tcp }} th dport 53 accept"
                f' comment "tenant {tp.name}: DNS"',
            ]
            if tp.dns_forward and tp.vrf not in answered:
                answered.add(tp.vrf)
                forwarders = ", ".join(map(str, tp.dns_forward))
                accepts.append(
                    f'        iifname "{tp.vrf}" ip saddr {{ {forwarders} }} th sport 53 ct state established accept'
                    f' comment "tenant {tp.name}: its resolver\'s answers"'
                )
                accepts.append(
                    f'        iifname "{tp.vrf}" meta l4proto icmp ct state related accept'
                    f' comment "tenant {tp.name}: errors about its resolver\'s queries"'
                )
            arp.append(f'        iifname "{br}" arp daddr ip {t.dhcp_server} accept comment "tenant {tp.name}: DHCP"')
        inet.append(f'        iifname {ins} drop comment "tenant {tp.name}: not the host\'s"')
        arp.append(f'        iifname "{br}" drop comment "tenant {tp.name}: not the host\'s"')
        for p in t.ports:
            own = "{ 0.0.0.0, " + ", ".join(p.sources) + " }"
            bridge += [
                f'        iifname "{p.tap}" ether saddr != {p.mac} drop comment "port {p.name}: its own MAC"',
                # IPv4 and ARP only: a VLAN tag, IPv6 or anything else would pass the rules below.
                f'        iifname "{p.tap}" ether type != {{ ip, arp }} drop comment "port {p.name}: IPv4 and ARP"',
                f'        iifname "{p.tap}" ip saddr != {own} drop comment "port {p.name}: its own address"',
                f'        iifname "{p.tap}" arp saddr ether != {p.mac} drop comment "port {p.name}: its own MAC"',
                f'        iifname "{p.tap}" arp saddr ip != {own} drop comment "port {p.name}: its own address"',
                f'        iifname "{p.tap}" udp sport 67 drop comment "port {p.name}: no DHCP server"',
            ]
    bridges = ", ".join(f'"{t.segment.bridge}"' for t in node.tenants)
    # Bridged frames stay in their own segment; anything routed into or out of a segment does not pass.
    forward = [_own_segment(t) for t in node.tenants]
    forward += [f"        iifname {{ {bridges} }} drop", f"        oifname {{ {bridges} }} drop"] if bridges else []
    tables = {
        "inet": [
            "    chain forward {",
            "        type filter hook forward priority filter; policy accept;",
            *forward,
            "    }",
            "    chain input {",
            "        type filter hook input priority filter; policy accept;",
            *_overlay_only_in_mesh(),
            *accepts,
            *inet,
            "    }",
        ],
        "arp": ["    chain input {", "        type filter hook input priority filter; policy accept;", *arp, "    }"],
        "bridge": [
            "    chain prerouting {",
            "        type filter hook prerouting priority filter; policy accept;",
            *bridge,
            "    }",
        ],
    }
    comment = "# Tenant segments are only bridged here: never routed, never the host's; each port keeps to its own."
    return _nftables(node, comment, tables, routed=False)


def _nftables(node: NodePlan, comment: str, tables: dict[str, list[str]], routed: bool) -> Concern:
    """``/etc/nftables.conf`` with a table ``fabric`` per family in ``tables`` (family -> its
    chains), each replaced whole, and IP forwarding on where the node routes (cloud nodes)."""
    replace = [line for family in tables for line in (f"table {family} fabric", f"delete table {family} fabric")]
    bodies = [line for family, chains in tables.items() for line in (f"table {family} fabric {{", *chains, "}")]
    nft = "\n".join(["#!/usr/sbin/nft -f", _head(node), comment, *replace, *bodies])
    files = [
        HostFile(
            NFTABLES,
            nft + "\n",
            mode=0o755,
            reload=("nftables",),
            cleanup=tuple(("nft", "delete", "table", family, "fabric") for family in tables),
        )
    ]
    if routed:
        files.insert(
            0,
            HostFile(
                SYSCTL,
                f"{_head(node)}\nnet.ipv4.ip_forward = 1\n",
                reload=("sysctl",),
                cleanup=(("sysctl", "-w", "net.ipv4.ip_forward=0"),),
            ),
        )
    return Concern(
        files=tuple(files),
        actions=(
            HostAction("sysctl", (("sysctl", "-p", SYSCTL),)),
            HostAction("nftables", (("systemctl", "enable", "nftables"), ("nft", "-f", NFTABLES))),
        ),
    )


def frr_config(plan: Plan, node: NodePlan) -> str:
    """The node's ``frr.conf`` (integrated config)."""
    me = node.mesh_address
    lines = [
        _head(node, comment="!"),
        "frr defaults datacenter",
        f"hostname {node.name}",
        "log syslog informational",
        "service integrated-vtysh-config",
        "!",
        f"router bgp {plan.asn}",
        f" bgp router-id {me}",
        " bgp log-neighbor-changes",
        " no bgp default ipv4-unicast",
        f" timers bgp {KEEPALIVE} {HOLDTIME}",
    ]
    if node.route_reflector:
        lines.append(f" bgp cluster-id {me}")
    for n in node.bgp_neighbors:
        role = "route-reflector client" if n.client else "route reflector"
        lines += [
            f" neighbor {n.address} remote-as internal",
            f" neighbor {n.address} description {n.name} ({role})",
            f" neighbor {n.address} update-source {me}",
        ]
    lines += [" !", " address-family l2vpn evpn"]
    for n in node.bgp_neighbors:
        lines.append(f"  neighbor {n.address} activate")
        if n.client:
            lines.append(f"  neighbor {n.address} route-reflector-client")
    lines += ["  advertise-all-vni", " exit-address-family", "exit", "!"]
    return "\n".join(lines) + "\n"


def frr(plan: Plan, node: NodePlan) -> Concern:
    daemons = "\n".join(
        [
            _head(node),
            "bgpd=yes",
            "vtysh_enable=yes",
            'zebra_options="  -A 127.0.0.1 -s 90000000"',
            'bgpd_options="   -A 127.0.0.1"',
            # Seconds, not minutes, to notice a lost peer (the datacenter profile's timers).
            'frr_profile="datacenter"',
        ]
    )
    return Concern(
        files=(
            HostFile(FRR_DAEMONS, daemons + "\n", mode=0o640, owner="frr", reload=("frr-restart",)),
            HostFile(
                FRR_CONF,
                frr_config(plan, node),
                mode=0o640,
                owner="frr",
                reload=("frr-reload",),
                cleanup=(("systemctl", "disable", "--now", "frr"),),
            ),
        ),
        actions=(
            HostAction("frr-restart", (("systemctl", "enable", "frr"), ("systemctl", "restart", "frr"))),
            HostAction("frr-reload", (("systemctl", "reload-or-restart", "frr"),)),
        ),
    )


#: Concern name -> renderer, in apply order: the tunnel, the segments over it, then BGP.
CONCERNS: dict[str, Callable[[Plan, NodePlan], Concern]] = {
    "wireguard": wireguard,
    "segments": segments,
    "forwarding": forwarding,
    "frr": frr,
}


def render_node(plan: Plan, node: NodePlan) -> HostState:
    """One ``frr`` node's files and actions."""
    return HostState(host=node.name, concerns={name: render(plan, node) for name, render in CONCERNS.items()})
