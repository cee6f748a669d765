"""Apply a host's rendered state (files, then the actions that make them live) over SSH.

One resource per host and concern (``network``, ``sriov``, ``ovs``, ``vms``): it owns a
set of files (path, content, mode, owner) and the idempotent actions a change of those
files needs (``networkctl reload``, ``systemctl daemon-reload``, ``ovs-vsctl --may-exist
...``). Only files whose content, mode or owner differ are written, and only the actions
those files name are run, in the concern's order.

* Inputs read as a reviewer reads them: files by path with their whole content (a preview
  diffs it line by line), and each action as one shell line, ``"name: cmd && cmd"``; a
  file's ``cleanup`` is shell lines too. State of earlier versions (argv lists) is read
  alike (:func:`actions_of`, :func:`cleanup_of`).
* ``diff`` works from data alone (no host access in preview) and names the files and
  actions that change; a new address or port is an update (the same host), another
  ``root`` a replace that removes the old files first.
* ``create``/``update``: one SSH connection; one command reads every owned file's hash,
  mode and owner; one script writes the changed files (each to a temporary file, then
  renamed into place), removes the files an update no longer owns (running their
  ``cleanup`` commands, e.g. deleting the device a ``.netdev`` made), and runs the
  actions named by changed and removed files. A failure names the file or command and
  its output; writes are idempotent, so a re-run converges.
* Markers (:mod:`markers`): a file's spec lists its secret slots (``secrets``: offsets of
  the ``<secret:NAME>`` markers the renderer placed, e.g. a WireGuard private key) and
  its slots for values known only after ``up`` (``late``: offset, kind and name of a
  ``<public-key:NAME>`` or ``<endpoint:NAME>``); the provider fills those in from its
  ``secrets`` input (a Pulumi secret) and its ``late`` input only in what it
  sends to the host, and refuses a file with marker text anywhere else (user text that
  spells a marker gets nothing). State, diffs and drift show the markers, never the text.
* ``read`` compares the files on the host (hashes, one round trip): ``pulumi refresh``
  marks changed or missing files, and the next ``up`` puts them back.
* ``delete`` runs every file's cleanup (a VM unit's stops and disables it), removes the
  files, and reloads systemd when units were among them.

Security: the host key is pinned (a known_hosts line's key, or its ``SHA256:``
fingerprint); an unknown or different key is refused, never accepted. Authentication
is by key only: the private key arrives as a Pulumi secret (or an SSH agent is used);
``sudo -n`` when the login user is not root. ``root`` prefixes every path, for tests and
for preparing a chroot or image (default ``/``); actions see it as ``FABRIC_ROOT`` (empty
on a live host) for the host paths they touch (e.g. sysfs). The provider object holds no state;
the connection opens inside each method.
"""

from __future__ import annotations

import base64
import hashlib
import io
import shlex
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import paramiko
import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider, UpdateResult

import markers
from providers import types
from providers.locks import device_lock

RETRIES = 4
UNIT_DIR = "/etc/systemd/system/"
CONNECT_TIMEOUT_S = 15.0
COMMAND_TIMEOUT_S = 600.0
STEP = "@@fabric-step "
PENDING_MARK = "@@fabric-pending"
OWNER_MARK = "@@fabric-owner"
#: Where an apply notes the actions it still owes, until they have all run: a re-run
#: after a failure (or a dropped connection) finds files already written and would
#: otherwise never make them live.
PENDING_DIR = "/var/lib/fabric/pending"
#: Which resource last applied each concern on the host. When Pulumi replaces a resource
#: create-first (a renamed node, a new root), the new one owns the same files by the
#: time the old one is deleted: the old one's delete then finds another owner and
#: leaves the files (and what they made) alone.
OWNER_DIR = "/var/lib/fabric/owner"


class HostError(Exception):
    """An apply, read or delete failed; the message names the host and what failed."""


class HostKeyError(HostError):
    """The host's key is not the pinned one (or none is pinned): never connected."""


# ----------------------------------------------------------------------------- host keys


