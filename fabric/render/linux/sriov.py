"""SR-IOV virtual functions, persistent across reboots: one systemd ``.link`` file per NIC.

``SR-IOVVirtualFunctions=`` in ``[Link]`` (systemd >= 251) makes udev create the VFs when
the NIC appears at boot. Three details the seed's ``echo 7 > sriov_numvfs`` loop misses:

* A ``.link`` file is matched *before* the NIC is renamed, so ``OriginalName=enp1s0f0``
  would never match at boot (the kernel calls it ``eth0`` then). The NIC is matched by
  its permanent MAC when the inventory has one, else by the udev property that carries
  its predictable name (``ID_NET_NAME_PATH`` for ``enp1s0f0``), else (a kernel name kept
  as is) by ``OriginalName=``.
* udev applies only the first matching ``.link`` file, so this one replaces
  ``99-default.link`` for the NIC and must repeat its naming policies, or the NIC would
  lose its predictable name.
* udev only ever adds VFs (it leaves a larger count alone), and the kernel refuses to
  change a non-zero count without going through 0. So the live action ``sriov-<nic>``
  writes ``sriov_numvfs`` itself: nothing when the count is right, else 0, then the count.

Only NICs with ``vfs > 0`` get a file.
"""

from __future__ import annotations

import re

from fabric.model import Nic
from fabric.render.linux.state import Concern, HostAction, HostFile
from fabric.render.linux.text import header, ini
from fabric.topology import HypervisorPlan, Plan

DIR = "/etc/systemd/network"

#: What ``99-default.link`` sets; kept so that matching our file does not rename the NIC.
NAME_POLICY = "keep kernel database onboard slot path"
ALTERNATIVE_NAMES_POLICY = "database onboard slot path"

# systemd.net-naming-scheme(7): en/ib/sl/wl/ww, then o<n> onboard, [P<d>]s<n> slot,
# [P<d>]p<b>s<n> path, x<mac> MAC. Each is exported by udev's net_id as a property.
_SCHEMES = (
    (re.compile(r"^(en|ib|sl|wl|ww)o\d"), "ID_NET_NAME_ONBOARD"),
    (re.compile(r"^(en|ib|sl|wl|ww)(P\d+)?s\d"), "ID_NET_NAME_SLOT"),
    (re.compile(r"^(en|ib|sl|wl|ww)(P\d+)?p\d+s\d"), "ID_NET_NAME_PATH"),
    (re.compile(r"^(en|ib|sl|wl|ww)x[0-9a-f]{12}$"), "ID_NET_NAME_MAC"),
)

# $1 the sriov_numvfs file, $2 the wanted count. Fails loudly when the NIC has no SR-IOV.
# ``FABRIC_ROOT`` (set by the host provider, empty on a live host) is where the host's
# filesystem is mounted: a prepared image or a test bed keeps its own sysfs stand-in there.
SET_NUMVFS = (
    'f="${FABRIC_ROOT:-}$1"; want=$2; have=$(cat "$f") || exit 1; '
    '[ "$have" = "$want" ] && exit 0; '
    'if [ "$have" != 0 ]; then echo 0 > "$f"; fi; '
    'echo "$want" > "$f"'
)


def link_path(nic: Nic) -> str:
    return f"{DIR}/10-{nic.name}.link"


def action_name(nic: Nic) -> str:
    return f"sriov-{nic.name}"


def numvfs_path(nic: Nic) -> str:
    return f"/sys/class/net/{nic.name}/device/sriov_numvfs"


def match(nic: Nic) -> list[tuple[str, object]]:
    """The ``[Match]`` entries that find this NIC at boot, before it is renamed."""
    if nic.mac is not None:
        return [("PermanentMACAddress", nic.mac)]
    for pattern, prop in _SCHEMES:
        if pattern.match(nic.name):
            return [("Property", f"{prop}={nic.name}")]
    return [("OriginalName", nic.name)]


def render(plan: Plan, hv: HypervisorPlan) -> Concern:
    head = header(hv.spec.name)
    files: list[HostFile] = []
    actions: list[HostAction] = []
    for nic in sorted((n for n in hv.spec.nics if n.vfs > 0), key=lambda n: n.name):
        name = action_name(nic)
        files.append(HostFile(link_path(nic), _link(head, nic), reload=(name,)))
        actions.append(
            HostAction(
                name,
                (
                    ("udevadm", "control", "--reload"),
                    ("sh", "-c", SET_NUMVFS, "sriov-numvfs", numvfs_path(nic), str(nic.vfs)),
                ),
            )
        )
    return Concern(tuple(files), tuple(actions))


def _link(head: str, nic: Nic) -> str:
    link: list[tuple[str, object]] = []
    if nic.mac is not None:
        # Matched by hardware: pin the name the inventory (and the bond files) use.
        link.append(("Name", nic.name))
    else:
        link.append(("NamePolicy", NAME_POLICY))
    link += [
        ("AlternativeNamesPolicy", ALTERNATIVE_NAMES_POLICY),
        ("MACAddressPolicy", "persistent"),
        ("SR-IOVVirtualFunctions", nic.vfs),
    ]
    return ini(head, [("Match", match(nic)), ("Link", link)])
