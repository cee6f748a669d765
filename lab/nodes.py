"""Bring the lab's nodes up and tear them down; run commands in nodes; attach tenant endpoints.

A node is a booted ``systemd-nspawn`` container (systemd as PID 1, sshd, networkd,
FRR) in its own network namespace ``fablab-<node>``:

* root: an overlay of the cached Debian tree (``lab.rootfs``) with the node's own upper
  layer under ``<run dir>/nodes/<node>/``; the node gets its hostname, a machine id
  (networkd derives bridge MACs from it, so each node's differ), its deterministic
  host key (``lab.keys``), the operator key for root, and networkd files for its links.
* ``eth0``: the underlay, a veth into the bridge ``br0`` of the namespace
  ``fablab-underlay``, carrying the node's underlay address at the underlay MTU.
* ``mgmt0``: management, a veth to the root namespace (``fl-<node>`` there), a /30 per
  node, so SSH never crosses the underlay.
* the container may use ``/dev/net/tun`` (wireguard-go) and has ``CAP_NET_ADMIN``
  (wg, networkd, zebra); ``/run`` is its own, so each node's ``/run/wireguard`` is too.
* nspawn runs in its own cgroup ``fablab/<node>`` of each systemd-relevant hierarchy:
  started from one shared cgroup, the containers' systemds would share one tree.

Nothing is routed anywhere: a node has no default route and no DNS, the underlay and
the endpoints live only in their namespaces, and the root namespace reaches each node
only on that node's /30.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from lab import keys, system
from lab.rootfs import ensure_rootfs, rootfs_path
from lab.spec import NAME, LabSpec, NodeSpec
from lab.state import EndpointState, LabState, NodeState, run_dir, state_file
from lab.system import LabError, Proc

Progress = Callable[[str], None]

PREFIX = "fablab-"
UNDERLAY_NETNS = f"{PREFIX}underlay"
UNDERLAY_BRIDGE = "br0"
UNDERLAY_IF = "eth0"
MANAGEMENT_IF = "mgmt0"
NETNS_DIR = Path("/run/netns")
#: Where nspawn keeps per-machine state on the host; a machine's directory may outlive it.
NSPAWN_DIR = Path("/run/systemd/nspawn")
CGROUP_PARENT = "fablab"
#: What a node's container may do beyond nspawn's defaults: configure its network
#: (wg, networkd, FRR's zebra). ``CAP_NET_RAW``, ``CAP_NET_BIND_SERVICE`` (bgpd's port
#: 179) and ``CAP_SYS_ADMIN`` are in nspawn's default set already.
CAPABILITIES = ("CAP_NET_ADMIN",)
#: ``/proc/sys/net`` writable in the container (IP forwarding, per-link sysctls), the rest of
#: ``/proc/sys`` and ``/sys`` read-only: what nspawn does for ``--private-network``, which
#: cannot be combined with ``--network-namespace-path``.
NSPAWN_ENV = {"SYSTEMD_NSPAWN_API_VFS_WRITABLE": "network"}
NODE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 15.0


def stderr_progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _ip(*args: str, netns: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    return system.run(["ip", *(["-n", netns] if netns else []), *args], check=check)


def _in_netns(netns: str, argv: Sequence[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    """A host program inside a namespace (network only: the host's files)."""
    return system.run(["nsenter", f"--net={NETNS_DIR / netns}", "--", *argv], check=check)


def _quiet_ipv6(netns: str) -> None:
    """No IPv6 in the lab's own namespaces: no router solicitations or DAD chatter on the wires."""
    conf = "/proc/sys/net/ipv6/conf"
    _in_netns(netns, ["sh", "-c", f"echo 1 > {conf}/all/disable_ipv6 && echo 1 > {conf}/default/disable_ipv6"])


def _netns_exists(name: str) -> bool:
    return (NETNS_DIR / name).exists()


def _link_exists(name: str, netns: str | None = None) -> bool:
    return _ip("link", "show", "dev", name, netns=netns, check=False).returncode == 0


def _lab_netns() -> list[str]:
    return sorted(n for n in os.listdir(NETNS_DIR) if n.startswith(PREFIX)) if NETNS_DIR.is_dir() else []


# ----------------------------------------------------------------------------- up


def _preflight(spec: LabSpec, state_path: Path) -> None:
    system.require_root()
    system.ensure_host_tools(["systemd-nspawn", "nsenter", "ip"])
    if state_path.exists():
        raise LabError(f"a lab is already up (state file {state_path}): tear it down first (python -m lab down)")
    if run_dir().exists():
        raise LabError(f"{run_dir()} exists without a state file: remove it (and whatever it holds) first")
    problems = [f"network namespace {n} exists" for n in _lab_netns()]
    if not Path("/dev/net/tun").exists():
        problems.append("/dev/net/tun is missing (wireguard-go needs it): mknod /dev/net/tun c 10 200")
    for label, path in (("run directory", run_dir()), ("rootfs cache", rootfs_path())):
        if re.search(r"[,:\s]", str(path)):
            problems.append(f"{label} {path}: a path with ',', ':' or blanks cannot be an overlay layer")
    for node in spec.nodes:
        if _link_exists(f"fl-{node.name}"):
            problems.append(f"interface fl-{node.name} exists in the root namespace")
    routes = json.loads(system.run(["ip", "-j", "-4", "route", "show", "table", "all"]).stdout or "[]")
    for route in routes:
        dst = route.get("dst", "default")
        if dst == "default" or route.get("type") in ("local", "broadcast"):
            continue
        try:
            net = ipaddress.IPv4Network(dst, strict=False)
        except ValueError:
            continue
        for node in spec.nodes:
            if net.overlaps(node.management):
                problems.append(
                    f"node {node.name}: management link {node.management} overlaps the root namespace's route "
                    f"{dst} dev {route.get('dev', '?')}: choose another ssh address"
                )
    if problems:
        raise LabError("cannot bring the lab up:\n  " + "\n  ".join(problems))


def _machine_id(name: str) -> str:
    return hashlib.sha256(f"fabric-lab machine {name}".encode()).hexdigest()[:32]


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def _networkd(name: str, address: str, mtu: int | None) -> str:
    lines = ["# fabric lab: the node's wiring (lab.nodes), not the fabric's config", "[Match]", f"Name={name}", ""]
    if mtu:
        lines += ["[Link]", f"MTUBytes={mtu}", ""]
    lines += ["[Network]", f"Address={address}", "LinkLocalAddressing=no", "IPv6AcceptRA=no"]
    return "\n".join(lines) + "\n"


def _personalise(root: Path, node: NodeSpec, mtu: int) -> None:
    """The node's own files, written through the overlay (so modes and owners of parents stay Debian's)."""
    _write(root / "etc/hostname", f"{node.name}\n")
    _write(root / "etc/hosts", f"127.0.0.1\tlocalhost\n127.0.1.1\t{node.name}\n::1\t\tlocalhost ip6-localhost\n")
    _write(root / "etc/machine-id", f"{_machine_id(node.name)}\n", 0o444)
    _write(root / "etc/ssh/ssh_host_ed25519_key", keys.host_private_key(node.name), 0o600)
    _write(root / "etc/ssh/ssh_host_ed25519_key.pub", f"{keys.host_key_line(node.name)} root@{node.name}\n")
    ssh_dir = root / "root/.ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    _write(ssh_dir / "authorized_keys", keys.operator_public_key_line() + "\n", 0o600)
    network = root / "etc/systemd/network"
    _write(network / f"10-fablab-{UNDERLAY_IF}.network", _networkd(UNDERLAY_IF, str(node.underlay), mtu))
    _write(network / f"10-fablab-{MANAGEMENT_IF}.network", _networkd(MANAGEMENT_IF, f"{node.ssh}/30", None))


def _note_created(state: LabState, path: Path) -> None:
    """Remember a shared directory the lab is about to create (``down`` removes it when empty)."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for p in reversed(missing):
        if str(p) not in state.created_dirs:
            state.created_dirs.append(str(p))
    state.save()


def _nspawn_argv(node: NodeState) -> list[str]:
    return [
        "systemd-nspawn",
        f"--directory={node.root}",
        f"--machine={node.machine}",
        f"--hostname={node.name}",
        "--boot",
        "--register=no",
        "--keep-unit",
        f"--network-namespace-path={NETNS_DIR / node.netns}",
        "--bind=/dev/net/tun",
        f"--capability={','.join(CAPABILITIES)}",
        "--console=read-only",
        "--resolv-conf=off",
        "--timezone=off",
        "--link-journal=no",
        "--settings=false",
    ]


def _start(node: NodeState) -> subprocess.Popen[bytes]:
    """nspawn in the node's own cgroups (a shell joins them, then becomes nspawn), detached from us."""
    joins = " && ".join(f"echo $$ > {shlex.quote(str(Path(c) / 'cgroup.procs'))}" for c in node.cgroups)
    with open(node.console_log, "ab") as log:
        return subprocess.Popen(
            ["/bin/sh", "-c", f'{joins or ":"} && exec "$@"', "fablab-nspawn", *_nspawn_argv(node)],
            env={**os.environ, **NSPAWN_ENV},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n    ".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no console log)"


def _find_leader(node: NodeState, timeout: float) -> Proc:
    assert node.nspawn is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in system.children(node.nspawn.pid):
            if system.pid_namespace_init(child.pid):
                return child
        if not system.alive(node.nspawn):
            break
        time.sleep(0.02)
    raise LabError(f"node {node.name}: the container did not start; console:\n    {_tail(node.console_log)}")


def _ssh_answers(address: str, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((address, 22), timeout=timeout) as s:
            s.settimeout(timeout)
            return s.recv(8).startswith(b"SSH-2.0")
    except OSError:
        return False


def _wait_ready(
    state: LabState, node: NodeState, deadline: float, started: float, progress: Progress, abort: threading.Event
) -> None:
    """sshd answers on the management address and systemd is up (running, or degraded: said so)."""
    assert node.nspawn is not None
    ssh_ok, system_state = False, "unknown"
    while time.monotonic() < deadline and not abort.is_set():
        if not system.alive(node.nspawn):
            raise LabError(f"node {node.name}: the container exited; console:\n    {_tail(node.console_log)}")
        ssh_ok = ssh_ok or _ssh_answers(node.ssh)
        if ssh_ok:
            done = exec_in(state, node.name, ["systemctl", "is-system-running"], timeout=10)
            system_state = done.stdout.strip() or done.stderr.strip()
            if system_state in ("running", "degraded"):
                note = ""
                if system_state == "degraded":
                    failed = exec_in(state, node.name, ["systemctl", "--failed", "--plain", "--no-legend"]).stdout
                    note = f" (failed: {', '.join(line.split()[0] for line in failed.splitlines() if line)})"
                progress(
                    f"lab: {node.name} ready after {time.monotonic() - started:.1f} s: "
                    f"ssh {node.ssh} answers, systemd {system_state}{note}"
                )
                return
        time.sleep(0.1)
    if abort.is_set():
        return
    what = f"systemd is {system_state!r}" if ssh_ok else f"sshd does not answer on {node.ssh}:22"
    raise LabError(
        f"node {node.name}: not ready after {deadline - started:.0f} s: {what}; console:\n    {_tail(node.console_log)}"
    )


def up(
    spec: LabSpec,
    *,
    progress: Progress = stderr_progress,
    timeout: float = READY_TIMEOUT_S,
    keep_on_failure: bool = False,
) -> LabState:
    """Bring every node up and wait until each answers SSH; returns (and persists) the lab's state.

    On failure everything created so far is torn down again, unless ``keep_on_failure``
    (then ``down`` does it later; the consoles are in ``<run dir>/nodes/<node>/console.log``).
    """
    path = state_file()
    _preflight(spec, path)
    rootfs = ensure_rootfs(progress)
    started = time.monotonic()
    base = run_dir()
    state = LabState(
        path=str(path),
        run_dir=str(base),
        rootfs=str(rootfs),
        underlay_netns=UNDERLAY_NETNS,
        underlay_bridge=UNDERLAY_BRIDGE,
        underlay_mtu=spec.underlay_mtu,
    )
    base.mkdir(parents=True, mode=0o700)
    state.save()
    try:
        _build(state, spec, progress)
        progress(f"lab: {len(spec.nodes)} nodes booting ({time.monotonic() - started:.1f} s)")
        deadline = time.monotonic() + timeout
        abort = threading.Event()  # one node failed: the others stop waiting
        with ThreadPoolExecutor(max_workers=len(state.nodes)) as pool:
            futures = [pool.submit(_wait_ready, state, n, deadline, started, progress, abort) for n in state.nodes]
            try:
                for future in as_completed(futures):
                    future.result()
            finally:
                abort.set()
    except BaseException as exc:
        if not keep_on_failure:
            try:
                down(state, progress=lambda _line: None)
            except LabError as cleanup:
                exc.add_note(f"tearing the half-built lab down failed too: {cleanup}")
        raise
    progress(f"lab: up in {time.monotonic() - started:.1f} s ({len(state.nodes)} nodes)")
    return state


def _build(state: LabState, spec: LabSpec, progress: Progress) -> None:
    mtu = str(spec.underlay_mtu)
    _note_created(state, NETNS_DIR)
    _note_created(state, NSPAWN_DIR)
    cgroup_roots = system.cgroup_roots()
    for root in cgroup_roots:
        _note_created(state, root / CGROUP_PARENT)

    # The underlay: one bridge in its own namespace.
    _ip("netns", "add", UNDERLAY_NETNS)
    _quiet_ipv6(UNDERLAY_NETNS)
    _ip("link", "set", "lo", "up", netns=UNDERLAY_NETNS)
    _ip("link", "add", UNDERLAY_BRIDGE, "mtu", mtu, "type", "bridge", "stp_state", "0", netns=UNDERLAY_NETNS)
    _ip("link", "set", UNDERLAY_BRIDGE, "up", netns=UNDERLAY_NETNS)

    for spec_node in spec.nodes:
        node = NodeState(
            name=spec_node.name,
            underlay=str(spec_node.underlay),
            ssh=str(spec_node.ssh),
            host_side=str(spec_node.host_side),
            netns=f"{PREFIX}{spec_node.name}",
            machine=f"{PREFIX}{spec_node.name}",
            host_veth=f"fl-{spec_node.name}",
            underlay_veth=f"u-{spec_node.name}",
            dir=str(Path(state.run_dir) / "nodes" / spec_node.name),
            cgroups=[str(root / CGROUP_PARENT / spec_node.name) for root in cgroup_roots],
        )
        state.nodes.append(node)
        state.save()
        _ip("netns", "add", node.netns)
        layers = Path(node.dir)
        for sub in ("upper", "work", "root"):
            (layers / sub).mkdir(parents=True)
        options = f"lowerdir={state.rootfs},upperdir={layers / 'upper'},workdir={layers / 'work'}"
        system.mount_overlay(node.root, options)
        _personalise(node.root, spec_node, spec.underlay_mtu)
        # Underlay: eth0 in the node, u-<node> on the bridge.
        _ip(
            *("link", "add", node.underlay_veth, "netns", UNDERLAY_NETNS, "mtu", mtu, "type", "veth"),
            *("peer", "name", UNDERLAY_IF, "mtu", mtu, "netns", node.netns),
        )
        _ip("link", "set", node.underlay_veth, "master", UNDERLAY_BRIDGE, "up", netns=UNDERLAY_NETNS)
        # Management: fl-<node> here, mgmt0 in the node.
        _ip("link", "add", node.host_veth, "type", "veth", "peer", "name", MANAGEMENT_IF, "netns", node.netns)
        Path(f"/proc/sys/net/ipv6/conf/{node.host_veth}/disable_ipv6").write_text("1\n")
        _ip("address", "add", f"{node.host_side}/30", "dev", node.host_veth)
        _ip("link", "set", node.host_veth, "up")
        for cgroup in node.cgroups:
            Path(cgroup).mkdir(parents=True, exist_ok=True)

    for node in state.nodes:
        node.nspawn = system.proc_of(_start(node).pid)
        state.save()
    for node in state.nodes:
        node.leader = _find_leader(node, 15.0)
        state.save()
        progress(f"lab: {node.name} booting (nspawn {node.nspawn.pid if node.nspawn else '?'}, init {node.leader.pid})")


# ----------------------------------------------------------------------------- in the nodes


def _leader(state: LabState, node: str) -> Proc:
    n = state.node(node)
    if n.leader is None or not system.alive(n.leader):
        raise LabError(f"node {node}: its container is not running")
    return n.leader


def _nsenter(
    leader: Proc, namespaces: Sequence[str], argv: Sequence[str], input: str | None, timeout: float
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["nsenter", f"--target={leader.pid}", *namespaces, "--root", "--wdns=/", "--", *argv],
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"PATH": NODE_PATH, "HOME": "/root", "LANG": "C.UTF-8", "TERM": "dumb"},
        check=False,
    )


def exec_in(
    state: LabState,
    node: str,
    argv: Sequence[str],
    *,
    input: str | None = None,
    timeout: float = 120.0,
    check: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` inside a node's container (all of its namespaces and its root, as root)."""
    namespaces = ("--mount", "--uts", "--ipc", "--net", "--pid", "--cgroup")
    done = _nsenter(_leader(state, node), namespaces, argv, input, timeout)
    if check and done.returncode != 0:
        raise LabError(
            f"node {node}: {shlex.join(argv)} failed ({done.returncode}): {(done.stderr or done.stdout).strip()}"
        )
    return done


def add_endpoint(
    state: LabState,
    node: str,
    name: str,
    bridge: str,
    address: str,
    mtu: int = 1500,
    gateway: str | None = None,
    port: str | None = None,
    mac: str | None = None,
) -> EndpointState:
    """A tenant endpoint on ``node``: namespace ``fablab-ep-<node>-<name>`` with ``eth0`` at
    ``address`` (CIDR), a veth whose other end (``ep-<name>`` in the node) is a port of
    ``bridge``, which must exist (the node's segment, once its config is applied).

    With ``port`` the node's end is named so and the lab does not enslave it: the node's own
    config must (an l2 node's networkd file for its tenant port ``vt-<name>``), within
    :data:`PORT_WAIT_S`; ``mac`` sets ``eth0``'s MAC."""
    n = state.node(node)
    if not NAME.match(name):
        raise LabError(f"endpoint name {name!r}: 1-12 of a-z, 0-9 and '-' (it names ep-<name> in the node)")
    if any((e.node, e.name) == (node, name) for e in state.endpoints):
        raise LabError(f"endpoint {name!r} exists on node {node} already")
    interface = ipaddress.IPv4Interface(address)
    found = _ip("-j", "-d", "link", "show", "dev", bridge, netns=n.netns, check=False)
    kinds = [link.get("linkinfo", {}).get("info_kind") for link in json.loads(found.stdout or "[]")]
    if found.returncode != 0 or kinds != ["bridge"]:
        raise LabError(f"node {node}: no bridge {bridge!r} (is the node's config applied?)")
    endpoint = EndpointState(
        node=node,
        name=name,
        netns=f"{PREFIX}ep-{node}-{name}",
        node_veth=port or f"ep-{name}",
        bridge=bridge,
        address=str(interface),
        mtu=mtu,
        mac=mac or "",
    )
    state.endpoints.append(endpoint)
    state.save()
    _ip("netns", "add", endpoint.netns)
    _quiet_ipv6(endpoint.netns)
    _ip("link", "set", "lo", "up", netns=endpoint.netns)
    _ip(
        *("link", "add", "eth0", "netns", endpoint.netns, "mtu", str(mtu), "type", "veth"),
        *("peer", "name", endpoint.node_veth, "mtu", str(mtu), "netns", n.netns),
    )
    if port is None:
        _ip("link", "set", endpoint.node_veth, "master", bridge, "up", netns=n.netns)
    else:
        _wait_for_port(n.netns, port, bridge, node)
    if mac:
        _ip("link", "set", "eth0", "address", mac, netns=endpoint.netns)
    _ip("address", "add", str(interface), "dev", "eth0", netns=endpoint.netns)
    _ip("link", "set", "eth0", "up", netns=endpoint.netns)
    if gateway:
        _ip("route", "add", "default", "via", gateway, netns=endpoint.netns)
    return endpoint


#: How long the node's networkd may take to make a new port a member of its bridge.
PORT_WAIT_S = 20.0


def _wait_for_port(netns: str, port: str, bridge: str, node: str) -> None:
    """Until the node's own config has made ``port`` an up port of ``bridge``."""
    deadline = time.monotonic() + PORT_WAIT_S
    while True:
        shown = _ip("-j", "link", "show", "dev", port, netns=netns, check=False)
        links = json.loads(shown.stdout or "[]")
        if links and links[0].get("master") == bridge and "UP" in links[0].get("flags", []):
            return
        if time.monotonic() > deadline:
            raise LabError(f"node {node}: {port} did not become an up port of {bridge} within {PORT_WAIT_S:g} s")
        time.sleep(0.2)


def exec_in_endpoint(
    state: LabState, node: str, name: str, argv: Sequence[str], *, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` (``ping``...) in an endpoint's network namespace, with its node's programs
    and files (the node's mount namespace): the host needs none of them."""
    endpoint = state.endpoint(node, name)
    namespaces = ("--mount", "--uts", f"--net={NETNS_DIR / endpoint.netns}")
    return _nsenter(_leader(state, node), namespaces, argv, None, timeout)


def remove_endpoint(state: LabState, node: str, name: str) -> None:
    endpoint = state.endpoint(node, name)
    if _netns_exists(endpoint.netns):
        _ip("netns", "delete", endpoint.netns)  # the veth goes with it, the node's end too
    state.endpoints.remove(endpoint)
    state.save()


# ----------------------------------------------------------------------------- status and down


@dataclass(frozen=True)
class NodeStatus:
    name: str
    container: bool  # nspawn and the container's init run
    ssh: bool  # sshd answers on the management address
    ssh_address: str
    underlay: str


def status(state: LabState) -> list[NodeStatus]:
    out = []
    for n in state.nodes:
        running = all(p is not None and system.alive(p) for p in (n.nspawn, n.leader))
        out.append(NodeStatus(n.name, running, running and _ssh_answers(n.ssh, 0.5), n.ssh, n.underlay))
    return out


def down(
    state: LabState | None = None,
    *,
    state_path: Path | None = None,
    progress: Progress = stderr_progress,
    timeout: float = STOP_TIMEOUT_S,
) -> None:
    """Remove everything the lab's state names (from the file when no state is given), and nothing else.

    Containers get SIGTERM (a clean systemd shutdown) and, after ``timeout``, SIGKILL by
    PID; then mounts, namespaces, interfaces, cgroups and directories go. Idempotent:
    a second ``down`` (or one after a crash halfway through ``up``) finds less to do.
    """
    system.require_root()
    if state is None:
        path = state_path or state_file()
        if not path.exists():
            progress(f"lab: nothing to tear down (no state file {path})")
            return
        state = LabState.load(path)
    started = time.monotonic()
    problems: list[str] = []

    def attempt(what: str, action: Callable[..., object], *args: object) -> None:
        try:
            action(*args)
        except (LabError, OSError, subprocess.SubprocessError) as exc:
            problems.append(f"{what}: {exc}")

    for endpoint in list(state.endpoints):
        attempt(f"endpoint {endpoint.name}", _delete_netns, endpoint.netns)

    # Containers: a clean shutdown first (systemd halts on SIGRTMIN+3, sent to each init
    # directly and repeated: an init still booting has no handler yet and drops it), then
    # SIGKILL by PID to each init, which ends its whole PID namespace, and to nspawn.
    for n in state.nodes:
        if n.leader is None and n.nspawn is not None and system.alive(n.nspawn):  # up died before noting it
            n.leader = next((c for c in system.children(n.nspawn.pid) if system.pid_namespace_init(c.pid)), None)
    inits = [(n.leader, signal.SIGRTMIN + 3) for n in state.nodes if n.leader is not None]
    last = [p for n in state.nodes for p in (n.leader, n.nspawn) if p is not None]
    attempt("containers", system.stop, inits, last, timeout)
    # Anything still running inside a node's root (a process that escaped the records).
    strays = system.processes_rooted_under(Path(state.run_dir))
    if strays:
        attempt("processes in the nodes", system.stop, [(p, signal.SIGKILL) for p in strays], strays, 5.0)

    attempt("mounts", system.unmount_all_under, Path(state.run_dir))
    for n in state.nodes:
        attempt(f"{n.name} management link", _delete_link, n.host_veth)
        attempt(f"{n.name} namespace", _delete_netns, n.netns)
        attempt(f"{n.name} nspawn state", system.remove_tree, NSPAWN_DIR / "propagate" / n.machine)
        for cgroup in n.cgroups:
            attempt(f"{n.name} cgroup", system.remove_cgroup, Path(cgroup))
    attempt("underlay namespace", _delete_netns, state.underlay_netns)
    if not problems:
        attempt("run directory", system.remove_tree, Path(state.run_dir))
        for created in reversed(state.created_dirs):
            attempt(f"directory {created}", _remove_if_empty, Path(created))
    if problems:
        raise LabError("the lab is not completely down:\n  " + "\n  ".join(problems))
    progress(f"lab: down in {time.monotonic() - started:.1f} s")


def _delete_netns(name: str) -> None:
    if _netns_exists(name):
        _ip("netns", "delete", name)


def _delete_link(name: str) -> None:
    if _link_exists(name):
        _ip("link", "delete", "dev", name)


def _holds_files(path: Path) -> bool:
    return any(not p.is_dir() for p in path.rglob("*"))


def _remove_if_empty(path: Path) -> None:
    """rmdir ``path`` and its empty subdirectories; anything holding a file stays. A cgroup
    goes only when no process is left in it. ``/run/netns`` is a mount point of itself
    (``ip netns add`` makes it one): unmounted first, once empty."""
    if not path.is_dir() or path.is_symlink():
        return
    if any(str(path).startswith(f"{root}/") for root in system.cgroup_roots()):
        system.remove_cgroup(path)
        return
    if _holds_files(path):
        return
    if path in system.mounts_under(path):
        system.unmount(path)
    for sub in sorted((p for p in path.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        sub.rmdir()
    path.rmdir()