def fingerprint(key: paramiko.PKey) -> str:
    """``SHA256:...`` as ``ssh-keygen -l`` prints it."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")


def pinned_key(pinned: str) -> paramiko.PKey | None:
    """The key of a known_hosts-style pin (``[hosts] type base64 [comment]``), or None for a
    ``SHA256:`` fingerprint. Markers (``@revoked``, ``@cert-authority``) and several keys are
    refused: a pin is exactly one key."""
    pinned = pinned.strip()
    if pinned.startswith("SHA256:"):
        return None
    if "\n" in pinned or pinned.startswith("@"):
        raise HostKeyError("ssh.host_key must be exactly one key (no @markers, no several lines)")
    words = pinned.split()
    for i in range(len(words) - 1):
        try:
            return paramiko.PKey.from_type_string(words[i], base64.b64decode(words[i + 1]))
        except (paramiko.SSHException, ValueError, TypeError):
            continue
    raise HostKeyError(f"ssh.host_key {pinned[:40]!r}... is neither a key line nor a SHA256: fingerprint")


def matches_pin(key: paramiko.PKey, pinned: str) -> bool:
    """The host's key is the pinned one (by fingerprint, or the very key of a pinned line)."""
    want = pinned_key(pinned)
    if want is None:
        return pinned.strip().rstrip("=") == fingerprint(key)
    return want.get_name() == key.get_name() and want.asbytes() == key.asbytes()


class _PinnedKey(paramiko.MissingHostKeyPolicy):
    """Accept the host only if its key is the pinned one; no pin refuses every key."""

    def __init__(self, host: str, pinned: str | None) -> None:
        self.host = host
        self.pinned = pinned

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        got = f"{key.get_name()} {fingerprint(key)}"
        if not self.pinned:
            raise HostKeyError(
                f"host {self.host} ({hostname}): no ssh.host_key is pinned, and an unknown key is never accepted; "
                f"it presented {got}: verify that out of band and set ssh.host_key"
            )
        if not matches_pin(key, self.pinned):
            raise HostKeyError(
                f"host {self.host} ({hostname}) presented {got}, not the pinned key: refusing to connect "
                "(if the host was reinstalled, verify its new key and update ssh.host_key)"
            )


def load_private_key(text: str) -> paramiko.PKey:
    errors = []
    for kind in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return kind.from_private_key(io.StringIO(text))
        except (paramiko.SSHException, ValueError) as exc:
            errors.append(f"{kind.__name__}: {exc}")
    raise HostError("ssh.private_key is not an Ed25519, ECDSA or RSA private key the provider can read")


# ----------------------------------------------------------------------------- the session


