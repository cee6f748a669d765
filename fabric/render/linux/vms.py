"""Router VMs: one systemd service per router on this hypervisor, running systemd-vmspawn.

What differs from the seed's ``vyos@.service`` and why:

* ``Type=exec``, not ``notify``: vmspawn reports ready only once the guest's init says so
  over VSOCK (systemd >= 254 in the guest; VyOS's is older), so ``notify`` would hang
  until the start timeout. ``exec`` (unlike ``simple``) fails the start, and so the
  provider's action, when vmspawn cannot be executed.
* ``--network-tap`` instead of ``--network-veth`` (an nspawn option): the tap is
  ``vt-<machine>``, which the OVS concern makes a trunk port; networkd's handling of it
  is in the network concern (``80-vm-vt.network``). That name needs systemd >= 257:
  256 used another prefix (systemd PR #33769), 255 let QEMU pick ``tapN``.
* ``--console=read-only``: the console goes to the journal; ``interactive`` would read
  the service's stdin (``/dev/null``) for a terminal that is not there.
* ``--kvm=yes`` (a router must not silently fall back to emulation), ``--secure-boot=no``
  (firmware with enrolled vendor keys would refuse an image signed otherwise), ``--tpm=no`` and
  ``--pass-ssh-key=no`` (VyOS uses neither) make the boot independent of which optional
  packages (swtpm, ssh-keygen) the host happens to have.
* ``Wants=``, not ``Requires=``, on ``ovs-vswitchd.service``: ``Requires=`` would restart
  every router when the switch restarts for a hardware-offload change.

A changed unit restarts its VM (``vm-<router>``: enable, then restart); nothing else does.
A removed unit (its router gone from this host) stops and disables its VM first.
"""

from __future__ import annotations

from fabric.render.linux.ovs import UNIT as OVS_UNIT
from fabric.render.linux.ovs import tap_name
from fabric.render.linux.state import Concern, HostAction, HostFile
from fabric.render.linux.text import exec_line, header, ini
from fabric.topology import HypervisorPlan, Plan, VmPlan

VMSPAWN = "/usr/bin/systemd-vmspawn"


def unit_name(vm: VmPlan) -> str:
    return f"fabric-vm-{vm.router}.service"


def unit_path(vm: VmPlan) -> str:
    return f"/etc/systemd/system/{unit_name(vm)}"


def action_name(vm: VmPlan) -> str:
    return f"vm-{vm.router}"


def vmspawn_argv(hv: HypervisorPlan, vm: VmPlan) -> tuple[str, ...]:
    tap_name(hv, vm)  # the OVS port must be the tap vmspawn will create
    return (
        VMSPAWN,
        f"--machine={vm.router}",
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
    for vm in sorted(hv.vms, key=lambda v: v.router):
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
        header(hv.spec.name, vm.router),
        [
            (
                "Unit",
                [
                    ("Description", f"fabric router {vm.router} (VyOS VM under systemd-vmspawn)"),
                    ("Documentation", "man:systemd-vmspawn(1)"),
                    ("Wants", f"network-online.target ovs-vswitchd.service {OVS_UNIT}"),
                    ("After", f"network-online.target ovs-vswitchd.service {OVS_UNIT}"),
                ],
            ),
            (
                "Service",
                [
                    ("Type", "exec"),
                    ("ExecStart", exec_line(vmspawn_argv(hv, vm))),
                    ("KillMode", "mixed"),
                    ("Restart", "on-failure"),
                    ("RestartSec", "5s"),
                    ("TimeoutStopSec", "2min"),
                ],
            ),
            ("Install", [("WantedBy", "multi-user.target")]),
        ],
    )
