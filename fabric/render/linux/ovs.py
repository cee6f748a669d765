"""Open vSwitch: the bridge, its uplink trunk, one trunk port per router VM tap.

Every change goes through idempotent ``ovs-vsctl`` commands (``--may-exist``,
``--if-exists``, ``set``): ``--may-exist add-port`` alone never updates an existing port,
so each port's VLANs and MTU are ``set`` in the same transaction. The same commands are
written to ``/etc/fabric/ovs/<bridge>.sh``, so the intent is on disk (drift shows as a
diff) and ``fabric-ovs.service`` replays it at boot after ``ovs-vswitchd.service``.

The uplink trunk and the routers' taps carry the public and backbone VLANs and nothing
else: tenant segments reach a hypervisor only as VXLAN inside WireGuard. Taps of router
VMs no longer on this host are removed.

``other_config:hw-offload`` is only read when ``ovs-vswitchd`` starts, so it lives in
its own file whose change also runs ``ovs-restart``; nothing else restarts the switch.
Hardware offload also needs the NIC's e-switch in switchdev mode, which depends on PCI
addresses the inventory does not have, so it is not configured here.
"""

from __future__ import annotations

from fabric.render.linux.network import bond_mtu
from fabric.render.linux.state import Concern, HostAction, HostFile
from fabric.render.linux.text import header, ini, shell_script
from fabric.topology import HypervisorPlan, Plan, VmPlan

DIR = "/etc/fabric/ovs"
GLOBAL_PATH = f"{DIR}/global.sh"
UNIT = "fabric-ovs.service"
UNIT_PATH = f"/etc/systemd/system/{UNIT}"
#: ovs-vsctl waits for ovs-vswitchd without limit; an action must fail instead of hanging.
#: The ``--`` ends the global options, as ovs-vsctl(8) asks when a command has its own.
VSCTL = ("ovs-vsctl", "--timeout=30", "--")
#: Prefix of the taps systemd-vmspawn creates (``vt-<machine>``).
TAP_PREFIX = "vt-"

# $1 the bridge, $2... the taps to keep: delete every other vt-* port of the bridge.
PRUNE_TAPS = (
    'br=$1; shift; keep=" $* "; '
    'for p in $(ovs-vsctl --timeout=30 list-ports "$br"); do '
    'case "$p" in vt-*) case "$keep" in *" $p "*) ;; '
    '*) ovs-vsctl --timeout=30 -- --if-exists del-port "$br" "$p";; esac;; esac; done'
)


def bridge_path(bridge: str) -> str:
    return f"{DIR}/{bridge}.sh"


def uplink_vlans(plan: Plan, hv: HypervisorPlan) -> tuple[int, ...]:
    """Public and backbone only: no tenant segment is ever a VLAN (one L2 path: EVPN)."""
    return tuple(sorted({plan.public_vlan, hv.backbone_vlan}))


def _vlan_list(vlans: tuple[int, ...]) -> str:
    return ",".join(str(v) for v in vlans)


def global_commands(hv: HypervisorPlan) -> tuple[tuple[str, ...], ...]:
    offload = "true" if hv.spec.ovs.hw_offload else "false"
    return ((*VSCTL, "set", "Open_vSwitch", ".", f"other_config:hw-offload={offload}"),)


def bridge_commands(plan: Plan, hv: HypervisorPlan) -> tuple[tuple[str, ...], ...]:
    """The bridge's desired state as idempotent ovs-vsctl commands, in apply order."""
    ovs = hv.spec.ovs
    br = ovs.bridge
    uplink = next(b for b in hv.spec.bonds if b.name == ovs.uplink)
    mtu = bond_mtu(uplink)
    commands: list[tuple[str, ...]] = [
        (*VSCTL, "--may-exist", "add-br", br, "--", "set", "Bridge", br, f"datapath_type={ovs.datapath}"),
        # The bond's MTU is networkd's (see network.py); OVS only trunks it.
        (
            *VSCTL,
            "--may-exist",
            "add-port",
            br,
            uplink.name,
            "--",
            "set",
            "Port",
            uplink.name,
            "vlan_mode=trunk",
            f"trunks={_vlan_list(uplink_vlans(plan, hv))}",
        ),
    ]
    for vm in router_vms(hv):
        tap = vm.tap
        commands.append(
            (
                *VSCTL,
                "--may-exist",
                "add-port",
                br,
                tap,
                "--",
                "set",
                "Port",
                tap,
                "vlan_mode=trunk",
                f"trunks={_vlan_list(vm.trunk_vlans)}",
                "--",
                "set",
                "Interface",
                tap,
                f"mtu_request={mtu}",
            )
        )
    commands.append(("sh", "-c", PRUNE_TAPS, "prune-taps", br, *sorted(vm.tap for vm in router_vms(hv))))
    return tuple(commands)


def router_vms(hv: HypervisorPlan) -> list[VmPlan]:
    """The router VMs, whose taps are this bridge's trunk ports (a tenant VM's tap is a port of
    its tenant's Linux bridge, never of OVS)."""
    return sorted((vm for vm in hv.vms if vm.tenant is None), key=lambda v: v.name)


def render(plan: Plan, hv: HypervisorPlan) -> Concern:
    head = header(hv.spec.name)
    br = hv.spec.ovs.bridge
    glob = global_commands(hv)
    bridge = bridge_commands(plan, hv)
    files = (
        HostFile(
            GLOBAL_PATH,
            shell_script(
                head,
                [
                    "Open vSwitch settings read only at start: a change here restarts ovs-vswitchd.",
                ],
                glob,
            ),
            mode=0o755,
            reload=("ovs-global", "ovs-restart"),
        ),
        HostFile(
            bridge_path(br),
            shell_script(
                head,
                [
                    f"Bridge {br}: uplink trunk and one trunk port per router VM tap. Idempotent;",
                    f"replayed at boot by {UNIT}.",
                ],
                bridge,
            ),
            mode=0o755,
            reload=("ovs-bridge",),
        ),
        HostFile(UNIT_PATH, _unit(head, br), reload=("daemon-reload", "ovs-enable")),
    )
    actions = (
        HostAction("daemon-reload", (("systemctl", "daemon-reload"),)),
        HostAction("ovs-global", glob),
        HostAction("ovs-restart", (("systemctl", "restart", "ovs-vswitchd.service"),)),
        HostAction("ovs-bridge", bridge),
        HostAction("ovs-enable", (("systemctl", "enable", UNIT),)),
    )
    return Concern(files, actions)


def _unit(head: str, bridge: str) -> str:
    return ini(
        head,
        [
            (
                "Unit",
                [
                    ("Description", f"fabric: Open vSwitch settings and bridge {bridge}"),
                    ("Wants", "ovs-vswitchd.service"),
                    ("After", "ovs-vswitchd.service ovsdb-server.service"),
                ],
            ),
            (
                "Service",
                [
                    ("Type", "oneshot"),
                    ("RemainAfterExit", "yes"),
                    ("ExecStart", GLOBAL_PATH),
                    ("ExecStart", bridge_path(bridge)),
                ],
            ),
            ("Install", [("WantedBy", "multi-user.target")]),
        ],
    )
