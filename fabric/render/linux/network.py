"""systemd-networkd: the LACP bonds, their member NICs, and the VM taps' link settings.

Files and numeric prefixes (networkd uses the first ``.network`` file that matches a link,
in lexical order, so the order is explicit):

* ``10-<bond>.netdev``: the bond itself, 802.3ad with the seed's timers.
* ``20-<nic>.network``: each member NIC enslaved to its bond.
* ``30-<bond>.network``: the management bond carries the hypervisor's backbone address;
  the OVS uplink bond carries no address (Open vSwitch owns it, ``KeepMaster=yes`` keeps
  networkd from fighting over its master, see systemd issue #20241).
* ``15-<bond>.<vlan>.netdev`` and ``40-<bond>.<vlan>.network``: when the host's SSH
  address is public, the public VLAN tagged on the management bond carries it and the
  default route (the switch: backbone untagged and public tagged on the management
  bond's ports; public and backbone tagged on the uplink's).
* ``80-vm-vt.network``: replaces systemd's own file of that name, which would give every
  ``vt-*`` tap a DHCP server and NAT; here a tap is only brought up, as an OVS port.

The bond MTU is set in the bond's ``.network`` (``[Link] MTUBytes=``), not its
``.netdev``: networkd applies ``.network`` settings to a live link on reload, but never
updates an existing netdev from a changed ``.netdev`` (networkctl(1), ``reload``). For
the same reason a changed ``.netdev`` runs ``bond-<name>``, which sets the timers on the
live bond with ``ip link`` (the kernel allows these while enslaved; the mode is never
changed, it is always 802.3ad).
"""

from __future__ import annotations

from fabric.model import DEFAULT_BOND_MTU, Bond
from fabric.render.linux.state import Concern, HostAction, HostFile
from fabric.render.linux.text import header, ini, timespan
from fabric.topology import HypervisorPlan, Plan

DIR = "/etc/systemd/network"
RELOAD = "networkd-reload"
#: Every concern whose files networkd reads reloads it with this action.
RELOAD_ACTION = HostAction(RELOAD, (("networkctl", "reload"),))
#: Linux's default MTU, what a bond without ``mtu`` gets.
DEFAULT_MTU = DEFAULT_BOND_MTU

# Applies a bond's timers to the live device; skips a bond that does not exist yet,
# which networkd is about to create from the (new) .netdev with the same settings.
_BOND_LIVE = (
    'dev=$1; shift; ip link show dev "$dev" >/dev/null 2>&1 || exit 0; exec ip link set dev "$dev" type bond "$@"'
)


def bond_mtu(bond: Bond) -> int:
    """The MTU a bond runs with."""
    return bond.mtu if bond.mtu is not None else DEFAULT_MTU


def netdev_path(bond: Bond) -> str:
    return f"{DIR}/10-{bond.name}.netdev"


def member_path(nic: str) -> str:
    return f"{DIR}/20-{nic}.network"


def bond_network_path(bond: Bond) -> str:
    return f"{DIR}/30-{bond.name}.network"


TAP_NETWORK_PATH = f"{DIR}/80-vm-vt.network"


def bond_action_name(bond: Bond) -> str:
    return f"bond-{bond.name}"


def render(plan: Plan, hv: HypervisorPlan) -> Concern:
    spec = hv.spec
    head = header(spec.name)
    files: list[HostFile] = []
    actions = [RELOAD_ACTION]
    for bond in spec.bonds:
        files.append(HostFile(netdev_path(bond), _netdev(head, bond), reload=(RELOAD, bond_action_name(bond))))
        actions.append(HostAction(bond_action_name(bond), (_bond_live_command(bond),)))
    for bond in spec.bonds:
        for nic in bond.interfaces:
            files.append(HostFile(member_path(nic), _member(head, nic, bond), reload=(RELOAD,)))
    for bond in spec.bonds:
        content = _management(head, bond, hv) if bond.name == spec.management_bond else _uplink(head, bond)
        files.append(HostFile(bond_network_path(bond), content, reload=(RELOAD,)))
    if hv.public_address is not None:
        vlan = public_vlan_name(hv)
        files.append(HostFile(f"{DIR}/15-{vlan}.netdev", _vlan_netdev(head, hv), reload=(RELOAD,)))
        files.append(HostFile(f"{DIR}/40-{vlan}.network", _public(head, hv), reload=(RELOAD,)))
    files.append(HostFile(TAP_NETWORK_PATH, _taps(head), reload=(RELOAD,)))
    return Concern(tuple(files), tuple(actions))


