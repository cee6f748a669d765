"""The fabric lab: real Linux ``frr`` nodes on one machine, for ``pulumi up --stack lab`` and data-plane tests.

Each node is a booted systemd-nspawn container (Debian bookworm: systemd, sshd,
systemd-networkd, FRR, wireguard-go) in its own network namespace, with an underlay
link onto one shared bridge and a management link to the root namespace for SSH.
Everything stays inside namespaces on this machine. Needs root.

    from lab import default_spec, up, down, exec_in, add_endpoint
    state = up(default_spec(3))        # n1..n3, each answering SSH with its pinned key
    exec_in(state, "n1", ["wg", "show"])
    down(state)                        # or, from any process: down()

Modules: ``rootfs`` (the cached Debian tree), ``nodes`` (up, down, exec, endpoints),
``spec`` (which nodes), ``state`` (what was created, as JSON), ``keys`` (the lab-only,
deterministic SSH keys), ``system`` (processes, mounts, cgroups), ``cli``.
"""

from lab.keys import host_key_line, operator_private_key, operator_public_key_line
from lab.nodes import add_endpoint, down, exec_in, exec_in_endpoint, remove_endpoint, status, up
from lab.rootfs import ensure_rootfs
from lab.spec import LabSpec, NodeSpec, default_spec, load_spec, parse_spec
from lab.state import EndpointState, LabState, NodeState
from lab.system import LabError

__all__ = [
    "EndpointState",
    "LabError",
    "LabSpec",
    "LabState",
    "NodeSpec",
    "NodeState",
    "add_endpoint",
    "default_spec",
    "down",
    "ensure_rootfs",
    "exec_in",
    "exec_in_endpoint",
    "host_key_line",
    "load_spec",
    "operator_private_key",
    "operator_public_key_line",
    "parse_spec",
    "remove_endpoint",
    "status",
    "up",
]
