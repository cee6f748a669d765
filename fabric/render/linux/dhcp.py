"""Tenant DHCP, served by the hypervisors of the tenant's gateway routers, not by the routers.

VyOS 1.5's DHCP server (Kea, in the vyos-1x schema fabric carries) serves nothing on a
segment in a VRF (its fallback socket binds to the address without the device, which a
VRF address refuses) and has no raw option to send the tenant MTU. So no router serves
DHCP, on 1.5 as on 1.4 (one design); each gateway router's hypervisor serves that
router's slice of the dynamic range with systemd-networkd's DHCP server:

* an Open vSwitch internal port ``dhcp<vlan>``, tagged with the tenant VLAN, on the bridge
  that trunks the router VM: requests from the whole segment reach it (on this host by
  the VLAN, from other sites through the router's VXLAN);
* in a VRF with the tenant's table, so the host's own routing never holds a tenant
  network and nothing the host runs (sshd, FRR) answers there;
* leasing its slice less its own address (the slice's first), with the site's VRRP
  address as router, the tenant domain (option 15) and the tenant MTU (option 26,
  which the VyOS 1.5 server could not send), no DNS or NTP of the host's.

ASSUMED, from systemd.network(5) and sd-dhcp-server: the server binds to its link (so it
serves inside a VRF), and ``Router=`` needs systemd 249 (the hypervisors run 257).
"""

from __future__ import annotations

from fabric.render.linux.network import DIR, RELOAD, RELOAD_ACTION
from fabric.render.linux.ovs import VSCTL
from fabric.render.linux.state import Concern, HostAction, HostFile
from fabric.render.linux.text import header, ini
from fabric.topology import DhcpPlan, HypervisorPlan, Plan

#: Prefix of the DHCP servers' OVS ports (``dhcp<vlan>``).
PORT_PREFIX = "dhcp"
PORTS = "dhcp-ports"

# $1 the bridge, $2... the ports to keep: delete every other dhcp* port of the bridge.
PRUNE_PORTS = (
    'br=$1; shift; keep=" $* "; '
    'for p in $(ovs-vsctl --timeout=30 list-ports "$br"); do '
    'case "$p" in dhcp[0-9]*) case "$keep" in *" $p "*) ;; '
    '*) ovs-vsctl --timeout=30 -- --if-exists del-port "$br" "$p";; esac;; esac; done'
)


def port_name(d: DhcpPlan) -> str:
    return f"{PORT_PREFIX}{d.tenant.vlan}"


def port_commands(bridge: str, servers: tuple[DhcpPlan, ...]) -> tuple[tuple[str, ...], ...]:
    """Idempotent ovs-vsctl commands: each server's internal port in its VLAN, no other."""
    commands: list[tuple[str, ...]] = []
    for d in servers:
        port = port_name(d)
        commands.append(
            (
                *VSCTL, "--may-exist", "add-port", bridge, port,
                "--", "set", "Interface", port, "type=internal",
                "--", "set", "Port", port, f"tag={d.tenant.vlan}",
            )
        )  # fmt: skip
    commands.append(("sh", "-c", PRUNE_PORTS, "prune-dhcp", bridge, *(port_name(d) for d in servers)))
    return tuple(commands)


def _vrf_netdev(head: str, d: DhcpPlan) -> str:
    return ini(head, [("NetDev", [("Name", d.tenant.vrf), ("Kind", "vrf")]), ("VRF", [("Table", d.tenant.vrf_table)])])


def _vrf_network(head: str, d: DhcpPlan) -> str:
    return ini(
        head,
        [
            ("Match", [("Name", d.tenant.vrf)]),
            ("Link", [("RequiredForOnline", "no")]),
            ("Network", [("LinkLocalAddressing", "no"), ("IPv6AcceptRA", "no")]),
        ],
    )


def _server_network(head: str, plan: Plan, d: DhcpPlan) -> str:
    t = d.tenant
    network = t.network
    return ini(
        head,
        [
            ("Match", [("Name", port_name(d))]),
            ("Link", [("MTUBytes", plan.mtu.tenant), ("RequiredForOnline", "no")]),
            (
                "Network",
                [
                    ("VRF", t.vrf),
                    ("Address", f"{d.address}/{network.prefixlen}"),
                    ("LinkLocalAddressing", "no"),
                    ("IPv6AcceptRA", "no"),
                    ("ConfigureWithoutCarrier", "yes"),
                    ("DHCPServer", "yes"),
                ],
            ),
            (
                "DHCPServer",
                [
                    ("PoolOffset", int(d.first) - network.first),
                    ("PoolSize", int(d.last) - int(d.first) + 1),
                    ("EmitRouter", "yes"),
                    ("Router", d.router),
                    ("EmitDNS", "no"),
                    ("EmitNTP", "no"),
                    ("EmitTimezone", "no"),
                    ("SendOption", f"15:string:{t.name}.{plan.domain}"),
                    ("SendOption", f"26:uint16:{plan.mtu.tenant}"),
                ],
            ),
        ],
    )


def render(plan: Plan, hv: HypervisorPlan) -> Concern:
    head = header(hv.spec.name)
    bridge = hv.spec.ovs.bridge
    files: list[HostFile] = []
    for d in hv.dhcp:
        port, vrf = port_name(d), d.tenant.vrf
        files += [
            HostFile(
                f"{DIR}/60-{vrf}.netdev",
                _vrf_netdev(head, d),
                reload=(RELOAD,),
                cleanup=(("ip", "link", "delete", vrf),),
            ),
            HostFile(f"{DIR}/60-{vrf}.network", _vrf_network(head, d), reload=(RELOAD,)),
            HostFile(
                f"{DIR}/61-{port}.network",
                _server_network(head, plan, d),
                reload=(PORTS, RELOAD),
                cleanup=((*VSCTL, "--if-exists", "del-port", bridge, port),),
            ),
        ]
    actions = (HostAction(PORTS, port_commands(bridge, hv.dhcp)), RELOAD_ACTION)
    return Concern(tuple(files), actions)