def _bond_settings(bond: Bond) -> list[tuple[str, str]]:
    """The timers as ``ip link ... type bond`` arguments (milliseconds)."""
    return [
        ("lacp_rate", bond.lacp_rate),
        ("miimon", str(bond.mii_monitor_ms)),
        ("updelay", str(bond.updelay_ms)),
        ("downdelay", str(bond.downdelay_ms)),
        ("xmit_hash_policy", "layer3+4"),
    ]


def _bond_live_command(bond: Bond) -> tuple[str, ...]:
    args = [word for pair in _bond_settings(bond) for word in pair]
    return ("sh", "-c", _BOND_LIVE, "bond-live", bond.name, *args)


def _netdev(head: str, bond: Bond) -> str:
    return ini(
        head,
        [
            ("NetDev", [("Name", bond.name), ("Kind", "bond")]),
            (
                "Bond",
                [
                    ("Mode", "802.3ad"),
                    ("LACPTransmitRate", bond.lacp_rate),
                    ("MIIMonitorSec", timespan(bond.mii_monitor_ms)),
                    ("UpDelaySec", timespan(bond.updelay_ms)),
                    ("DownDelaySec", timespan(bond.downdelay_ms)),
                    ("TransmitHashPolicy", "layer3+4"),
                ],
            ),
        ],
    )


def _member(head: str, nic: str, bond: Bond) -> str:
    # A member's own carrier does not make the host online (the bond's does), so one
    # unplugged cable does not hold up boot in systemd-networkd-wait-online.
    return ini(
        head,
        [
            ("Match", [("Name", nic)]),
            ("Link", [("RequiredForOnline", "no")]),
            ("Network", [("Bond", bond.name)]),
        ],
    )


def _link_section(bond: Bond, online: str) -> tuple[str, list[tuple[str, object]]]:
    entries: list[tuple[str, object]] = []
    if bond.mtu is not None:
        entries.append(("MTUBytes", bond.mtu))
    entries.append(("RequiredForOnline", online))
    return ("Link", entries)


def public_vlan_name(hv: HypervisorPlan) -> str:
    return f"{hv.spec.management_bond}.{hv.public_vlan}"


def _management(head: str, bond: Bond, hv: HypervisorPlan) -> str:
    # The backbone is IPv4 only: no link-local or RA-learned IPv6 on the host's own address.
    network: list[tuple[str, object]] = [("Address", f"{hv.backbone_address}/{hv.backbone.prefixlen}")]
    if hv.public_address is not None:
        network.append(("VLAN", public_vlan_name(hv)))
    network += [("LinkLocalAddressing", "no"), ("IPv6AcceptRA", "no")]
    return ini(head, [("Match", [("Name", bond.name)]), _link_section(bond, "routable"), ("Network", network)])


def _vlan_netdev(head: str, hv: HypervisorPlan) -> str:
    return ini(
        head,
        [("NetDev", [("Name", public_vlan_name(hv)), ("Kind", "vlan")]), ("VLAN", [("Id", hv.public_vlan)])],
    )


def _public(head: str, hv: HypervisorPlan) -> str:
    return ini(
        head,
        [
            ("Match", [("Name", public_vlan_name(hv))]),
            (
                "Network",
                [
                    ("Address", str(hv.public_address)),
                    ("Gateway", str(hv.public_gateway)),
                    ("LinkLocalAddressing", "no"),
                    ("IPv6AcceptRA", "no"),
                ],
            ),
        ],
    )


def _uplink(head: str, bond: Bond) -> str:
    # No address by design, so "online" means carrier; OVS makes itself the master.
    return ini(
        head,
        [
            ("Match", [("Name", bond.name)]),
            _link_section(bond, "carrier"),
            (
                "Network",
                [
                    ("KeepMaster", "yes"),
                    ("LinkLocalAddressing", "no"),
                    ("IPv6AcceptRA", "no"),
                    ("ConfigureWithoutCarrier", "yes"),
                ],
            ),
        ],
    )


def _taps(head: str) -> str:
    # Same match as systemd's 80-vm-vt.network (systemd-vmspawn --network-tap names taps
    # vt-<machine>). QEMU creates the tap down; networkd brings it up, nothing more.
    return ini(
        head,
        [
            ("Match", [("Name", "vt-*"), ("Driver", "tun")]),
            ("Link", [("RequiredForOnline", "no"), ("ActivationPolicy", "up")]),
            (
                "Network",
                [
                    ("KeepMaster", "yes"),
                    ("LinkLocalAddressing", "no"),
                    ("IPv6AcceptRA", "no"),
                    ("ConfigureWithoutCarrier", "yes"),
                    ("LLDP", "no"),
                    ("EmitLLDP", "no"),
                ],
            ),
        ],
    )
