"""Tenant DHCP and DNS, served by the hypervisors of the tenant's gateway routers, not by the routers.

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
  input filter admits only DHCP and DNS to it from a tenant bridge);
* leasing its slice less its own address (the slice's first), with the site's VRRP
  address as router, the tenant's resolvers as DNS servers (its own address first), the tenant domain (option 15) and
  the tenant MTU (option 26, which the VyOS 1.5 server could not send), no NTP.

DNS (README "Tenant DNS"): VyOS's DNS forwarding (PowerDNS recursor) has no VRF option in
1.5 or 1.4 (the schema fabric carries has none), so the same hosts serve it: per tenant one
dnsmasq (``fabric-dns-<tenant>.service``), started by ``ip vrf exec <tenant>`` so every socket
it opens is in the tenant's VRF (kernel vrf.rst). It listens on the DHCP servers' addresses
only, answers ``<tenant>.<domain>`` from its records alone (the tenant's VMs with a fixed
address: ``<vm>.<tenant>.<domain>``, and their reverse names), and forwards other names to
``dns.forward`` through the tenant's first segment's gateway, so the queries leave through
the tenant's own exit and egress policy (the checks refuse a forwarder it does not admit).
Without forwarders it answers its zone only.

ASSUMED, from systemd.network(5) and sd-dhcp-server: the server binds to its link (so it
serves inside a VRF), and ``Router=`` needs systemd 249 (the hypervisors run 257). ASSUMED,
from ip-vrf(8): ``ip vrf exec`` needs cgroup v2 with BPF (Arch's kernels have it).
"""

from __future__ import annotations

from fabric.render.linux.network import DIR, RELOAD, RELOAD_ACTION
from fabric.render.linux.state import Concern, HostAction, HostFile
from fabric.render.linux.text import exec_line, header, ini
from fabric.topology import DhcpPlan, DnsPlan, HypervisorPlan, Plan

#: Where a tenant resolver's dnsmasq config lives on the hypervisor.
DNS_DIR = "/etc/fabric/dns"
DNSMASQ = "/usr/bin/dnsmasq"
IP = "/usr/bin/ip"


def dns_unit(d: DnsPlan) -> str:
    return f"fabric-dns-{d.tenant.name}.service"


def dns_conf_path(d: DnsPlan) -> str:
    return f"{DNS_DIR}/{d.tenant.name}.conf"


def dnsmasq_argv(d: DnsPlan) -> tuple[str, ...]:
    """dnsmasq in the tenant's VRF, in the foreground (systemd supervises it), with its config only."""
    return (IP, "vrf", "exec", d.tenant.vrf, DNSMASQ, "--keep-in-foreground", f"--conf-file={dns_conf_path(d)}")


def dns_config(head: str, d: DnsPlan) -> str:
    """dnsmasq(8) options: its addresses only, its zone from its records only, the rest forwarded."""
    zone = d.tenant.zone
    lines = [
        head,
        "port=53",
        # Its addresses as networkd brings them up (at boot dnsmasq may start first).
        "bind-dynamic",
        *(f"listen-address={a}" for a in d.listen),
        # Nothing of the host's: not its resolv.conf, not its /etc/hosts.
        "no-resolv",
        "no-hosts",
        "no-poll",
        "domain-needed",
        f"local=/{zone}/",
        f"domain={zone}",
        *(f"host-record={name},{address}" for name, address in d.records),
        *(f"server={f}" for f in d.tenant.dns_forward),
        "cache-size=1000",
        "pid-file=",
    ]
    return "\n".join(lines) + "\n"


def _dns_unit(head: str, d: DnsPlan) -> str:
    return ini(
        head,
        [
            (
                "Unit",
                [
                    ("Description", f"fabric tenant {d.tenant.name} DNS (dnsmasq in VRF {d.tenant.vrf})"),
                    ("Documentation", "man:dnsmasq(8)"),
                    ("Wants", "network-online.target"),
                    ("After", "network-online.target systemd-networkd.service"),
                ],
            ),
            (
                "Service",
                [
                    ("Type", "exec"),
                    ("ExecStart", exec_line(dnsmasq_argv(d))),
                    ("Restart", "on-failure"),
                    ("RestartSec", "5s"),
                ],
            ),
            ("Install", [("WantedBy", "multi-user.target")]),
        ],
    )


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


def _server_network(head: str, plan: Plan, d: DhcpPlan, dns: DnsPlan | None) -> str:
    t = d.tenant
    network = d.segment.network
    assert d.resolvers, "a DHCP server hands out the tenant's resolvers, never the host's"
    # The resolver's way to its forwarders, in the VRF's table: the first segment's gateway.
    gateway = dns is not None and d.segment.first and bool(t.dns_forward)
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
                    *([("Gateway", dns.gateway)] if gateway and dns is not None else []),
                ],
            ),
            (
                "DHCPServer",
                [
                    ("PoolOffset", int(d.first) - network.first),
                    ("PoolSize", int(d.last) - int(d.first) + 1),
                    ("EmitRouter", "yes"),
                    ("Router", d.router),
                    ("EmitDNS", "yes"),
                    ("DNS", " ".join(map(str, d.resolvers))),
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
    resolvers = {r.tenant.id: r for r in hv.dns}
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
                _server_network(head, plan, d, resolvers.get(d.tenant.id)),
                reload=(RELOAD,),
                # networkd leaves what it set on a link whose config shrank: take the server off the bridge.
                cleanup=(("ip", "address", "flush", "dev", br), ("ip", "link", "set", br, "nomaster")),
            ),
        ]
    actions = [RELOAD_ACTION, HostAction("daemon-reload", (("systemctl", "daemon-reload"),))]
    for r in hv.dns:
        unit, restart = dns_unit(r), f"dns-{r.tenant.name}"
        files += [
            HostFile(dns_conf_path(r), dns_config(head, r), reload=(restart,)),
            HostFile(
                f"/etc/systemd/system/{unit}",
                _dns_unit(head, r),
                reload=("daemon-reload", restart),
                cleanup=(("systemctl", "disable", "--now", unit),),
            ),
        ]
        # After networkd has the addresses it listens on (RELOAD_ACTION comes first).
        actions.append(HostAction(restart, (("systemctl", "enable", unit), ("systemctl", "restart", unit))))
    return Concern(tuple(files), tuple(actions))
