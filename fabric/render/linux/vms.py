"""VMs: one systemd service per router or tenant VM on this hypervisor, running systemd-vmspawn.

What differs from the seed's ``vyos@.service`` and why:

* ``Type=exec``, not ``notify``: vmspawn reports ready only once the guest's init says so
  over VSOCK (systemd >= 254 in the guest; VyOS's is older), so ``notify`` would hang
  until the start timeout. ``exec`` (unlike ``simple``) fails the start, and so the
  provider's action, when vmspawn cannot be executed.
* ``--network-tap`` instead of ``--network-veth`` (an nspawn option): the tap is
  ``vt-<machine>``. A router's, the OVS concern makes a trunk port (networkd only brings
  it up: ``80-vm-vt.network`` in the network concern); a tenant VM's, the segments
  concern makes a port of its tenant's bridge. That name needs systemd >= 257: 256 used
  another prefix (systemd PR #33769), 255 let QEMU pick ``tapN``.
* A tenant VM's MAC is fabric's (:func:`fabric.addressing.vm_mac`), passed in
  ``SYSTEMD_VMSPAWN_NETWORK_MAC``, which vmspawn reads at start for its tap NIC
  (systemd ``src/vmspawn/vmspawn.c``, ``parse_environment``); without it vmspawn would
  hash the machine name, so a renamed VM would get another MAC. A router keeps
  vmspawn's own (VyOS pins its interfaces by ``hw-id``).
* ``--console=read-only``: the console goes to the journal; ``interactive`` would read
  the service's stdin (``/dev/null``) for a terminal that is not there.
* ``--kvm=yes`` (a router must not silently fall back to emulation), ``--secure-boot=no``
  (firmware with enrolled vendor keys would refuse an image signed otherwise), ``--tpm=no`` and
  ``--pass-ssh-key=no`` (VyOS uses neither) make the boot independent of which optional
  packages (swtpm, ssh-keygen) the host happens to have.
* ``Wants=``, not ``Requires=``, on ``ovs-vswitchd.service``: ``Requires=`` would restart
  every router when the switch restarts for a hardware-offload change.

A changed unit restarts its VM (``vm-<name>``: enable, then restart); nothing else does.
A removed unit (its VM gone from this host, e.g. moved to another) stops and disables
its VM first.
"""

from __future__ import annotations

from fabric.render.linux.ovs import UNIT as OVS_UNIT
from fabric.render.linux.state import Concern, HostAction, HostFile
from fabric.render.linux.text import exec_line, header, ini
from fabric.topology import HypervisorPlan, Plan, VmPlan

VMSPAWN = "/usr/bin/systemd-vmspawn"


def unit_name(vm: VmPlan) -> str:
    return f"fabric-vm-{vm.name}.service"


def unit_path(vm: VmPlan) -> str:
    return f"/etc/systemd/system/{unit_name(vm)}"


def action_name(vm: VmPlan) -> str:
    return f"vm-{vm.name}"


def vmspawn_argv(vm: VmPlan) -> tuple[str, ...]:
    return (
        VMSPAWN,
        f"--machine={vm.name}",
        f"--image={vm.image}",
        f"--cpus={vm.cpus}",
        f"--ram={vm.memory}",
        "--kvm=yes",
        "--network-tap",
        "--console=read-only",
        "--secure-boot=no",
        "--tpm=no",
        "--pass-ssh-key=no",
    )


def render(plan: Plan, hv: HypervisorPlan) -> Concern:
    files: list[HostFile] = []
    actions = [HostAction("daemon-reload", (("systemctl", "daemon-reload"),))]
    for vm in sorted(hv.vms, key=lambda v: v.name):
        files.append(
            HostFile(
                unit_path(vm),
                _unit(hv, vm),
                reload=("daemon-reload", action_name(vm)),
                cleanup=(("systemctl", "disable", "--now", unit_name(vm)),),
            )
        )
        actions.append(
            HostAction(
                action_name(vm),
                (
                    ("systemctl", "enable", unit_name(vm)),
                    ("systemctl", "restart", unit_name(vm)),
                ),
            )
        )
    return Concern(tuple(files), tuple(actions))


def _unit(hv: HypervisorPlan, vm: VmPlan) -> str:
    return ini(
        header(hv.spec.name, vm.name if vm.tenant is None else None),
        [
            (
                "Unit",
                [
                    ("Description", _description(vm)),
                    ("Documentation", "man:systemd-vmspawn(1)"),
                    ("Wants", f"network-online.target {_needs(vm)}"),
                    ("After", f"network-online.target {_needs(vm)}"),
                ],
            ),
            (
                "Service",
                [
                    ("Type", "exec"),
                    *([("Environment", f"SYSTEMD_VMSPAWN_NETWORK_MAC={vm.mac}")] if vm.mac else []),
                    ("ExecStart", exec_line(vmspawn_argv(vm))),
                    ("KillMode", "mixed"),
                    ("Restart", "on-failure"),
                    ("RestartSec", "5s"),
                    ("TimeoutStopSec", "2min"),
                ],
            ),
            ("Install", [("WantedBy", "multi-user.target")]),
        ],
    )


def _description(vm: VmPlan) -> str:
    if vm.tenant is None:
        return f"fabric router {vm.name} (VyOS VM under systemd-vmspawn)"
    return f"fabric tenant {vm.tenant.name} VM {vm.name} (systemd-vmspawn)"


def _needs(vm: VmPlan) -> str:
    """What the VM's tap joins: a router's, the OVS bridge; a tenant VM's, the tenant bridge networkd makes."""
    return f"ovs-vswitchd.service {OVS_UNIT}" if vm.tenant is None else "systemd-networkd.service"