class Host:
    """One SSH connection to one host, for the length of one provider call."""

    def __init__(self, props: Mapping[str, Any], timeout: float = CONNECT_TIMEOUT_S, retries: int = RETRIES) -> None:
        """``timeout`` and ``retries``: an apply's by default; a read-only status asks for less."""
        self.name = str(props["host"])
        self.root = str(props.get("root") or "/")
        self.sudo = str(props.get("user") or "root") != "root"
        self.client = self._connect(props, timeout, retries)

    def _connect(self, props: Mapping[str, Any], timeout: float, retries: int) -> paramiko.SSHClient:
        key = props.get("private_key")
        pkey = load_private_key(str(key)) if key else None
        delay = 0.5
        pin = props.get("host_key")
        key_of_pin = pinned_key(str(pin)) if pin else None
        address, port = str(props["address"]), int(props.get("port") or 22)
        for attempt in range(retries):
            client = paramiko.SSHClient()
            client.set_missing_host_key_policy(_PinnedKey(self.name, pin))
            if key_of_pin is not None:
                # Known to paramiko, the pinned key's type is the one it negotiates; any
                # other key then fails the handshake's check (BadHostKeyException).
                name = address if port == 22 else f"[{address}]:{port}"
                client.get_host_keys().add(name, key_of_pin.get_name(), key_of_pin)
            try:
                client.connect(
                    address,
                    port=port,
                    username=str(props.get("user") or "root"),
                    pkey=pkey,
                    allow_agent=pkey is None,
                    look_for_keys=False,
                    timeout=timeout,
                    banner_timeout=timeout,
                    auth_timeout=timeout,
                )
                return client
            except HostKeyError:
                client.close()
                raise
            except paramiko.BadHostKeyException as exc:
                client.close()
                raise HostKeyError(
                    f"host {self.name} ({address}:{port}) presented {exc.key.get_name()} {fingerprint(exc.key)}, "
                    "not the pinned key: refusing to connect (if the host was reinstalled, verify its new key "
                    "and update ssh.host_key)"
                ) from None
            except paramiko.AuthenticationException as exc:
                client.close()
                raise HostError(f"host {self.name}: SSH authentication failed ({exc})") from exc
            except (TimeoutError, OSError, paramiko.SSHException) as exc:
                client.close()
                if attempt == retries - 1:
                    raise HostError(
                        f"host {self.name}: cannot connect over SSH after {retries} attempts: {exc}"
                    ) from exc
            time.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.client.close()

    def path(self, path: str) -> str:
        """Where an owned path lives on this host (under ``root``)."""
        return path if self.root == "/" else self.root.rstrip("/") + "/" + path.lstrip("/")

    def run(
        self, script: str, combine: bool = True, timeout: float = COMMAND_TIMEOUT_S, limit: int | None = None
    ) -> tuple[int, str]:
        """Run a shell script (as root, through ``sudo -n`` if needed); exit code and output
        (stderr too when ``combine``; reads keep it apart, so a warning cannot garble them).
        ``timeout`` bounds the whole run; ``limit`` the output's bytes (a host's answer to a
        read-only status is not trusted to be small)."""
        command = "sudo -n sh -s" if self.sudo else "sh -s"
        deadline = time.monotonic() + timeout
        try:
            stdin, stdout, stderr = self.client.exec_command(command, timeout=timeout, get_pty=False)
            stdout.channel.set_combine_stderr(combine)
            stdin.write(script)
            stdin.channel.shutdown_write()
            chunks: list[bytes] = []
            size = 0
            while chunk := stdout.read(1 << 16):
                chunks.append(chunk)
                size += len(chunk)
                if limit is not None and size > limit:
                    raise HostError(f"host {self.name}: the answer passed {limit} bytes")
                if time.monotonic() > deadline:
                    raise HostError(f"host {self.name}: no complete answer within {timeout:g} s")
            if not combine:
                stderr.read()
            return stdout.channel.recv_exit_status(), b"".join(chunks).decode(errors="replace")
        except (OSError, paramiko.SSHException) as exc:
            raise HostError(f"host {self.name}: the SSH session failed: {exc or type(exc).__name__}") from exc

    def states(
        self, paths: list[str], marker: str, owner: str | None = None
    ) -> tuple[dict[str, tuple[str, str, str] | None], list[str], str]:
        """Hash, mode and owner of each path (None when missing), the actions an interrupted
        apply left pending (``marker``), and the concern's recorded owner (``owner``, a
        path), in one round trip."""
        lines = ["for f in " + " ".join(shlex.quote(self.path(p)) for p in paths) + "; do"] if paths else []
        if paths:
            lines += [
                '  if [ -f "$f" ]; then set -- $(sha256sum "$f"); h=$1; printf "%s %s\\n" "$h" "$(stat -c "%a %U" "$f")";',
                '  else echo "- - -"; fi',
                "done",
            ]
        lines.append(f"echo {PENDING_MARK}; cat {shlex.quote(self.path(marker))} 2>/dev/null || true")
        if owner is not None:
            lines.append(f"echo; echo {OWNER_MARK}; cat {shlex.quote(self.path(owner))} 2>/dev/null || true")
        code, output = self.run("\n".join(lines) + "\n", combine=False)
        if code != 0:
            raise HostError(f"host {self.name}: reading the owned files failed ({code}): {output[-2000:]}")
        rows, _, rest = output.partition(PENDING_MARK + "\n")
        pending, _, recorded = rest.partition(OWNER_MARK + "\n")
        lines = rows.splitlines()
        if len(lines) != len(paths):
            raise HostError(f"host {self.name}: unexpected answer reading the owned files: {output[-500:]}")
        out: dict[str, tuple[str, str, str] | None] = {}
        for path, row in zip(paths, lines, strict=True):
            digest, mode, owner = row.split()
            out[path] = None if digest == "-" else (digest, mode, owner)
        return out, pending.split(), recorded.strip()


@contextmanager
def host_session(props: Mapping[str, Any]) -> Iterator[Host]:
    """The host's lock (applies to one host never overlap) and one SSH connection."""
    with device_lock(f"{props['address']}:{props.get('port') or 22}"):
        host = Host(props)
        try:
            yield host
        finally:
            host.close()


# ----------------------------------------------------------------------------- what to do


def digest(content: str) -> str:
    return hashlib.sha256(content.encode()).hexdigest()


