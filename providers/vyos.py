"""Apply a router's rendered config through the VyOS HTTPS API (httpx), safely.

One resource per router (``fabric:vyos`` config of every section): a whole apply is then
one ``/configure`` batch, one confirm and one save, however many lines change.

* ``config`` is ``{"<section>": "<its set lines>"}``: per config section one string, the
  ``set`` lines as typed at the VyOS CLI, one per line (see :func:`parse_lines`). A
  handful of values, not one per line: the Pulumi Python SDK serializes a resource's
  inputs in time quadratic in their number of values, and a router with 200 tenants has
  ~17,000 lines. ``pulumi preview --diff`` shows each changed section as a line diff, so
  it still names each changed line on each router. ``owns`` is ``{"<section>": [subtree
  paths]}``. Secret values appear as ``<secret:NAME>`` markers (:mod:`markers`), filled
  in from the ``secrets`` input (a Pulumi secret) only in the request to the router, and
  only at the paths ``secret_paths`` names (``{"<path words>": NAME}``, made by the
  renderer from its secret structure). Values known only after ``up`` (a peer's public
  key, a cloud node's address: ``<public-key:NAME>``, ``<endpoint:NAME>``) are filled in
  from the ``late`` input (``{kind: {name: value}}``) at the paths ``late_paths`` names
  (``{"<path words>": [[kind, name], ...]}``) before anything else, so diffs, drift and
  applies all compare the real lines while the preview shows every line with its
  marker. Marker text anywhere else refuses the whole apply.
* State written by earlier versions holds ``config`` as ``{"<path words>": [values]}``
  and ``owns`` as one list; every method accepts both (:func:`desired_config`,
  :func:`owned_roots`), and ``diff`` compares what the configs mean, so the first
  ``up`` after an upgrade changes nothing that did not change.
* ``diff`` works from data alone (no device access in preview); another API host (another
  router) is a replace, the old one's config deleted first; everything else (a renamed
  router included) is an in-place update.
* ``create``/``update`` read the owned subtrees from the router, send one batch (deletes
  of what is no longer desired, then sets) with ``confirm_time`` unless ``confirm`` is
  false (a build without commit-confirm ignores it; the answer says whether a timer runs), read the config
  back, confirm, then save. A VyOS commit is not atomic (a failing priority subtree
  leaves the others committed), so after any failed or uncertain write the router is
  put back to what it held before the apply and nothing is saved (:meth:`Router._undo`);
  the error names the router, the offending path and the router's message.
* ``read`` fetches the owned subtrees so ``pulumi refresh`` shows hand-made drift (the
  resource is marked updated, its ``config`` output becomes what the router holds and
  its ``drift`` output lists the differing lines; the next ``up`` puts them back);
  ``delete`` removes exactly the owned subtrees (less the API's own, which would cut
  the provider off), commits and saves.
* Applies to one router never overlap: a lock per router in this process, plus retries
  with backoff while the router reports its commit lock held by another commit (a 400
  with vyatta-cfg's lock message). Connection failures before a request is sent are
  retried, and reads and idempotent writes also on nginx's 502-504 (the API
  restarting); any other 4xx never is, nor a write whose request may have reached it.
* The read-back before confirming waits, for a change under ``service https`` (VyOS
  answers it before committing it in the background, then restarts the API), for the
  restart; a change that is not in the running config is put back, never confirmed.
* A timer is confirmed only when it is provably this apply's: the router said it armed
  it, or a locked-out attempt did with nothing committed. Any other may be somebody
  else's safety net, and is left to run out into the saved config.

TLS is verified by default: against a CA bundle, or against a pinned SHA-256
fingerprint of the router's certificate (checked before the API key is ever sent);
``insecure`` is an explicit opt-out. The provider object holds no state: connections
open inside each method.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import socket
import ssl
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Any, NoReturn
from urllib.parse import urlsplit

import httpx
import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider, UpdateResult

import markers
from providers import types
from providers.locks import device_lock

#: Leaves whose values are secrets even when fabric did not write them (drift is redacted).
SECRET_LEAVES = frozenset({"private-key", "preshared-key", "key", "password", "secret", "shared-secret-key"})
#: What VyOS says when another commit holds the configuration lock.
BUSY = re.compile(r"temporarily locked|another commit in progress|configuration session busy", re.IGNORECASE)
#: VyOS's answer to showConfig of a path with nothing under it.
EMPTY = "Configuration under specified path is empty"
#: A confirm that came too late: the commit has already been rolled back.
NO_CONFIRM_PENDING = "No confirm pending"
#: A commit-confirm timer still runs (e.g. after a lost connection): a newer commit waits for it.
CONFIRM_PENDING = "Another confirm is pending"
#: VyOS's reply to a change under ``service https``: it commits after answering.
BACKGROUND = "commit will be called in the background"
#: How long a background commit may take to show up in the running config.
BACKGROUND_WAIT_S = 120.0
#: What a router answers when it armed a commit-confirm timer (vyos-1x config_mgmt.py).
TIMER_STARTED = "Initialized commit-confirm"
#: nginx's answers while the API behind it restarts (502) or is slower than its timeout (504).
GATEWAY_ERRORS = (502, 503, 504)
#: Where the provider's lock barrier saves: a scratch file, never the boot config.
BARRIER_FILE = "/config/fabric-barrier.boot"
#: How often putting a router back re-reads and re-sends before it gives up, and the pause
#: that grows between rounds (a background commit needs no lock, so only time shows it).
RESTORE_ROUNDS = 4
RESTORE_PAUSE_S = 0.5
#: Client timeout of a batch per minute of its commit-confirm time (a large batch runs long).
CONFIGURE_TIMEOUT_PER_MINUTE_S = 30.0
RETRIES = 5
TIMEOUT_S = 30.0


#: ``{"<path words>": [values]}`` (an empty list for a valueless leaf): the provider's working form.
Config = dict[str, list[str]]
#: One ``set`` line: its path key, its value (None for a valueless leaf), and its text.
Line = tuple[str, str | None, str]
#: Section of the lines in state written before configs were kept per section.
ALL = "config"


class VyosError(Exception):
    """An apply or read failed; the message names the router and what the router said."""


# ----------------------------------------------------------------------------- config data


def path_key(path: tuple[str, ...] | list[str]) -> str:
    return " ".join(path)


def flatten(tree: Any, prefix: tuple[str, ...] = ()) -> Config:
    """A ``showConfig`` tree as ``{path: values}``: a list is a multi-valued leaf, ``{}`` valueless."""
    out: Config = {}
    if isinstance(tree, dict):
        if not tree and prefix:
            out[path_key(prefix)] = []
        for name, sub in tree.items():
            out.update(flatten(sub, (*prefix, str(name))))
    elif isinstance(tree, list):
        out[path_key(prefix)] = [str(v) for v in tree]
    else:
        out[path_key(prefix)] = [str(tree)]
    return out


#: A word that ``set_line`` leaves unquoted (fabric/render/vyos/command.py).
_BARE = re.compile(r"^[A-Za-z0-9_.:/@+-]+$")
#: A word of a ``set`` line: bare characters, ``'quoted text'`` and ``\\'`` run together.
_WORD = re.compile(r"(?:'[^']*'|\\.|[^\s'\\])+", re.DOTALL)
_PART = re.compile(r"'([^']*)'|\\(.)", re.DOTALL)
#: A line whose quotes are all closed (a value may hold a newline).
_CLOSED = re.compile(r"(?:[^'\\]|\\.|'[^']*')*", re.DOTALL)


def _unquote(word: str) -> str:
    if "'" not in word and "\\" not in word:
        return word
    return _PART.sub(lambda m: m.group(1) if m.group(1) is not None else m.group(2), word)


def _quote(word: str) -> str:
    return word if _BARE.match(word) else "'" + word.replace("'", "'\\''") + "'"


def line_text(path: str, value: str | None) -> str:
    """A line as ``set_line`` renders it: path words quoted only when they must be, a value always."""
    words = " ".join(_quote(w) for w in path.split(" "))
    return f"set {words}" if value is None else f"set {words} '" + value.replace("'", "'\\''") + "'"


def parse_lines(text: str) -> list[Line]:
    """A section's ``set`` lines as (path key, value, line).

    Words are as the VyOS CLI (and ``set_line``) writes them: bare, or in single quotes
    with ``'\\''`` for a quote. ``set_line`` always quotes a value and quotes a path word
    only when it must, so a quoted last word is the value (a path word that needs quotes
    must not end a valueless line; fabric's never do). Blank lines are ignored.
    """
    out: list[Line] = []
    pending = ""
    for raw in text.split("\n"):
        line = f"{pending}\n{raw}" if pending else raw
        # Most lines are bare words and at most a plainly quoted value: split them directly.
        quotes = -1 if "\\" in line else line.count("'")
        if quotes == 0 or (quotes == 2 and line.endswith("'") and line[line.index("'") - 1] == " "):
            words = line[: line.index("'")].split() if quotes else line.split()
            value = line[line.index("'") + 1 : -1] if quotes else None
            path = " ".join(words[1:])
        elif _CLOSED.fullmatch(line):
            quoted = _WORD.findall(line)
            words = [_unquote(w) for w in quoted]
            value = words.pop() if len(words) > 2 and quoted[-1].startswith("'") else None
            path = " ".join(words[1:])
        else:
            pending = line  # a quoted value goes on on the next line
            continue
        pending = ""
        if not words:
            continue
        if words[0] != "set" or not path:
            raise VyosError(f"config line {line.strip()!r} is not a `set` line with a path")
        out.append((path, value, line.strip()))
    if pending:
        raise VyosError(f"config line {pending.strip()!r} has an unterminated quote")
    return out


def pairs(config: Mapping[str, list[str]]) -> Iterator[tuple[str, str | None]]:
    """Each line of a ``{path: [values]}`` config as (path, value or None)."""
    for path, values in config.items():
        if values:
            yield from ((path, v) for v in values)
        else:
            yield path, None


def config_lines(config: Mapping[str, Any]) -> dict[str, list[Line]]:
    """A ``config`` input as its lines per section; state of earlier versions
    (``{"<path words>": [values]}``) is one section, :data:`ALL`."""
    if any(not isinstance(v, str) for v in config.values()):
        return {ALL: [(p, v, line_text(p, v)) for p, v in pairs(config)]}
    return {section: parse_lines(text) for section, text in config.items()}


def desired_config(config: Mapping[str, Any]) -> Config:
    """What a ``config`` input (either form) asks of the router, as ``{path: [values]}``."""
    return lines_config(config_lines(config))


def lines_config(sections: Mapping[str, list[Line]]) -> Config:
    out: Config = {}
    for lines in sections.values():
        for path, value, _ in lines:
            values = out.setdefault(path, [])
            if value is not None:
                values.append(value)
    return out


def fill_late(sections: dict[str, list[Line]], late: Any, late_paths: Any) -> dict[str, list[Line]]:
    """The lines with each value known after ``up`` filled in from ``late``, exactly where
    ``late_paths`` says the renderer put one; marker text of such a value anywhere else, or
    a slot without its value, is a VyosError (nothing is sent)."""
    if not late_paths and not any(markers.holds_marker_text(text) for lines in sections.values() for *_, text in lines):
        return sections
    out: dict[str, list[Line]] = {}
    for section, lines in sections.items():
        filled = out.setdefault(section, [])
        for path, value, text in lines:
            found = markers.parse(value) if value is not None else None
            if found is None or found[0] == markers.SECRET:
                if markers.holds_marker_text(path) or (found is None and value and markers.holds_marker_text(value)):
                    raise VyosError(
                        f"refusing to apply: {text[:120]!r} holds marker text where fabric placed no value; nothing was sent"
                    )
                filled.append((path, value, text))
                continue
            kind, name = found
            if [kind, name] not in (late_paths.get(path) or []):
                raise VyosError(
                    f"refusing to apply: {text[:120]!r}: fabric placed no {kind} at this path; nothing was sent"
                )
            known = (late.get(kind) or {}).get(name)
            if not isinstance(known, str):
                raise VyosError(f"config uses the {kind} of {name!r}, which the resource was not given")
            filled.append((path, known, line_text(path, known)))
    return out


def wanted_lines(props: Mapping[str, Any]) -> dict[str, list[Line]]:
    """A resource's config as lines per section, with the values known after ``up`` in."""
    return fill_late(config_lines(props["config"]), props.get("late") or {}, props.get("late_paths") or {})


def owned_roots(owns: Mapping[str, list[list[str]]] | list[list[str]]) -> list[list[str]]:
    """Every owned subtree, from ``{section: subtrees}`` or (earlier state) one list."""
    if isinstance(owns, Mapping):
        return [list(o) for roots in owns.values() for o in roots]
    return [list(o) for o in owns]


def same_config(old: Any, new: Any) -> bool:
    """Whether two ``config`` values (either form) ask the same of the router. The order of
    a multi-valued leaf's values does not count: the router keeps its own."""
    if old == new:
        return True
    if not isinstance(old, Mapping) or not isinstance(new, Mapping):
        return False  # unknown during preview, or missing
    if any(not isinstance(v, (str, list)) for v in (*old.values(), *new.values())):
        return False

    def norm(config: Mapping[str, Any]) -> dict[str, list[str]]:
        return {p: sorted(v) for p, v in desired_config(config).items()}

    try:
        return norm(old) == norm(new)
    except VyosError:
        return False  # not config text (an unknown value): a change


def same_wanted(olds: Mapping[str, Any], news: Mapping[str, Any]) -> bool:
    """Whether two resources' configs, with their values known after ``up`` in, ask the same
    of the router (a value still unknown in a preview differs)."""
    keys = ("config", "late", "late_paths")
    if all(olds.get(k) == news.get(k) for k in keys):
        return True
    try:
        old, new = lines_config(wanted_lines(olds)), lines_config(wanted_lines(news))
    except (VyosError, TypeError, AttributeError, KeyError):
        return False  # unknown during preview, or not config text: a change
    return {p: sorted(v) for p, v in old.items()} == {p: sorted(v) for p, v in new.items()}


def same_roots(old: Any, new: Any) -> bool:
    """Whether two ``owns`` values (either form) name the same subtrees."""
    if old == new:
        return True
    if not isinstance(old, (Mapping, list)) or not isinstance(new, (Mapping, list)):
        return False
    return sorted(map(tuple, owned_roots(old))) == sorted(map(tuple, owned_roots(new)))


def router_text(
    actual: Config, desired: dict[str, list[Line]], owns: Mapping[str, list[list[str]]] | list[list[str]]
) -> dict[str, str]:
    """What the router holds, as a ``config`` value: per section, its desired lines that are
    on the router (in their order and text), then the router's lines under the section's
    owned subtrees that fabric did not ask for."""
    by_section = dict(owns) if isinstance(owns, Mapping) else {ALL: list(owns)}
    out: dict[str, str] = {}
    placed: set[str] = set()
    for section in [*desired, *(s for s in by_section if s not in desired)]:
        kept = [
            text
            for path, value, text in desired.get(section, [])
            if path in actual and (value is None or value in actual[path])
        ]
        wanted = {(p, v) for p, v, _ in desired.get(section, [])}
        mine = owned({p: v for p, v in actual.items() if p not in placed}, by_section.get(section, []))
        placed.update(mine)
        extra = [line_text(p, v) for p, v in pairs(mine) if (p, v) not in wanted]
        out[section] = "".join(f"{t}\n" for t in kept + extra)
    return out


def owned(config: Config, owns: list[list[str]]) -> Config:
    """The part of ``config`` under the owned subtrees."""
    roots = [path_key(o) for o in owns]
    return {p: v for p, v in config.items() if any(p == r or p.startswith(r + " ") for r in roots)}


def undo_scope(config: Config, owns: list[list[str]]) -> Config:
    """What an apply can change: the owned subtrees, and the empty nodes above them that a
    first ``set`` under an owned subtree creates (VyOS keeps them once their last child is
    deleted, so undoing an apply deletes them too)."""
    ancestors = {path_key(o[:k]) for o in owns for k in range(1, len(o))}
    return {**owned(config, owns), **{p: v for p, v in config.items() if p in ancestors}}


def delta(current: Config, desired: Config, owns: list[list[str]]) -> list[dict[str, Any]]:
    """The ``/configure`` commands that turn ``current`` into ``desired``: deletes, then sets.

    A line no longer desired is deleted at the highest point that holds nothing desired
    (so a removed tenant's ``interfaces vxlan vxlan10040`` goes whole, leaving no empty
    node behind), but never above the owned subtree it belongs to.
    """
    held = {tuple(words[:k]) for path in desired for words in [path.split(" ")] for k in range(1, len(words) + 1)}
    deletes: list[dict[str, Any]] = []
    gone: set[tuple[str, ...]] = set()
    for path, values in current.items():
        words = path.split(" ")
        if path not in desired:
            root = max((len(o) for o in owns if words[: len(o)] == list(o)), default=len(words))
            top = next(k for k in range(root, len(words) + 1) if tuple(words[:k]) not in held or k == len(words))
            prefix = tuple(words[:top])
            if not any(prefix[: len(g)] == g for g in gone):
                gone.add(prefix)
                deletes.append({"op": "delete", "path": list(prefix)})
            continue
        for value in values:
            # A secret (masked) leaf holds one value, which the set below overwrites.
            if value not in desired[path] and not value.startswith(("<secret:", "<redacted")):
                deletes.append({"op": "delete", "path": [*words, value]})
    sets: list[dict[str, Any]] = []
    for path, values in desired.items():
        words = path.split(" ")
        if not values and path not in current:
            sets.append({"op": "set", "path": words})
        for value in values:
            if value not in current.get(path, []):
                sets.append({"op": "set", "path": [*words, value]})
    return deletes + sets


def fill_secrets(
    commands: list[dict[str, Any]], secrets: Mapping[str, str], secret_paths: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Secrets filled in (only for the request; never stored), exactly where the renderer put
    them: a ``set`` of a path in ``secret_paths`` whose value is that secret's marker. Marker
    text anywhere else (a description a user wrote, say) is refused before anything is sent."""
    out = []
    for c in commands:
        path = list(c["path"])
        name = secret_paths.get(path_key(path[:-1])) if c["op"] == "set" and path else None
        if name is not None and path[-1] == markers.marker(markers.SECRET, name):
            if name not in secrets:
                raise VyosError(f"config uses secret {name!r}, which the resource was not given")
            path[-1] = secrets[name]
        elif any(markers.holds_marker_text(word) for word in path):
            raise VyosError(
                f"refusing to apply: {path_key(path)[:120]!r} holds secret marker text where fabric "
                "placed no secret; nothing was sent"
            )
        out.append({**c, "path": path})
    return out


def mask_secrets(actual: Config, desired: Config, secrets: Mapping[str, str]) -> Config:
    """Device values as markers: the marker where it holds our secret, a digest for others."""
    by_value = {v: k for k, v in secrets.items()}
    out: Config = {}
    for path, values in actual.items():
        leaf = path.rsplit(" ", 1)[-1]
        masked = []
        for value in values:
            if value in by_value:
                masked.append(f"<secret:{by_value[value]}>")
            elif leaf in SECRET_LEAVES or any(_is_secret_marker(d) for d in desired.get(path, [])):
                masked.append(f"<redacted sha256:{hashlib.sha256(value.encode()).hexdigest()[:12]}>")
            else:
                masked.append(value)
        out[path] = masked
    return out


def _is_secret_marker(value: str) -> bool:
    found = markers.parse(value)
    return found is not None and found[0] == markers.SECRET


def drift_lines(actual: Config, desired: Config) -> list[str]:
    """What differs on the router from what fabric applied, as ``+``/``-`` set lines."""
    out = []
    for path in sorted(actual.keys() | desired.keys()):
        have, want = actual.get(path), desired.get(path)
        if have == want:
            continue
        for value in want or []:
            if value not in (have or []):
                out.append(f"- {path} {value!r} (applied, gone from the router)")
        if want is not None and not want and have is None:
            out.append(f"- {path} (applied, gone from the router)")
        for value in have or []:
            if value not in (want or []):
                out.append(f"+ {path} {value!r} (on the router, not in fabric's config)")
        if have is not None and not have and want is None:
            out.append(f"+ {path} (on the router, not in fabric's config)")
    return out


# ----------------------------------------------------------------------------- transport


def normalize_fingerprint(fingerprint: str) -> str:
    text = fingerprint.lower().removeprefix("sha256:").replace(":", "").strip()
    if not re.fullmatch(r"[0-9a-f]{64}", text):
        raise VyosError(f"tls.fingerprint {fingerprint!r} is not a SHA-256 fingerprint (64 hex digits)")
    return text


def pinned_context(host: str, port: int, fingerprint: str, router: str, timeout: float = TIMEOUT_S) -> ssl.SSLContext:
    """Trust exactly the certificate whose SHA-256 is pinned, checked before any secret is sent.

    The router's certificate is fetched once without verification and compared; the real
    connection then trusts only that certificate (its own key must sign the handshake).
    """
    want = normalize_fingerprint(fingerprint)
    probe = ssl.create_default_context()
    probe.check_hostname = False
    probe.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, port), timeout=timeout) as raw, probe.wrap_socket(raw) as tls:
        der = tls.getpeercert(binary_form=True)
    if der is None:
        raise VyosError(f"router {router}: {host}:{port} presented no certificate")
    got = hashlib.sha256(der).hexdigest()
    if got != want:
        raise VyosError(
            f"router {router}: TLS certificate of {host}:{port} has SHA-256 {got}, not the pinned {want}; refusing to connect"
        )
    ctx = ssl.create_default_context(cadata=ssl.DER_cert_to_PEM_cert(der))
    ctx.check_hostname = False
    ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    return ctx


def tls_verify(endpoint: str, tls: Mapping[str, Any], router: str, timeout: float = TIMEOUT_S) -> ssl.SSLContext | bool:
    parts = urlsplit(endpoint)
    host, port = parts.hostname or "", parts.port or 443
    if tls.get("insecure"):
        return False
    if tls.get("fingerprint"):
        return pinned_context(host, port, str(tls["fingerprint"]), router, timeout)
    if tls.get("ca_pem"):
        return ssl.create_default_context(cadata=str(tls["ca_pem"]))
    return True


class ConnectionLost(VyosError):
    """A write whose request may have reached the router got no answer."""


class RouterBusy(VyosError):
    """Another commit (a CLI one) held VyOS's commit lock: this request committed nothing."""


def confirm_minutes(commands: int) -> int:
    """How long a commit waits for its confirmation: a router runs every command's checks
    before it commits, so a large first apply takes minutes, not seconds."""
    return 5 + commands // 1000


class Router:
    """One router's API, for the length of one provider call."""

    def __init__(
        self, props: Mapping[str, Any], api_key: str | None = None, timeout: float = TIMEOUT_S, retries: int = RETRIES
    ) -> None:
        """``timeout`` and ``retries``: an apply's by default; a read-only status asks for less."""
        self.name = str(props["router"])
        self.timeout = timeout
        self.retries = retries
        self.endpoint = str(props["endpoint"]).rstrip("/")
        self.key = api_key or str(props["api_key"])
        #: Values never to repeat in an error (routers echo paths, values included).
        self.secrets = [v for v in (props.get("secrets") or {}).values() if v] + [self.key]
        verify = tls_verify(self.endpoint, props.get("tls") or {}, self.name, timeout)
        self.client = httpx.Client(verify=verify, timeout=timeout)
        self.writes = 0
        #: Whether batches ask for a commit-confirm timer (state of earlier versions: always).
        self.confirm = props.get("confirm") is not False
        #: Whether the last batch ran under a commit-confirm timer (the router's answer says).
        self.timer = False

    def close(self) -> None:
        self.client.close()

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "<secret>")
        return text

    def call(
        self,
        endpoint: str,
        body: dict[str, Any],
        write: bool,
        idempotent: bool = False,
        timeout: float | None = None,
        retry_busy: bool = True,
    ) -> Any:
        """POST one request; retries only where repeating it cannot change anything twice:
        a connection that was never made, a busy router (unless ``retry_busy`` is off: then
        :class:`RouterBusy` is raised), or an idempotent request (confirm, save, reads)."""
        delay = 0.2
        for attempt in range(self.retries):
            try:
                response = self.client.post(
                    f"{self.endpoint}/{endpoint}", json={"key": self.key, **body}, timeout=timeout or self.timeout
                )
            except httpx.ConnectError as exc:  # nothing was sent
                error: Exception = exc
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                if write and not idempotent:
                    raise ConnectionLost(
                        f"router {self.name}: lost the connection during {endpoint} ({type(exc).__name__}), "
                        "so the change may or may not have been committed"
                    ) from exc
                error = exc
            else:
                # the API restarting: harmless to ask again unless the request was a change
                transient = (idempotent or not write) and response.status_code in GATEWAY_ERRORS
                if attempt < self.retries - 1 and ((retry_busy and _busy(response)) or transient):
                    error = VyosError(self.scrub(html.unescape(response.text)))
                else:
                    return self._reply(endpoint, response, write)
            time.sleep(delay)
            delay *= 2
        raise VyosError(
            f"router {self.name}: {endpoint} failed after {self.retries} attempts: {self.scrub(str(error))}"
        )

    def _reply(self, endpoint: str, response: httpx.Response, write: bool) -> Any:
        try:
            reply = response.json()
        except json.JSONDecodeError:
            reply = None
        if not isinstance(reply, dict):  # not the API's {"success", "data", "error"}
            reply = {"success": False, "error": response.text[:500]}
        if response.status_code == 401:
            raise VyosError(f"router {self.name}: the API refused the key (HTTP 401: {reply.get('error')})")
        if response.status_code >= 400 or not reply.get("success"):
            # The router HTML-escapes its error text (vyos-1x rest/models.py error()).
            error = self.scrub(html.unescape(str(reply.get("error"))).strip())
            failed = RouterBusy if _busy(response) else VyosError
            raise failed(f"router {self.name}: {endpoint} failed (HTTP {response.status_code}): {error}")
        if write:
            self.writes += 1
        return reply.get("data")

    def running(self) -> Config:
        try:
            tree = self.call("retrieve", {"op": "showConfig", "path": []}, write=False)
        except VyosError as exc:
            if EMPTY in str(exc):
                return {}
            raise
        return flatten(tree or {})

    def apply(self, commands: list[dict[str, Any]], owns: list[list[str]], before: Config, check: Any) -> None:
        """One batch under commit-confirm; read back; confirmed only when the read-back passes
        ``check``; saved. On any failure or doubt the router is put back to ``before`` (its
        :func:`undo_scope` as read at the start), its saved config untouched; see :meth:`_undo`.

        ``check(running_config)`` returns a problem or None. With nothing to change only
        the save is sent: an earlier apply may have committed without saving.
        """
        if not commands:
            self.save()
            return
        # The undo may write back secrets this apply replaces: never repeat those either.
        self.secrets += [v for p, vs in before.items() if p.rsplit(" ", 1)[-1] in SECRET_LEAVES for v in vs if v]
        minutes = confirm_minutes(len(commands))
        body: dict[str, Any] = {"commands": commands, **({"confirm_time": minutes} if self.confirm else {})}

        def unchanged(running: Config) -> str | None:
            return None if same_lines(undo_scope(running, owns), before) else "the router's config changed"

        locked_out = False
        delay = 0.2
        for _ in range(RETRIES):
            try:
                reply = self.call(
                    "configure", body, write=True, timeout=minutes * CONFIGURE_TIMEOUT_PER_MINUTE_S, retry_busy=False
                )
                break
            except RouterBusy as exc:
                # Nothing committed; but an API server that arms before committing armed a timer.
                locked_out, cause = True, str(exc)
            except VyosError as exc:
                if locked_out and CONFIRM_PENDING in str(exc) and unchanged(self.running()) is None:
                    # Nothing committed and a timer runs: the one our locked-out attempt armed
                    # (a timer that ran before this apply would have been reported then, not the lock).
                    self._confirm(unchanged)
                    locked_out = False
                    continue
                self._undo(owns, before, str(exc), timer_doubt=_may_have_armed(str(exc)) or locked_out)
            time.sleep(delay)
            delay *= 2
        else:
            self._undo(owns, before, f"{cause} ({RETRIES} attempts)", timer_doubt=True)
        text = reply if isinstance(reply, str) else ""
        # Builds whose API has no commit-confirm ignore confirm_time silently: the answer
        # says whether a timer runs (config_mgmt's "Initialized commit-confirm ...").
        self.timer = TIMER_STARTED in text
        if BACKGROUND in text:
            self._await_restart()
        problem = self._read_back(check, wait=BACKGROUND_WAIT_S if BACKGROUND in text else 0.0)
        if problem:
            cause = f"router {self.name}: the change was accepted but is not in the running config ({problem})"
            self._undo(owns, before, cause, confirm=self.timer)
        if self.timer:
            try:
                self._confirm(check)
            except VyosError as exc:
                raise VyosError(
                    f"{exc}; the change is committed but not confirmed: unless it is confirmed on the router, its "
                    "timer takes the router back to its saved config; the next `pulumi up` applies it again"
                ) from None
        try:
            self.save()
        except VyosError as exc:
            raise VyosError(
                f"{exc}; the change is committed and confirmed but not saved: the next `pulumi up` saves it"
            ) from None

    def save(self) -> None:
        self.call("config-file", {"op": "save"}, write=True, idempotent=True)

    def _confirm(self, check: Any) -> None:
        """Stop this apply's timer. An answer lost on the way is asked again, and then "No
        confirm pending" means either that the first try went through or that the timer ran
        out (the router then went back to its saved config): ``check`` on the running config
        tells which."""
        reply = self.call("configure", {"op": "confirm"}, write=True, idempotent=True)
        if isinstance(reply, str) and NO_CONFIRM_PENDING in reply and check(self.running()) is not None:
            raise VyosError(
                f"router {self.name}: the commit-confirm timer ran out before the confirm, so the router went "
                "back to its saved config; run `pulumi up` again"
            )

    def _undo(
        self, owns: list[list[str]], before: Config, cause: str, *, confirm: bool = False, timer_doubt: bool = False
    ) -> NoReturn:
        """After a failed or uncertain write: put the owned config back to ``before`` and say so.

        A VyOS commit is partial (a unit that fails leaves the others committed), a 504 or a
        timeout may come while the commit still runs, and a timer may be armed. So: wait
        for the API's lock (a save to a scratch file queues behind any running commit),
        read what is committed, send the inverse of what landed, and read again, until the
        owned config is ``before``. Nothing is saved: the saved config stays as it was.

        Only a timer the router said it armed for this apply (``confirm``) is stopped, and
        only then: the running config is what it was, so confirming loses nothing. Where the
        router did not say (a failed commit on a server that arms first, a lost answer),
        the timer may be somebody else's, so it is left to run out (``timer_doubt``): it
        then takes the router back to its saved config, which this apply left as it was."""
        try:
            self._restore(owns, before)
        except VyosError as exc:
            raise VyosError(
                f"{cause}; putting the router back failed ({exc}): a commit-confirm timer, if one runs, takes it "
                "back to its saved config; else it may hold part of this apply (`pulumi refresh` shows what), "
                "which the next `pulumi up` repairs"
            ) from None
        if confirm:
            with suppress(VyosError):
                self._confirm(lambda running: None)
        note = (
            "; a commit-confirm timer may still run for this apply (API servers that arm it before committing do so "
            "also for a commit that fails): fabric never confirms a timer it cannot prove its own, so when it runs "
            "out the router goes back to its saved config, which this apply left as it was"
            if timer_doubt
            else ""
        )
        raise VyosError(
            f"{cause}; the router is back at its config from before this apply, saved config untouched{note}"
        )

    def _restore(self, owns: list[list[str]], before: Config) -> None:
        """Rounds of barrier, read, inverse; a pause grows between rounds, as a commit the
        router runs in the background (``service https``) takes no lock to wait for; an
        inverse that is such a commit is waited for by the API's restart."""
        problem = "no round ran"
        for round_ in range(RESTORE_ROUNDS + 1):  # the last round only reads
            time.sleep(RESTORE_PAUSE_S * round_)
            try:
                self.call("config-file", {"op": "save", "file": BARRIER_FILE}, write=True, idempotent=True)
                now = undo_scope(self.running(), owns)
                if same_lines(now, before):
                    return
                problem = f"{len(_lines(now) ^ _lines(before))} lines still differ"
                if round_ == RESTORE_ROUNDS:
                    break
                reply = self.call("configure", {"commands": delta(now, before, owns)}, write=True)
                if isinstance(reply, str) and BACKGROUND in reply:
                    self._await_restart()
            except VyosError as exc:
                problem = str(exc)
        raise VyosError(f"after {RESTORE_ROUNDS} rounds: {problem}")

    def _await_restart(self) -> None:
        """A change under ``service https`` commits after the answer, in the background, and
        then restarts the API; until then reads show the API's uncommitted session. Wait for
        the restart (nginx's 502, or no connection), at most ``BACKGROUND_WAIT_S``."""
        deadline = time.monotonic() + BACKGROUND_WAIT_S
        while time.monotonic() < deadline and not self._restarting():
            time.sleep(0.1)

    def _read_back(self, check: Any, wait: float) -> str | None:
        """The check's verdict on the running config, asked again for ``wait`` s (the API
        comes back slowly after a restart)."""
        deadline = time.monotonic() + wait
        while True:
            try:
                problem: str | None = check(self.running())
            except VyosError as exc:  # the API restarting
                problem = str(exc)
            if problem is None or time.monotonic() >= deadline:
                return problem
            time.sleep(0.5)

    def _restarting(self) -> bool:
        """Whether the API is away right now (nginx's 502, or no connection)."""
        try:
            response = self.client.post(
                f"{self.endpoint}/retrieve", json={"key": self.key, "op": "exists", "path": []}, timeout=5.0
            )
        except httpx.TransportError:
            return True
        return response.status_code in GATEWAY_ERRORS


def _busy(response: httpx.Response) -> bool:
    """The router's config session is held by another commit (worth waiting for): VyOS
    answers 400 with vyatta-cfg's lock message (a CLI commit holds the commit lock)."""
    if response.status_code == 503:
        return True
    try:
        error = html.unescape(str(response.json().get("error") or ""))
    except (json.JSONDecodeError, AttributeError):
        return False
    return response.status_code == 400 and bool(BUSY.search(error))


def _lines(config: Config) -> set[tuple[str, str]]:
    """A config as its ``set`` lines (path, value; a valueless leaf with an empty value)."""
    return {(p, v) for p, values in config.items() for v in values or [""]}


def _may_have_armed(error: str) -> bool:
    """Whether a failed batch may have left a commit-confirm timer: a commit that failed (on
    servers that arm first) or an answer that never came; not a command the router refused
    before committing, nor a timer that was somebody else's."""
    before_commit = ("Set failed", "Delete failed", "Cannot delete", "is not valid", CONFIRM_PENDING)
    return not any(marker in error for marker in before_commit)


def same_lines(a: Config, b: Config) -> bool:
    """Two configs hold the same lines (values in any order)."""
    return {p: sorted(v) for p, v in a.items()} == {p: sorted(v) for p, v in b.items()}


@contextmanager
def router_session(props: Mapping[str, Any], api_key: str | None = None) -> Iterator[Router]:
    """The router's lock (applies never overlap) and a client that is closed afterwards."""
    with device_lock(str(props["endpoint"])):
        router = Router(props, api_key)
        try:
            yield router
        finally:
            router.close()


# ----------------------------------------------------------------------------- provider


class VyosConfigProvider(ResourceProvider):
    """Holds no state; the Pulumi state refers to it by module path (keep ``providers.vyos``)."""

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # Another API host is another router: a replace, deleting from the old one first
        # (it may be the same router under another name, and a create-then-delete would
        # then delete what it had just applied). A renamed router is an update.
        old_host = urlsplit(str(olds.get("endpoint"))).hostname
        replaces = ["endpoint"] if old_host != urlsplit(str(news.get("endpoint"))).hostname else []
        keys = ("router", "secrets", "endpoint", "api_key", "tls", "vyos_version")
        changes = (
            any(olds.get(k) != news.get(k) for k in keys)
            or not same_wanted(olds, news)
            # Whether applies run under commit-confirm (state of earlier versions: they did).
            or (olds.get("confirm") is not False) != (news.get("confirm") is not False)
            or not same_roots(olds.get("owns"), news.get("owns"))
        )
        return DiffResult(changes=changes, replaces=replaces, delete_before_replace=True)

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = self._apply(props)
        return CreateResult(id_=f"vyos-{urlsplit(str(props['endpoint'])).netloc}", outs=outs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        try:
            return UpdateResult(outs=self._apply(news))
        except VyosError as exc:
            # A rotated API key: the router still has the old one until this apply sets it.
            if "HTTP 401" not in str(exc) or olds.get("api_key") in (None, news.get("api_key")):
                raise
            return UpdateResult(outs=self._apply(news, api_key=str(olds["api_key"])))

    def _apply(self, props: dict[str, Any], api_key: str | None = None) -> dict[str, Any]:
        desired = lines_config(wanted_lines(props))
        owns = owned_roots(props["owns"])
        secrets = props.get("secrets") or {}
        secret_paths = props.get("secret_paths") or {}

        def check(running: Config) -> str | None:
            got = mask_secrets(owned(running, owns), desired, secrets)
            mine = {(p, tuple(sorted(v))) for p, v in got.items()}
            differing = sorted(mine ^ {(p, tuple(sorted(v))) for p, v in desired.items()}, key=str)
            return f"{len(differing)} lines differ, first {differing[0][0]!r}" if differing else None

        with router_session(props, api_key) as router:
            before = undo_scope(router.running(), owns)
            current = mask_secrets(owned(before, owns), desired, secrets)
            commands = fill_secrets(delta(current, desired, owns), secrets, secret_paths)
            router.apply(commands, owns, before, check)
        return {
            **props,
            "writes": router.writes,
            "changed_lines": len(commands),
            "drift": [],
            "commit_confirm": router.timer if commands else props.get("commit_confirm"),
        }

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """The router's owned config; ``config`` stays as it was unless something differs."""
        lines = wanted_lines(props)
        desired = lines_config(lines)
        with router_session(props) as router:
            actual = owned(router.running(), owned_roots(props["owns"]))
        masked = mask_secrets(actual, desired, props.get("secrets") or {})
        drift = drift_lines(masked, desired)
        config = router_text(masked, lines, props["owns"]) if drift else props["config"]
        return ReadResult(id_=id_, outs={**props, "config": config, "drift": drift})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        keep = [path_key(k) for k in props.get("keep_on_delete") or []]
        owns = owned_roots(props["owns"])
        with router_session(props) as router:
            running = router.running()
            current = owned(running, owns)
            doomed = {p: v for p, v in current.items() if not any(p == k or p.startswith(k + " ") for k in keep)}
            roots = [o for o in owns if path_key(o) not in keep and owned(doomed, [o])]
            commands = [{"op": "delete", "path": list(o)} for o in roots]

            def check(running: Config) -> str | None:
                left = set(owned(running, owns)) & set(doomed)
                return f"{len(left)} owned lines remain, first {sorted(left)[0]!r}" if left else None

            router.apply(commands, owns, undo_scope(running, owns), check)


class VyosConfig(Resource, module=types.MODULE, name="RouterConfig"):
    """A router's rendered config, applied through its API."""

    writes: pulumi.Output[int]

    def __init__(
        self,
        name: str,
        *,
        router: str,
        endpoint: pulumi.Input[str],
        api_key: pulumi.Input[str],
        tls: pulumi.Input[Mapping[str, Any]],
        vyos_version: str,
        confirm: bool,
        owns: Mapping[str, list[list[str]]],
        keep_on_delete: list[list[str]],
        config: pulumi.Input[Mapping[str, str]],
        secrets: Mapping[str, pulumi.Input[str]],
        secret_paths: pulumi.Input[Mapping[str, str]],
        late: Mapping[str, Mapping[str, pulumi.Input[str]]] | None = None,
        late_paths: Mapping[str, list[list[str]]] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            VyosConfigProvider(),
            name,
            {
                "router": router,
                "endpoint": endpoint,
                "api_key": pulumi.Output.secret(api_key),
                "tls": tls,
                "vyos_version": vyos_version,
                # Apply under commit-confirm (the release has it and the config did not turn it off).
                "confirm": confirm,
                "owns": owns,
                "keep_on_delete": keep_on_delete,
                "config": config,
                "secrets": pulumi.Output.secret(secrets),
                "secret_paths": secret_paths,
                # Only when used, so the state of a router without them stays as it was.
                **({"late": late, "late_paths": late_paths} if late_paths else {}),
                "writes": None,
                "changed_lines": None,
                "drift": None,
                "commit_confirm": None,
            },
            types.options(opts, secret_outputs=["secrets", "api_key"]),
        )
