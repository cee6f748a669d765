"""Tenant DHCP and DNS from the gateway routers' hypervisors (``fabric/render/linux/dhcp.py``).

What each server leases and tells its clients is checked on the rendered files, and for
real: systemd-networkd (run in a namespace as a container manager would) serves with the
tenant bridge's rendered file and its DHCP drop-in, and ISC dhclient takes a lease with the
router, domain, resolver and MTU; real dnsmasq serves with the rendered resolver config and
real dig asks it. The hypervisor's VRF is checked as rendered only: this kernel has no VRF
module.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from netaddr import IPAddress

from fabric import addressing as ap
from fabric import stackfile
from fabric.render.linux import dhcp, render_hypervisor
from fabric.render.vyos import SECTIONS, render_routers
from tests.conftest import ROOT
from tests.unit.test_render_linux import build, one, parse_ini, raw_config

PLAN = build(raw_config())


def _servers(host: str) -> dict[str, dict[str, dict[str, list[str]]]]:
    hv = next(h for h in PLAN.hypervisors if h.spec.name == host)
    state = render_hypervisor(PLAN, hv)
    return {f.path: parse_ini(f.content) for f in state.concerns["dhcp"].files if "/60-br10010.network.d/" in f.path}


def test_each_gateway_routers_hypervisor_serves_its_slice_and_nothing_else() -> None:
    """acme's range (upper half of its /24 less broadcast) is split between dc1-r1 (on hv1)
    and dc1-r2 (on hv2); each host's server takes its slice's first address and leases the rest."""
    tenant = next(t for t in PLAN.tenants if t.name == "acme")
    first, last = ap.dhcp_range(tenant.network)
    leased: list[int] = []
    own: list[str] = []
    resolvers: list[list[str]] = []
    for host in ("dc1-hv1", "dc1-hv2"):
        (network,) = _servers(host).values()
        assert one(network, "Network", "VRF") == tenant.vrf
        address = one(network, "Network", "Address")
        own.append(address.split("/")[0])
        start = tenant.network.first + int(one(network, "DHCPServer", "PoolOffset"))
        leased += range(start, start + int(one(network, "DHCPServer", "PoolSize")))
        assert one(network, "DHCPServer", "Router") == str(ap.vrrp_address(tenant.network, 1))
        assert network["DHCPServer"]["SendOption"] == [
            f"15:string:acme.{PLAN.domain}",
            f"26:uint16:{PLAN.mtu.tenant}",  # the tenant MTU, which VyOS 1.5's server cannot send
        ]
        # The tenant's resolvers, this server's own address first, never the host's resolvers.
        dns = one(network, "DHCPServer", "DNS").split()
        assert one(network, "DHCPServer", "EmitDNS") == "yes" and dns[0] == address.split("/")[0]
        resolvers.append(dns)
    # Each server hands out both resolvers (one host down leaves DNS up).
    assert [sorted(r) for r in resolvers] == [sorted(own)] * len(own)
    # Together: the whole range, each address once, the servers' own excepted.
    assert sorted(leased + [int(IPAddress(a)) for a in own]) == list(range(int(first), int(last) + 1))
    assert _servers("dc1-hv3") == {}  # no gateway router there


def test_the_servers_vrf_is_the_tenants_table() -> None:
    hv = PLAN.hypervisors[0]
    for d in hv.dhcp:
        netdev = next(f for f in render_hypervisor(PLAN, hv).files() if f.path.endswith(f"60-{d.tenant.vrf}.netdev"))
        parsed = parse_ini(netdev.content)
        assert one(parsed, "NetDev", "Kind") == "vrf" and one(parsed, "VRF", "Table") == str(d.tenant.vrf_table)


def test_no_router_serves_dhcp_and_fabric_still_owns_the_subtree() -> None:
    """So the first apply after an upgrade removes what earlier versions set on the routers."""
    assert ("service", "dhcp-server") in SECTIONS["dhcp"].OWNS
    for router in render_routers(PLAN):
        assert not any(c.path[:2] == ("service", "dhcp-server") for c in router.commands())


def test_each_server_is_a_drop_in_on_the_tenant_bridge_its_host_carries() -> None:
    """The server sits on the tenant's bridge, which the same host's VTEP concerns make (a DHCP
    host carries the tenant even with no VM of it); a host without a gateway router serves none."""
    for hv in PLAN.hypervisors:
        state = render_hypervisor(PLAN, hv)
        bridges = {f.path for f in state.concerns["segments"].files} if hv.vtep else set()
        for d in hv.dhcp:
            assert dhcp.drop_in_path(d) in {f.path for f in state.concerns["dhcp"].files}
            assert f"/etc/systemd/network/60-{d.segment.bridge}.network" in bridges
        if not hv.dhcp:
            assert not state.concerns["dhcp"].files
    assert [d.tenant.name for d in PLAN.hypervisors[0].dhcp] == ["acme", "globex"]


# ----------------------------------------------------------------------------- a real lease

#: Runs networkd as a container manager would: its own /run/systemd (with the container
#: marker) and network directory, /sys read-only (so it waits for no udev), in the test's
#: server namespace only.
NETWORKD = """set -e
mount -t tmpfs tmpfs /run/systemd 2>/dev/null || { mkdir -p /run/systemd; mount -t tmpfs tmpfs /run/systemd; }
mkdir -p /run/systemd/netif && echo fabric-test > /run/systemd/container
chown -R systemd-network:systemd-network /run/systemd/netif
mount -t tmpfs tmpfs /etc/systemd/network && cp -r "$1"/. /etc/systemd/network/
mount -o remount,ro,bind /sys
exec /lib/systemd/systemd-networkd
"""


def test_a_client_gets_its_lease_router_domain_and_mtu_from_the_rendered_server(tmp_path: Path) -> None:
    """Real systemd-networkd serving with dc1-hv1's rendered acme bridge file and its DHCP drop-in,
    real ISC dhclient taking a lease through a port of that bridge (a veth to a second network
    namespace, both made by the test). The drop-in's ``VRF=`` line is left out: this kernel has
    no VRF module (the VRF is checked as rendered)."""
    hv = next(h for h in PLAN.hypervisors if h.spec.name == "dc1-hv1")
    server = next(d for d in hv.dhcp if d.tenant.name == "acme")
    files = {f.path: f.content for f in render_hypervisor(PLAN, hv).files()}
    bridge = server.segment.bridge
    config = tmp_path / "network"
    (config / f"60-{bridge}.network.d").mkdir(parents=True)
    (config / f"60-{bridge}.network").write_text(files[f"/etc/systemd/network/60-{bridge}.network"])
    drop_in = files[dhcp.drop_in_path(server)]
    (config / f"60-{bridge}.network.d" / "50-dhcp.conf").write_text(
        "".join(line for line in drop_in.splitlines(True) if not line.startswith("VRF="))
    )
    (tmp_path / "networkd.sh").write_text(NETWORKD)
    srv, cli = f"fabtest-dhs-{tmp_path.name[-6:]}", f"fabtest-dhc-{tmp_path.name[-6:]}"
    ip = ["ip", "netns"]
    for ns in (srv, cli):
        subprocess.run([*ip, "add", ns], check=True)
    networkd = None
    try:
        subprocess.run(["ip", "-n", srv, "link", "add", bridge, "type", "bridge"], check=True)
        subprocess.run(
            ["ip", "link", "add", "vt-vm", "netns", srv, "type", "veth", "peer", "name", "eth0", "netns", cli],
            check=True,
        )
        subprocess.run(["ip", "-n", srv, "link", "set", "vt-vm", "master", bridge, "up"], check=True)
        subprocess.run(["ip", "-n", cli, "link", "set", "eth0", "up"], check=True)
        networkd = subprocess.Popen(
            [
                *ip,
                "exec",
                srv,
                "unshare",
                "-m",
                "--propagation",
                "private",
                "sh",
                str(tmp_path / "networkd.sh"),
                str(config),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        lease = tmp_path / "lease"
        got = subprocess.run(
            [
                *ip,
                "exec",
                cli,
                "dhclient",
                "-1",
                "-lf",
                str(lease),
                "-pf",
                str(tmp_path / "pid"),
                "-sf",
                "/bin/true",
                "eth0",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert got.returncode == 0, got.stderr
        text = lease.read_text()
        address = IPAddress(text.split("fixed-address ")[1].split(";")[0])
        assert int(server.first) <= int(address) <= int(server.last)
        assert f"option routers {server.router};" in text
        assert f"option interface-mtu {PLAN.mtu.tenant};" in text
        assert f'option domain-name "acme.{PLAN.domain}";' in text
        # The tenant's resolvers, this server's first.
        resolvers = ",".join(map(str, server.resolvers))
        assert server.resolvers[0] == server.address and f"option domain-name-servers {resolvers};" in text
    finally:
        if (tmp_path / "pid").exists():
            subprocess.run(["kill", (tmp_path / "pid").read_text().strip()], check=False)
        if networkd is not None:
            networkd.terminate()
            networkd.wait(timeout=10)
        for ns in (srv, cli):
            subprocess.run([*ip, "delete", ns], check=False)


def test_the_rendered_resolver_answers_its_zone_and_forwards_the_rest(tmp_path: Path) -> None:
    """Real dnsmasq with dc1-hv1's rendered acme config, started with its unit's command less
    ``ip vrf exec acme`` (this kernel has no VRF module), in a namespace holding its listen
    addresses; a second real dnsmasq in another namespace is the forwarder 198.51.100.53 and
    knows one name; real dig asks from a client namespace. All three namespaces are the test's."""
    example = stackfile.load_stack(ROOT, "dc1").plan  # acme's forwarder, its VM with a fixed address
    hv = next(h for h in example.hypervisors if h.spec.name == "dc1-hv1")
    resolver = next(r for r in hv.dns if r.tenant.name == "acme")
    files = {f.path: f.content for f in render_hypervisor(example, hv).files()}
    conf = tmp_path / "acme.conf"
    conf.write_text(files[dhcp.dns_conf_path(resolver)])
    argv = dhcp.dnsmasq_argv(resolver)
    assert argv[:4] == ("/usr/bin/ip", "vrf", "exec", "acme")
    forwarder = str(resolver.tenant.dns_forward[0])
    suffix = tmp_path.name[-6:]
    srv, cli, up = (f"fabtest-{kind}-{suffix}" for kind in ("dns", "dnc", "dnu"))
    ip = ["ip", "netns"]

    def run(*args: str) -> None:
        subprocess.run(list(args), check=True)

    procs: list[subprocess.Popen[bytes]] = []
    try:
        for ns in (srv, cli, up):
            run(*ip, "add", ns)
            run("ip", "-n", ns, "link", "set", "lo", "up")
        run("ip", "link", "add", "seg", "netns", srv, "type", "veth", "peer", "name", "eth0", "netns", cli)
        run("ip", "link", "add", "wan", "netns", srv, "type", "veth", "peer", "name", "eth0", "netns", up)
        for address in resolver.listen:
            run("ip", "-n", srv, "address", "add", f"{address}/32", "dev", "seg")
        run("ip", "-n", srv, "address", "add", "198.51.100.1/24", "dev", "wan")
        run("ip", "-n", cli, "address", "add", "100.65.10.150/24", "dev", "eth0")
        run("ip", "-n", up, "address", "add", f"{forwarder}/24", "dev", "eth0")
        for ns, dev in ((srv, "seg"), (srv, "wan"), (cli, "eth0"), (up, "eth0")):
            run("ip", "-n", ns, "link", "set", dev, "up")
        run("ip", "-n", srv, "route", "add", "100.65.10.0/24", "dev", "seg")
        upstream = ["dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", f"--listen-address={forwarder}"]
        upstream += ["--bind-interfaces", "--address=/partner.example/203.0.113.9", "--pid-file="]
        procs.append(subprocess.Popen([*ip, "exec", up, *upstream], stderr=subprocess.PIPE))
        served = [*ip, "exec", srv, "dnsmasq", *argv[5:-1], f"--conf-file={conf}"]
        procs.append(subprocess.Popen(served, stderr=subprocess.PIPE))

        def dig(name: str, kind: str = "A") -> str:
            asked = [*ip, "exec", cli, "dig", "+short", "+tries=5", "+time=1", f"@{resolver.listen[0]}", name, kind]
            return subprocess.run(asked, capture_output=True, text=True, timeout=30, check=True).stdout.strip()

        assert dig("acme-db1.acme.fabric.internal") == "100.65.10.100"
        assert dig("100.10.65.100.in-addr.arpa", "PTR") == "acme-db1.acme.fabric.internal."
        assert dig("partner.example") == "203.0.113.9"  # forwarded
        # Its zone is its own: a name it has no record of is not asked upstream, nor answered.
        assert dig("acme-web1.acme.fabric.internal") == ""
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=10)
        for ns in (srv, cli, up):
            subprocess.run([*ip, "delete", ns], check=False)