def content_of(spec: Mapping[str, Any], values: markers.Values) -> str:
    """The text the host gets: ``values`` (secrets and values known after ``up``, by kind
    and name) filled into the file's slots (``secrets`` and ``late`` of the spec: offsets
    the renderer made), and nowhere else: marker text outside a slot, or a slot without
    its value, is an error and nothing is written."""
    try:
        return markers.fill(str(spec["content"]), markers.slots_of(spec), values)
    except ValueError as exc:
        raise HostError(f"refusing to write the file: {exc}") from None


def values_of(props: Mapping[str, Any]) -> markers.Values:
    """What the resource fills into its files' slots: its ``secrets`` and its ``late`` values."""
    late = props.get("late") or {}
    if not isinstance(late, Mapping) or markers.SECRET in late:
        raise HostError("refusing to write the files: the late input may hold only public keys and endpoints")
    return {**late, markers.SECRET: props.get("secrets") or {}}


def wanted(spec: Mapping[str, Any], values: markers.Values) -> tuple[str, str, str]:
    """The (hash, mode, owner) a file should have, in the form the host reports it."""
    mode = format(int(spec.get("mode", 0o644)), "o")
    return digest(content_of(spec, values)), mode, str(spec.get("owner", "root"))


def same_actions(old: Any, new: Any) -> bool:
    """Whether two ``actions`` inputs (either form) run the same lines; unknown ones differ."""
    if old == new:
        return True
    try:
        return actions_of(old or []) == actions_of(new or [])
    except (TypeError, KeyError, AttributeError):
        return False


