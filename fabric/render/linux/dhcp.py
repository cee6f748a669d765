"""Tenant DHCP, served by the hypervisors of the tenant's gateway routers, not by the routers.

VyOS 1.5's DHCP server (Kea, in the vyos-1x schema fabric carries) serves nothing on a
segment in a VRF (its fallback socket binds to the address without the device, which a
VRF address refuses) and has no raw option to send the tenant MTU. So no router serves
DHCP, on 1.5 as on 1.4 (one design); each gateway router's hypervisor serves that
router's slice of the dynamic range with systemd-networkd's DHCP server:

* on the tenant's bridge on the hypervisor (``br<vni>``, which the segments concern makes:
  this host is a VTEP of every tenant whose DHCP it serves), through a networkd drop-in
  (``60-br<vni>.network.d/50-dhcp.conf``): requests from the whole segment reach it, from
  VMs on this host through the bridge, from everywhere else through EVPN;
* in a VRF with the tenant's table, so the host's own routing never holds a tenant
  network and nothing the host runs (sshd, FRR) answers there (the forwarding concern's
  input filter admits only DHCP from a tenant bridge);
* leasing its slice less its own address (the slice's first), with the site's VRRP
  address as router, the tenant domain (option 15) and the tenant MTU (option 26,
  which the VyOS 1.5 server could not send), no DNS or NTP of the host's.

ASSUMED, from systemd.network(5) and sd-dhcp-server: the server binds to its link (so it
serves inside a VRF), and ``Router=`` needs systemd 249 (the hypervisors run 257).
"""

from __future__ import annotations

from fabric.render.linux.network import DIR, RELOAD, RELOAD_ACTION
from fabric.render.linux.state import Concern, HostFile
from fabric.render.linux.text import header, ini
from fabric.topology import DhcpPlan, HypervisorPlan, Plan


def drop_in_path(d: DhcpPlan) -> str:
    """The drop-in that makes the tenant's bridge on this host its DHCP server."""
    return f"{DIR}/60-{d.segment.bridge}.network.d/50-dhcp.conf"


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
    network = d.segment.network
    return ini(
        head,
        [
            (
                "Network",
                [
                    ("VRF", t.vrf),
                    ("Address", f"{d.address}/{network.prefixlen}"),
                    ("IPv6AcceptRA", "no"),
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
    files: list[HostFile] = []
    vrfs: set[str] = set()
    for d in hv.dhcp:
        vrf, br = d.tenant.vrf, d.segment.bridge
        if vrf not in vrfs:  # one VRF per tenant, for all of its segments here
            vrfs.add(vrf)
            files += [
                HostFile(
                    f"{DIR}/60-{vrf}.netdev",
                    _vrf_netdev(head, d),
                    reload=(RELOAD,),
                    cleanup=(("ip", "link", "delete", vrf),),
                ),
                HostFile(f"{DIR}/60-{vrf}.network", _vrf_network(head, d), reload=(RELOAD,)),
            ]
        files += [
            HostFile(
                drop_in_path(d),
                _server_network(head, plan, d),
                reload=(RELOAD,),
                # networkd leaves what it set on a link whose config shrank: take the server off the bridge.
                cleanup=(("ip", "address", "flush", "dev", br), ("ip", "link", "set", br, "nomaster")),
            ),
        ]
    return Concern(tuple(files), (RELOAD_ACTION,))