def same_files(olds: Mapping[str, Any], news: Mapping[str, Any]) -> bool:
    """Whether two resources' files are the same once their slots are filled (a file whose
    key became a marker filled with the same key is the same file; a value still unknown
    in a preview differs)."""
    if olds.get("files") == news.get("files") and olds.get("late") == news.get("late"):
        return True

    def filled(props: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        values = values_of(props)
        return {
            path: {
                **{k: v for k, v in spec.items() if k not in ("content", "secrets", "late", "cleanup")},
                "content": content_of(spec, values),
                "cleanup": cleanup_of(spec),
            }
            for path, spec in (props.get("files") or {}).items()
        }

    try:
        return filled(olds) == filled(news)
    except (HostError, TypeError, ValueError, KeyError, AttributeError):
        return False  # unknown during preview, or not a file spec: a change


def changed_files(
    files: Mapping[str, Mapping[str, Any]],
    states: Mapping[str, tuple[str, str, str] | None],
    values: markers.Values,
) -> list[str]:
    return [p for p, spec in files.items() if states.get(p) != wanted(spec, values)]


#: An action as the provider takes it: its name and its one shell line.
Action = tuple[str, str]


def actions_of(entries: Sequence[Any]) -> list[Action]:
    """A concern's ``actions`` input as (name, shell line): ``"name: cmd && cmd"`` strings,
    or (state of earlier versions) ``{"name", "commands": [argv, ...]}``, read alike so the
    first ``up`` after an upgrade changes nothing."""
    out = []
    for entry in entries:
        if isinstance(entry, str):
            name, _, line = entry.partition(": ")
        else:
            name, line = str(entry["name"]), " && ".join(shlex.join(map(str, argv)) for argv in entry["commands"])
        out.append((name, line))
    return out


def cleanup_of(spec: Mapping[str, Any]) -> list[str]:
    """A file's ``cleanup`` as shell lines (earlier state: argv lists)."""
    return [c if isinstance(c, str) else shlex.join(map(str, c)) for c in spec.get("cleanup") or []]


def actions_for(changed: list[str], files: Mapping[str, Mapping[str, Any]], actions: Sequence[Action]) -> list[Action]:
    """The actions the changed (or removed) files name, in the concern's order, each once."""
    named = {name for p in changed for name in files[p].get("reload") or []}
    return [a for a in actions if a[0] in named]


def marker_path(props: Mapping[str, Any]) -> str:
    return f"{PENDING_DIR}/{props['concern']}"


def owner_path(props: Mapping[str, Any]) -> str:
    return f"{OWNER_DIR}/{props['concern']}"


def apply_script(
    host: Host,
    files: Mapping[str, Mapping[str, Any]],
    changed: list[str],
    actions: Sequence[Action],
    marker: str,
    values: markers.Values,
    removed: Mapping[str, Mapping[str, Any]] | None = None,
    owner: tuple[str, str] | None = None,
) -> str:
    """One script: note the owed actions, write each changed file atomically, remove the
    files no longer owned (then their cleanup), run the actions, forget the note; steps
    are marked so a failure can be named."""
    owed = " ".join(name for name, _ in actions)
    note = shlex.quote(host.path(marker))
    root = "" if host.root == "/" else host.root.rstrip("/")
    lines = [
        "set -eu",
        "umask 077",  # a file is private until its own mode is set
        'trap \'[ -n "${tmp:-}" ] && rm -f "$tmp"\' EXIT',  # no half-written file stays behind
        f"export FABRIC_ROOT={shlex.quote(root)}",  # where the host's filesystem is (see ``root``)
        f'mkdir -p "$(dirname {note})"',
        f"echo {shlex.quote(owed)} > {note}",
    ]
    for path in changed:
        spec = files[path]
        target = shlex.quote(host.path(path))
        tmp = shlex.quote(host.path(path) + ".fabric-new")
        mode = format(int(spec.get("mode", 0o644)), "o")
        user = shlex.quote(str(spec.get("owner", "root")))
        payload = base64.b64encode(content_of(spec, values).encode()).decode()
        lines += [
            f"echo {shlex.quote(STEP + 'write ' + path)}",
            f'mkdir -p "$(dirname {target})"',
            f"tmp={tmp}",
            f"base64 -d > {tmp} <<'FABRIC_EOF'",
            *[payload[i : i + 76] for i in range(0, len(payload), 76)],
            "FABRIC_EOF",
            f"chmod {mode} {tmp}",
            f"chown {user} {tmp}",
            f"mv -fT {tmp} {target}",
            "tmp=",
        ]
    lines += removal_lines(host, removed or {})
    if owner is not None:
        path, name = shlex.quote(host.path(owner[0])), shlex.quote(owner[1])
        lines += [f'mkdir -p "$(dirname {path})"', f"echo {name} > {path}"]
    for name, line in actions:
        # Neither `set -e` nor `a && b` stops the script when `a` fails: the line's status is checked here.
        lines += [f"echo {shlex.quote(STEP + 'run ' + name + ': ' + line)}", f"{line} || exit $?"]
    lines.append(f"rm -f {note}")
    return "\n".join(lines) + "\n"


def removal_lines(host: Host, removed: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Run each file's cleanup while the file is still there (``wg-quick down`` reads its
    config, ``systemctl disable`` its unit), then remove it. Cleanup is best effort: what
    it undoes may already be gone."""
    lines = []
    for path, spec in removed.items():
        lines.append(f"echo {shlex.quote(STEP + 'remove ' + path)}")
        cleanup = cleanup_of(spec)
        if not cleanup and path.startswith(UNIT_DIR) and path.endswith((".service", ".timer")):
            cleanup = [
                shlex.join(["systemctl", "disable", "--now", path.rsplit("/", 1)[-1]])
            ]  # a unit says how to stop it
        lines += [f"{line} || true" for line in cleanup]
        lines.append(f"rm -f {shlex.quote(host.path(path))}")
    return lines


def failure(host: Host, code: int, output: str) -> HostError:
    steps = [line[len(STEP) :] for line in output.splitlines() if line.startswith(STEP)]
    where = steps[-1] if steps else "the apply script"
    tail = "\n".join(line for line in output.splitlines() if not line.startswith(STEP))[-2000:]
    return HostError(f"host {host.name}: {where} failed (exit {code}); fix the cause and re-run. Output:\n{tail}")


# ----------------------------------------------------------------------------- provider


class HostConcernProvider(ResourceProvider):
    """Holds no state; the Pulumi state refers to it by module path (keep ``providers.host``)."""

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # A new address or port is the same host reached another way: an update (a
        # create-then-delete replace would delete the files it had just found in place).
        # Another ``root`` is another place for the files: the old ones go first.
        replaces = ["root"] if olds.get("root") != news.get("root") else []
        keys = ("host", "user", "host_key", "private_key", "address", "port", "root", "secrets")
        changes = (
            any(olds.get(k) != news.get(k) for k in keys)
            or not same_actions(olds.get("actions"), news.get("actions"))
            or not same_files(olds, news)
        )
        return DiffResult(changes=changes, replaces=replaces, delete_before_replace=True)

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = self._apply(props, {})
        return CreateResult(id_=f"{props['host']}-{props['concern']}", outs=outs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=self._apply(news, olds.get("files") or {}))

    def _apply(self, props: dict[str, Any], old_files: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        """Make the host match ``props``; files in ``old_files`` but not in ``props`` are removed."""
        files: dict[str, dict[str, Any]] = props.get("files") or {}
        actions = actions_of(props.get("actions") or [])
        values = values_of(props)
        removed = {p: spec for p, spec in old_files.items() if p not in files}
        marker = marker_path(props)
        owner = (owner_path(props), str(props["owner"])) if props.get("owner") else None
        with host_session(props) as host:
            states, pending, recorded = host.states(list(files), marker, owner[0] if owner else None)
            if owner is not None and recorded == owner[1]:
                owner = None  # already recorded: nothing to write for it
            changed = changed_files(files, states, values)
            named = {name for name, _ in actions_for(changed, files, actions)}
            named |= {name for name, _ in actions_for(list(removed), removed, actions)} | set(pending)
            run = [a for a in actions if a[0] in named]
            if changed or run or removed or owner:
                code, output = host.run(apply_script(host, files, changed, run, marker, values, removed, owner))
                if code != 0:
                    raise failure(host, code, output)
        return {**props, "written": changed, "removed": list(removed), "ran": [name for name, _ in run], "drift": []}

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        files: dict[str, dict[str, Any]] = props.get("files") or {}
        values = values_of(props)
        with host_session(props) as host:
            states, _, _ = host.states(list(files), marker_path(props))
        seen: dict[str, dict[str, Any]] = {}
        drift = []
        for path, spec in files.items():
            state = states[path]
            if state == wanted(spec, values):
                seen[path] = spec
            elif state is None:
                seen[path] = {**spec, "content": "<missing on the host>"}
                drift.append(f"{path}: missing on the host")
            else:
                seen[path] = {
                    **spec,
                    "content": f"<changed on the host: sha256 {state[0][:12]}>",
                    "mode": int(state[1], 8),
                    "owner": state[2],
                }
                drift.append(f"{path}: changed on the host (sha256 {state[0][:12]}, mode {state[1]}, owner {state[2]})")
        return ReadResult(id_=id_, outs={**props, "files": seen, "drift": drift})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        files: dict[str, dict[str, Any]] = props.get("files") or {}
        units = [p for p in files if p.startswith(UNIT_DIR)]
        with host_session(props) as host:
            lines = ["set -u"]
            if props.get("owner"):
                owner, me = shlex.quote(host.path(owner_path(props))), shlex.quote(str(props["owner"]))
                lines.append(
                    f'if [ -f {owner} ] && [ "$(cat {owner})" != {me} ]; then '
                    f"echo {shlex.quote(STEP + 'skip: another resource owns these files now')}; exit 0; fi"
                )
                lines.append(f"rm -f {owner}")
            lines += [*removal_lines(host, files), f"rm -f {shlex.quote(host.path(marker_path(props)))}"]
            if units:
                lines.append(f"echo {shlex.quote(STEP + 'systemctl daemon-reload')}; systemctl daemon-reload")
            code, output = host.run("\n".join(lines) + "\n")
            if code != 0:
                raise failure(host, code, output)


class HostConcern(Resource, module=types.MODULE, name="HostConcern"):
    """One concern's files and actions on one host."""

    def __init__(
        self,
        name: str,
        *,
        host: str,
        concern: str,
        address: pulumi.Input[str],
        port: int,
        user: str,
        host_key: str | None,
        private_key: pulumi.Input[str] | None,
        files: pulumi.Input[Mapping[str, Any]],
        actions: pulumi.Input[Sequence[str]],
        root: str = "/",
        secrets: Mapping[str, pulumi.Input[str]] | None = None,
        late: Mapping[str, Mapping[str, pulumi.Input[str]]] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """``secrets``: the values of the ``<secret:NAME>`` markers in file contents, by name;
        ``late``: the values known after ``up`` their other markers stand for, by kind and name."""
        super().__init__(
            HostConcernProvider(),
            name,
            {
                "host": host,
                "concern": concern,
                # The resource's name: recorded on the host as the concern's owner (``OWNER_DIR``).
                "owner": name,
                "address": address,
                "port": port,
                "user": user,
                "host_key": host_key,
                "private_key": pulumi.Output.secret(private_key) if private_key is not None else None,
                "files": files,
                "actions": actions,
                "root": root,
                "secrets": pulumi.Output.secret(dict(secrets)) if secrets else None,
                # Only when used, so the state of a concern without them stays as it was.
                **({"late": late} if late else {}),
                "written": None,
                "removed": None,
                "ran": None,
                "drift": None,
            },
            types.options(opts, secret_outputs=["private_key", "secrets"]),
        )
