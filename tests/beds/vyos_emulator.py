"""An emulated VyOS router: the HTTPS API of ``vyos-http-api-server`` (VyOS 1.4 / 1.5) on loopback.

No VyOS router runs in the test environment, yet the VyOS provider must be shown to apply,
read, confirm and roll back configuration the way a router would let it. This module plays
the router: a real TLS server (stdlib ``http.server`` + ``ssl``, with a self-signed
certificate made here with ``cryptography``) that speaks the request and reply forms of
vyos-1x ``src/services/vyos-http-api-server`` / ``src/services/api/rest/routers.py`` and
keeps a configuration tree checked against the project's copy of VyOS's own schema
(``fabric/data/vyos/config-tree*.json.gz`` via :class:`fabric.vyos_schema.VyosSchema`).

What it emulates (and where the behaviour comes from):

* Every endpoint is POST; a body is JSON (``{"key": ..., ...}``) or the classic form
  (``key=...&data=<json>``, url-encoded or multipart), where ``data`` may also be a JSON
  list of commands. As on the router, the body is validated first (400, pydantic-like
  message; form requests get the form-specific messages of ``MultipartRequest``, 422 when
  ``data`` is missing, 401 when ``key`` is missing), then the key (401
  ``Valid API key is required``). Replies are ``{"success", "data", "error"}`` sent as
  ``text/html`` (``HTMLResponse``, like the router); unknown paths answer FastAPI's 404
  and other methods 405.
* ``/configure``: ``set``/``delete``/``comment``, one command or ``commands``; the value is
  ``path + [value]`` (an empty value is ignored, as ``if c.value`` does), all under ONE
  global lock. A bad path or value (``VyosSchema.check``; for a delete, only the node
  names, as ``validateDeletePath`` does), an unknown ``op`` or a delete of a path the
  config lacks (``strict=True``: ``service https api strict``) fails the request with 400
  before anything is committed. The commit then goes unit by unit (:data:`COMMIT_PRIORITIES`,
  vyatta-cfg ``commit-algorithm.cpp``): a unit whose lines have a new reference problem
  in the working config (``VyosSchema.check_all``, e.g. a ``vrf`` naming a missing ``vrf
  name``; problems already in the running config are not held against it), or that a
  fault names, fails (``[[path]] failed``, ``Commit failed``, 400) and the OTHER UNITS
  STAY COMMITTED: a partial commit (``partial_count``). Setting what is set is a no-op.
  Error texts are HTML-escaped as the router's ``error()`` does.
* Commit-confirm (1.5; ``supports_commit_confirm``): ``confirm_time`` (minutes) arms a
  timer, refused with ``Another confirm is pending`` while one runs (``config_mgmt.py``).
  ``confirm_order="arm-first"`` (the 2024 ``_configure_op``) arms before committing, so a
  failed commit, or one that meets the commit lock, leaves a timer; ``"commit-first"``
  (2025, as the issue describes it: ASSUMED) commits first and arms after a successful
  commit, so with another timer pending the change stands and the answer is still 400.
  ``{"op": "confirm"}`` (``ConfirmModel`` on ``/configure``, or ``/config-file``) stops it
  (``Reboot timer stopped``; ``confirmed`` records the running config at each such
  confirm); with nothing pending the router answers 200 ``No confirm pending``
  (``config-mgmt confirm`` exits 0) - ``strict_confirm=True`` for a 400 instead. When the
  timer runs out (``config_mgmt.py`` ``revert``) the router goes back to its SAVED config
  (later commits are lost too): with ``commit-confirm action reboot`` (VyOS's default) it
  is unreachable for ``reboot_seconds``, with ``reload`` it stays up. ``time_scale`` is the
  number of real seconds per emulated minute (default 60; tests use e.g. 0.05).
* Builds without commit-confirm in the API (1.4, or ``supports_commit_confirm=False``):
  the models have no ``confirm_time`` and pydantic ignores unknown fields, so
  ``confirm_time`` is *silently ignored* (the change commits with no timer) and
  ``{"op": "confirm"}`` is a 400 validation error (``path`` missing).
* A change under ``service https`` is committed "in the background" on the router, which
  answers 200 with ``Requested HTTP API server configuration change; commit will be called
  in the background`` *before* the commit runs (without the API lock), and only logs a
  failure. The emulator does the same: the units that fail are dropped silently, the
  rest shows up ``background_delay`` seconds after the reply; until then reads show the
  session's candidate; then ``service_https.py`` restarts the API and nginx answers 502
  for ``restart_seconds`` (``bad_gateway_count`` counts them).
* Reads (``/retrieve``) see the API's config session: during a commit
  (``commit_delay``), the candidate being committed.
* The global lock blocks (``threading.Lock.acquire()``, as on the router): overlapping
  writes queue. ``commit_delay`` seconds are spent inside the lock per commit to make
  overlap observable; ``max_concurrent_commits`` records the most writers ever inside it
  (must stay 1). ``busy_next(n)``: the next ``n`` commits meet a CLI commit's lock and fail
  with 400 ``Configuration system temporarily locked due to another commit in progress``
  (after a 2024 server armed the timer).
* nginx in front (vyos-1x ``data/templates/https/nginx.default.j2`` proxies the API with
  ``proxy_read_timeout 600``): ``gateway_timeout`` (that timeout) answers 504 with
  nginx's page while the request goes on behind it.
* ``/config-file``: ``save`` (default ``/config/config.boot``; ``Saving configuration to
  '...'...\\nDone\\n``), ``load`` and (1.5) ``merge`` of a previously saved file, each a
  commit like ``/configure`` (with ``confirm_time`` on 1.5), and (1.5) ``confirm``.
* ``/retrieve``: ``showConfig`` in the shape ``ConfigTree.to_json()`` gives for the text
  ``cli-shell-api showConfig`` prints (``CstoreCfgNode::show``): for a node or tag value the
  mapping of its children; for a tag node ``{tag: {value: {...}}}``; for a leaf
  ``{leaf: "v"}`` or ``{leaf: ["v1", "v2"]}``; a valueless leaf inside a subtree is ``{}``;
  an absent or childless node (and a valueless leaf asked for directly, which the router
  treats as a childless typeless node) is 400 ``Configuration under specified path is
  empty\\n``; a path the schema lacks is 400 ``Specified configuration path is not
  valid\\n``. ``configFormat: "raw"`` gives the curly-brace text. ``exists``,
  ``returnValue`` and ``returnValues`` follow ``vyos.config.Config`` (a missing node is
  ``null`` / ``[]``, never an error).
* ``/show``: op-mode output for the paths fabric's health checks ask and a few more, each
  in the shape VyOS prints it (``vyos_opstate.py`` names the source of each): ``bgp
  l2vpn evpn summary`` (FRR's table), ``bgp l2vpn evpn vni json`` and ``bgp l2vpn evpn
  json`` (FRR's JSON), ``ip route vrf all json``, ``vrrp`` (the summary table),
  ``interfaces wireguard wg0 summary`` (1.4: ``wg show``; 1.5: VyOS's own), and the
  older synthetic ``configuration [commands|json]``, ``version``, ``interfaces [type
  [name]]``, ``bgp [vrf all|<vrf>] summary``, ``ip route [vrf all|<vrf>]``, ``vrf``. What a
  router would have *learned* (sessions, handshakes, remote VTEPs, routes, VRRP masters)
  is derived from the running configs of the emulators linked into one fabric
  (``vyos_opstate.link``) by the rules that module lists, never from a data plane. As
  the op-mode tree does (vyos-1x ``vyatta-op-run``: a word is a child node's name or the
  value of a tag node), ``json`` is taken only where the tree has a free value there
  (``evpn <TAG>``, ``vni <TAG>``, ``vrf <TAG> <TAG>``): ``bgp l2vpn evpn summary json``
  or ``vrrp json`` are 400 ``Invalid command``. A command that fails on the router (FRR
  down) still answers 200 with its error text (the wrapper's exit code is 0):
  :meth:`VyosEmulator.break_op_mode`.
* Faults for tests: :meth:`VyosEmulator.fail_next_commit` (optionally one subtree),
  :meth:`VyosEmulator.busy_next`, :meth:`VyosEmulator.drop_connection_after_commit`,
  :meth:`VyosEmulator.unreachable_after_commit`, :meth:`VyosEmulator.set_by_hand`,
  :meth:`VyosEmulator.delete_by_hand`, :meth:`VyosEmulator.expire_confirm_now`; stopping
  the emulator makes the router unreachable.

What it does NOT emulate:

* Anything below the configuration: no interfaces, routing daemons or data plane; ``/show``
  is derived from the configs (no MAC is learned, so there are no EVPN type-2 routes). Conf-mode scripts' own checks (e.g. "a WireGuard peer
  needs allowed-ips", address overlaps) are not run: only the schema's path/value rules and
  its references (``cp``), as ``VyosSchema`` knows them. Validators the schema cannot run
  offline accept any value.
* Default values: deleting a leaf with a default removes it (1.4+ keeps defaults out of
  the running config anyway); ``showConfig`` never adds defaults.
* The commit units' own conf-mode ``verify()`` beyond the schema's references, the order
  of deleted units (highest priority first, ASSUMED), and a reference broken by a change
  to a line it did not touch (the whole commit fails: ASSUMED). Deactivate/activate,
  rename/copy, commit comments, commit archive, ``compare``, rollback by revision.
* ``service https api rest`` (needed on rolling releases since late 2024), API keys held in
  the config, ``/info``, GraphQL, ``/configure-section``, ``/generate``, ``/image``,
  ``/container-image``, ``/reboot``, ``/reset``, ``/poweroff``, ``/traceroute``,
  ``/import-pki``: the emulator always serves REST and accepts only the constructor's key.
* ``showConfig`` ``configFormat: "json_ast"``; ``/config-file`` ``string``; config files
  other than those saved through the API; config-file migration.
* A JSON request without ``key`` gets the 400 validation error the router gives (the 401
  is for a wrong key, or a form request without one). Error texts for failed ``set`` and
  commit are shaped like the router's (``... is not valid`` / ``Set failed`` /
  ``Commit failed``) but carry the schema's messages, not the router's exact wording.
* HTTP details: no HTTP/2, no chunked responses, no ``allow-client``, one TLS
  certificate; nginx only as its 502 and 504 pages.
* Timing: a real router runs each command and its conf-mode scripts in turn, so a large
  batch takes minutes; here a commit takes ``commit_delay``.
* ``strict`` defaults to True here (a delete of a missing path fails); a real router's
  API session is not strict unless configured.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.parser
import email.policy
import functools
import gzip
import hashlib
import html
import ipaddress
import json
import re
import shutil
import socket
import ssl
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import fabric.vyos_schema
from fabric.vyos_releases import RELEASES
from fabric.vyos_schema import VyosSchema
from tests.beds.vyos_opstate import (
    OpState,
    as_list,
    bgp_summary_row,
    evpn_routes_json,
    evpn_vni_json,
    route_json,
    speaker,
    vrrp_table,
    wireguard_summary,
)

__all__ = [
    "API_KEY_ERROR",
    "EMPTY_PATH_ERROR",
    "INVALID_PATH_ERROR",
    "SELF_REF_MSG",
    "Located",
    "SchemaNode",
    "VyosEmulator",
    "load_schema_tree",
    "locate",
    "make_self_signed_cert",
]

Tokens = tuple[str, ...]
Json = Any

# Texts the router sends (vyos-1x routers.py, config_mgmt.py, cstore-node.cpp, vyatta-cfg).
API_KEY_ERROR: Final = "Valid API key is required"
EMPTY_PATH_ERROR: Final = "Configuration under specified path is empty\n"
INVALID_PATH_ERROR: Final = "Specified configuration path is not valid\n"
SELF_REF_MSG: Final = "Requested HTTP API server configuration change; commit will be called in the background"
LOCKED_ERROR: Final = "Configuration system temporarily locked due to another commit in progress"
DEFAULT_SAVE_FILE: Final = "/config/config.boot"

CONFIRM_PENDING_ERROR: Final = "Another confirm is pending"
#: nginx's own pages when the API behind it is down (502) or slower than proxy_read_timeout (504).
NGINX_PAGE: Final = "<html>\r\n<head><title>{0}</title></head>\r\n<body>\r\n<center><h1>{0}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"

NGINX_TITLES: Final = {502: "Bad Gateway", 504: "Gateway Time-out"}

#: Commit units. VyOS commits a change as "priority subtrees": every node whose definition
#: has a ``<priority>`` (for a tag node: each of its values) with what lies under it, the
#: deleted units first, then the others by ascending priority; a unit that fails prints
#: ``[[path]] failed`` and the others stay committed, so a commit is PARTIAL, not atomic
#: (vyatta-cfg ``src/commit/commit-algorithm.cpp``: ``_get_commit_prio_subtrees``,
#: ``doCommit``, status PARTIAL). The numbers are the ``<priority>`` of vyos-1x
#: ``interface-definitions/<file>.xml.in`` for the nodes fabric renders (file named in each
#: comment; assumed equal on 1.4); a node not listed belongs to its parent's unit, a
#: top-level one to the root unit (priority 0).
COMMIT_PRIORITIES: Final[dict[Tokens, int]] = {
    ("system", "host-name"): 5,  # system_host-name
    ("system", "domain-name"): 6,  # system_domain-name
    ("vrf",): 11,  # vrf
    ("policy",): 200,  # policy
    ("system", "conntrack"): 218,  # system_conntrack
    ("nat",): 220,  # nat
    ("system", "ip"): 290,  # system_ip
    ("interfaces", "dummy", "*"): 300,  # interfaces_dummy
    ("interfaces", "loopback", "*"): 300,  # interfaces_loopback
    ("interfaces", "bridge", "*"): 310,  # interfaces_bridge
    ("interfaces", "ethernet", "*"): 318,  # interfaces_ethernet
    ("system", "sysctl"): 318,  # system_sysctl
    ("interfaces", "wireguard", "*"): 379,  # interfaces_wireguard
    ("system", "config-management"): 400,  # system_config-management
    ("system", "login"): 400,  # system_login
    ("system", "syslog"): 400,  # system_syslog
    ("interfaces", "vxlan", "*"): 460,  # interfaces_vxlan
    ("protocols", "static"): 480,  # protocols_static
    ("firewall",): 489,  # firewall
    ("protocols", "ospf"): 620,  # protocols_ospf
    ("high-availability",): 800,  # high-availability
    ("protocols", "bgp"): 820,  # protocols_bgp
    ("vrf", "name", "*", "protocols", "bgp"): 821,  # vrf
    ("service", "ntp"): 900,  # service_ntp
    ("service", "dhcp-server"): 911,  # service_dhcp-server
    ("service", "dns", "forwarding"): 918,  # service_dns_forwarding
    ("service", "https"): 1001,  # service_https
}


def commit_unit(tokens: Sequence[str]) -> tuple[Tokens, int]:
    """The priority subtree a config line belongs to: its path and priority (``()``, 0: the root)."""
    best: tuple[Tokens, int] = ((), 0)
    for pattern, priority in COMMIT_PRIORITIES.items():
        size = len(pattern)
        if len(best[0]) < size <= len(tokens) and all(p in ("*", t) for p, t in zip(pattern, tokens, strict=False)):
            best = (tuple(tokens[:size]), priority)
    return best


_ENDPOINTS: Final = ("/configure", "/retrieve", "/config-file", "/show")
_WRITE_ENDPOINTS: Final = ("/configure", "/config-file")
_DATA_FILES: Final = {version: r.schema for version, r in RELEASES.items()}
_NODE, _TAG, _LEAF = "node", "tag", "leaf"


# ======================================================================================
# The schema tree: which token is a node, a tag value or a leaf value.
# ======================================================================================


@dataclass(frozen=True)
class SchemaNode:
    """One node of the VyOS configuration tree, reduced to what the config store needs:
    its kind and, for leaves, whether it takes no value or many."""

    name: str
    kind: str  # "node", "tag" or "leaf"
    valueless: bool
    multi: bool
    children: dict[str, SchemaNode]


def _build_node(name: str, raw: dict[str, Any]) -> SchemaNode:
    kind = {"n": _NODE, "t": _TAG, "l": _LEAF}[raw["k"]]
    children = {child: _build_node(child, sub) for child, sub in raw.get("c", {}).items()}
    return SchemaNode(name, kind, bool(raw.get("vl")), bool(raw.get("m")), children)


@functools.cache
def load_schema_tree(version: str) -> dict[str, SchemaNode]:
    """The top-level nodes of the bundled schema of ``version`` ("1.5" or "1.4").

    Read from the same gzip files as :class:`VyosSchema` (its node objects are private),
    so the two never disagree about which paths exist."""
    file_name = _DATA_FILES.get(version)
    if file_name is None:
        raise ValueError(f"unknown VyOS version {version!r}; known: {', '.join(_DATA_FILES)}")
    data_dir = Path(fabric.vyos_schema.__file__).resolve().parent / "data" / "vyos"
    with gzip.open(data_dir / file_name, "rb") as handle:
        tree = json.loads(handle.read())["tree"]
    return {name: _build_node(name, raw) for name, raw in tree.items()}


@dataclass(frozen=True)
class Located:
    """Where a token path lands in the tree.

    ``keys`` are the dictionary keys of the config tree down to the item (node names and
    tag values; a leaf's value is ``value``, not a key); ``kinds`` say what each key is
    ("node", "tag", "tag_value", "leaf"); ``at`` is the kind of the whole path: "root",
    "node", "tag", "tag_value", "leaf" or "leaf_value"."""

    keys: Tokens
    kinds: tuple[str, ...]
    at: str
    node: SchemaNode | None
    value: str | None = None


class PathError(ValueError):
    """A path that names something the schema does not have."""


def _describe(tokens: Sequence[str]) -> str:
    return " ".join(tokens) if tokens else "(top level)"


def locate(roots: dict[str, SchemaNode], tokens: Sequence[str]) -> Located:
    """Classify ``tokens`` by walking the schema; values are not validated here (that is
    ``VyosSchema.check``), only the structure, as the router's delete does."""
    children = roots
    keys: list[str] = []
    kinds: list[str] = []
    node: SchemaNode | None = None
    i, n = 0, len(tokens)
    if n == 0:
        return Located((), (), "root", None)
    while i < n:
        token = tokens[i]
        found = children.get(token)
        if found is None:
            names = sorted(children)
            shown = ", ".join(names[:15]) + (f", ... ({len(names) - 15} more)" if len(names) > 15 else "")
            where = _describe(tokens[:i])
            if not names:
                raise PathError(f"{where}: no '{token}' here; this node has no children")
            raise PathError(f"{where}: no '{token}' here; expected one of: {shown}")
        node = found
        keys.append(token)
        i += 1
        if node.kind == _LEAF:
            kinds.append("leaf")
            if i == n:
                return Located(tuple(keys), tuple(kinds), "leaf", node)
            if node.valueless:
                raise PathError(f"{_describe(tokens[:i])}: takes no value, got {' '.join(map(repr, tokens[i:]))}")
            if i + 1 < n:
                raise PathError(f"{_describe(tokens[: i + 1])}: unexpected {' '.join(map(repr, tokens[i + 1 :]))}")
            return Located(tuple(keys), tuple(kinds), "leaf_value", node, tokens[i])
        if node.kind == _TAG:
            kinds.append("tag")
            if i == n:
                return Located(tuple(keys), tuple(kinds), "tag", node)
            keys.append(tokens[i])
            kinds.append("tag_value")
            i += 1
            if i == n:
                return Located(tuple(keys), tuple(kinds), "tag_value", node)
        else:
            kinds.append("node")
        children = node.children
    return Located(tuple(keys), tuple(kinds), "node", node)


# ======================================================================================
# The configuration store: nested dicts in the very shape showConfig returns.
# ======================================================================================

_NUMBERS = re.compile(r"(\d+)")


def _natural(text: str) -> tuple[tuple[int, int, str], ...]:
    """Sort key that puts eth2 before eth10 and rule 9 before rule 10, as VyOS shows them."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in _NUMBERS.split(text) if part)


def _clone(value: Json) -> Json:
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return list(value)
    return value


def _sorted_tree(value: Json) -> Json:
    """A copy with keys in config order (multi-value lists keep the order they were set)."""
    if isinstance(value, dict):
        return {k: _sorted_tree(value[k]) for k in sorted(value, key=_natural)}
    if isinstance(value, list):
        return list(value)
    return value


def _quote_value(value: str) -> str:
    """How ``cli-shell-api showConfig`` prints a value (``print_value_str``)."""
    if value == "" or re.search(r"[\s*}{;]", value):
        return '"' + value + '"'
    return value


class ConfigStore:
    """A running or saved configuration: ``data`` is a nested dict - node: dict of children;
    tag node: dict of tag value -> dict; leaf: str, multi-valued leaf: list of str,
    valueless leaf: ``{}`` - plus node comments, which showConfig's JSON omits."""

    def __init__(self, roots: dict[str, SchemaNode], data: dict[str, Json] | None = None) -> None:
        self.roots = roots
        self.data: dict[str, Json] = data if data is not None else {}
        self.comments: dict[Tokens, str] = {}

    def copy(self) -> ConfigStore:
        other = ConfigStore(self.roots, _clone(self.data))
        other.comments = dict(self.comments)
        return other

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ConfigStore) and self.data == other.data and self.comments == other.comments

    # ---- lookups -------------------------------------------------------------------

    def get(self, keys: Sequence[str]) -> Json | None:
        """The item at ``keys``, or None when absent."""
        current: Json = self.data
        for key in keys:
            if not isinstance(current, dict) or key not in current:
                return None
            current = current[key]
        return current

    def exists(self, loc: Located) -> bool:
        if loc.at == "root":
            return True
        item = self.get(loc.keys)
        if item is None:
            return False
        if loc.at == "leaf_value":
            return item == loc.value if isinstance(item, str) else isinstance(item, list) and loc.value in item
        return True

    # ---- changes -------------------------------------------------------------------

    def set(self, loc: Located) -> bool:
        """Apply one validated ``set``; True when it changed anything."""
        if loc.at in ("node", "tag_value"):
            current = self.data
            changed = False
            for key in loc.keys:
                if key not in current:
                    current[key] = {}
                    changed = True
                current = current[key]
            return changed
        if loc.at not in ("leaf", "leaf_value") or loc.node is None:
            raise PathError(f"{_describe(loc.keys)}: the specified configuration node requires a value")
        parent = self.data
        for key in loc.keys[:-1]:
            parent = parent.setdefault(key, {})
        name = loc.keys[-1]
        if loc.node.valueless:
            if name in parent:
                return False
            parent[name] = {}
            return True
        if loc.value is None:
            raise PathError(f"{_describe(loc.keys)}: the specified configuration node requires a value")
        if loc.node.multi:
            values = parent.setdefault(name, [])
            if loc.value in values:
                return False
            values.append(loc.value)
            return True
        if parent.get(name) == loc.value:
            return False
        parent[name] = loc.value
        return True

    def delete(self, loc: Located) -> bool:
        """Apply one ``delete``; False (nothing done) when the path does not exist, which
        the router reports as "Nothing to delete" and treats as success."""
        if loc.at == "root":
            return False
        parents: list[dict[str, Json]] = []
        current: dict[str, Json] = self.data
        for key in loc.keys[:-1]:
            nxt = current.get(key)
            if not isinstance(nxt, dict):
                return False
            parents.append(current)
            current = nxt
        name = loc.keys[-1]
        if name not in current:
            return False
        if loc.at == "leaf_value":
            item = current[name]
            if isinstance(item, list):
                if loc.value not in item:
                    return False
                item.remove(loc.value)
                if not item:
                    del current[name]
            elif item == loc.value:
                del current[name]
            else:
                return False
        else:
            del current[name]
            self.comments = {p: c for p, c in self.comments.items() if p[: len(loc.keys)] != loc.keys}
        # A tag node disappears with its last tag value ("remove node if last tag").
        if loc.at == "tag_value" and not current and parents:
            del parents[-1][loc.keys[-2]]
        return True

    def replace_with(self, other: ConfigStore) -> None:
        self.data = _clone(other.data)
        self.comments = dict(other.comments)

    # ---- renderings ----------------------------------------------------------------

    def commands(self) -> list[Tokens]:
        """Every ``set`` command as tokens, in config order (``show configuration commands``)."""
        out: list[Tokens] = []

        def walk(prefix: Tokens, item: dict[str, Json]) -> None:
            for key in sorted(item, key=_natural):
                sub = item[key]
                path = (*prefix, key)
                if isinstance(sub, str):
                    out.append((*path, sub))
                elif isinstance(sub, list):
                    out.extend((*path, v) for v in sub)
                elif not sub:
                    out.append(path)
                else:
                    walk(path, sub)

        walk((), self.data)
        return out

    def to_json(self) -> dict[str, Json]:
        result: dict[str, Json] = _sorted_tree(self.data)
        return result

    def render_raw(self, keys: Tokens = (), item: Json = None, wrap: str | None = None) -> str:
        """The curly-brace text ``cli-shell-api showConfig`` prints (``configFormat: raw``):
        the whole config, the children of the node at ``keys`` (``item``), or, with
        ``wrap``, the tag node or leaf at ``keys`` itself."""
        lines: list[str] = []

        def emit(tree: dict[str, Json], children: dict[str, SchemaNode], prefix: Tokens, depth: int) -> None:
            pad = "    " * depth
            for key in sorted(tree, key=_natural):
                sub = tree[key]
                schema = children.get(key)
                here = (*prefix, key)
                if schema is not None and schema.kind == _TAG and isinstance(sub, dict):
                    for value in sorted(sub, key=_natural):
                        if (*here, value) in self.comments:
                            lines.append(f"{pad}/* {self.comments[(*here, value)]} */")
                        lines.append(f"{pad}{key} {_quote_value(value)} {{")
                        emit(sub[value], schema.children, (*here, value), depth + 1)
                        lines.append(f"{pad}}}")
                elif isinstance(sub, str):
                    lines.append(f"{pad}{key} {_quote_value(sub)}")
                elif isinstance(sub, list):
                    lines.extend(f"{pad}{key} {_quote_value(v)}" for v in sub)
                elif schema is not None and schema.kind == _LEAF:
                    lines.append(f"{pad}{key}")
                else:
                    if here in self.comments:
                        lines.append(f"{pad}/* {self.comments[here]} */")
                    lines.append(f"{pad}{key} {{")
                    emit(sub, schema.children if schema is not None else {}, here, depth + 1)
                    lines.append(f"{pad}}}")

        if not keys:
            emit(self.data, self.roots, (), 0)
        else:
            node = locate(self.roots, keys).node
            assert node is not None
            if wrap is not None:
                emit({wrap: item}, {wrap: node}, keys[:-1], 0)
            elif isinstance(item, dict):
                emit(item, node.children, keys, 0)
        return "\n".join(lines) + ("\n" if lines else "")


# ======================================================================================
# Certificates
# ======================================================================================


def make_self_signed_cert(hosts: Sequence[str] = ("127.0.0.1", "localhost"), days: int = 7) -> tuple[str, str]:
    """A self-signed certificate and its key, both PEM, for ``hosts`` (IPs become IP SANs).

    The certificate is its own CA (``CA:TRUE``, ``keyCertSign``) so a client can trust it
    directly as its CA bundle, and carries ``serverAuth`` and key identifiers so strict
    verifiers (Python 3.13's default ``VERIFY_X509_STRICT``) accept it too. An EC key keeps
    generation to milliseconds, which matters because every test makes one."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
    sans: list[x509.GeneralName] = []
    for host in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host))
    now = dt.datetime.now(dt.UTC)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return cert_pem, key_pem


# ======================================================================================
# Request validation: what FastAPI + pydantic make of a body, per endpoint and version.
# ======================================================================================


class _Invalid(Exception):
    """A request the router's models refuse: HTTP status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class _Reply:
    status: int
    payload: dict[str, Json]
    wrote: bool = False
    drop: bool = False
    api: bool = True  # a {"success", ...} reply (HTMLResponse), else a FastAPI JSON error
    page: str | None = None  # an nginx HTML page instead of JSON


def _ok(data: Json, wrote: bool = False) -> _Reply:
    return _Reply(200, {"success": True, "data": data, "error": None}, wrote)


def _err(status: int, message: str) -> _Reply:
    """An API error: the router HTML-escapes its text (``error()`` in vyos-1x
    ``src/services/api/rest/models.py``: ``escape(msg, quote=False)``)."""
    return _Reply(status, {"success": False, "error": html.escape(message, quote=False), "data": None})


def _nginx(status: int) -> _Reply:
    """nginx's page for a dead (502) or too slow (504, ``proxy_read_timeout`` in vyos-1x
    ``data/templates/https/nginx.default.j2``) API behind it."""
    return _Reply(status, {}, api=False, page=NGINX_PAGE.format(f"{status} {NGINX_TITLES[status]}"))


class _Fields:
    """Pydantic-like checks of one model's fields, with the error text of the router's
    pydantic (v2 on 1.5, v1 on 1.4)."""

    def __init__(self, v2: bool) -> None:
        self.v2 = v2

    def fail(self, kind: str, field: str, got: Json) -> _Invalid:
        loc = ("body", field) if field else ("body",)
        if self.v2:
            v2_kinds = {
                "missing": ("missing", "Field required"),
                "str": ("string_type", "Input should be a valid string"),
                "list": ("list_type", "Input should be a valid list"),
                "int": ("int_type", "Input should be a valid integer"),
                "dict": ("model_type", "Input should be a valid dictionary or instance of the model"),
                "empty": ("value_error", "Value error, path must be non-empty"),
            }
            kind2, msg2 = v2_kinds[kind]
            return _Invalid(400, str({"type": kind2, "loc": loc, "msg": msg2, "input": got}))
        v1_kinds = {
            "missing": ("value_error.missing", "field required"),
            "str": ("type_error.str", "str type expected"),
            "list": ("type_error.list", "value is not a valid list"),
            "int": ("type_error.integer", "value is not a valid integer"),
            "dict": ("type_error.dict", "value is not a valid dict"),
            "empty": ("value_error", "path must be non-empty"),
        }
        kind1, msg1 = v1_kinds[kind]
        return _Invalid(400, str({"loc": loc, "msg": msg1, "type": kind1}))

    def string(self, body: dict[str, Json], field: str, required: bool = True) -> str | None:
        if field not in body or (body[field] is None and not required):
            if required:
                raise self.fail("missing", field, body)
            return None
        value = body[field]
        if not isinstance(value, str):
            raise self.fail("str", field, value)
        return value

    def path(self, body: dict[str, Json], non_empty: bool) -> list[str]:
        if "path" not in body:
            raise self.fail("missing", "path", body)
        value = body["path"]
        if not isinstance(value, list):
            raise self.fail("list", "path", value)
        for item in value:
            if not isinstance(item, str):
                raise self.fail("str", "path", item)
        if non_empty and not value:
            raise self.fail("empty", "path", value)
        return list(value)

    def integer(self, body: dict[str, Json], field: str) -> int:
        value = body.get(field, 0)
        if value is None:
            return 0
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail("int", field, value)
        return value


def _form_errors(endpoint: str, merge: dict[str, Json], forms: dict[str, str]) -> tuple[int, str] | None:
    """The explicit checks ``MultipartRequest.body`` makes of form requests; the first one
    found is what the router returns if the request then fails validation."""
    cmds = merge.get("commands", [merge])
    err: tuple[int, str] | None = None

    def first(candidate: tuple[int, str]) -> None:
        nonlocal err
        if err is None:
            err = candidate

    if not isinstance(cmds, list):
        cmds = [cmds]
    for c in cmds:
        if not isinstance(c, dict):
            first((400, f"Malformed command '{c}': any command must be JSON of dict"))
            return err
        if "op" not in c:
            first((400, f"Malformed command '{c}': missing 'op' field"))
        if endpoint != "/config-file":
            if "path" not in c:
                first((400, f"Malformed command '{c}': missing 'path' field"))
            elif not isinstance(c["path"], list):
                first((400, f"Malformed command '{c}': 'path' field must be a list"))
            elif not all(isinstance(el, str) for el in c["path"]):
                first((400, "Malformed command '0': 'path' field must be a list of strings"))
        if endpoint == "/configure":
            if not c.get("path"):
                first((400, f"Malformed command '{c}': 'path' list must be non-empty"))
            if "value" in c and not isinstance(c["value"], str):
                first((400, f"Malformed command '{c}': 'value' field must be a string"))
    if "key" not in forms and "key" not in merge:
        first((401, API_KEY_ERROR))
    return err


# ======================================================================================
# The HTTP side.
# ======================================================================================


class _Server(ThreadingHTTPServer):
    """Accepts in the serving thread; the TLS handshake happens in the per-connection
    thread, so one slow or broken client cannot stall the others."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, emulator: VyosEmulator, context: ssl.SSLContext) -> None:
        self.emulator = emulator
        self.context = context
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        raw: socket.socket = request
        if self.emulator.is_down:
            with contextlib.suppress(OSError):
                raw.close()  # rebooting: the connection dies before TLS (the client cannot connect)
            return
        raw.settimeout(10)
        # Headers and body leave in separate segments; without NODELAY, Nagle and the
        # client's delayed ACK add ~40 ms to every request.
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            conn = self.context.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            with contextlib.suppress(OSError):
                raw.close()
            return
        with self.connections_lock:
            self.connections.add(conn)
        try:
            _Handler(conn, client_address, self)
        except (OSError, ssl.SSLError):
            pass
        finally:
            with self.connections_lock:
                self.connections.discard(conn)
            with contextlib.suppress(OSError):
                conn.close()

    def close_connections(self) -> None:
        with self.connections_lock:
            conns = list(self.connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                conn.close()


class _Handler(BaseHTTPRequestHandler):
    """One connection (HTTP/1.1 keep-alive, as httpx clients use it)."""

    protocol_version = "HTTP/1.1"
    server_version = "nginx"
    sys_version = ""
    timeout = 30
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: test output should show test failures, not access logs."""

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_POST(self) -> None:
        endpoint = urllib.parse.urlsplit(self.path).path.rstrip("/") or "/"
        body = self._body()
        emulator = self.server.emulator
        ctype = self.headers.get("Content-Type", "")
        if emulator.gateway_timeout is None:
            reply = emulator._handle(endpoint, ctype, body)
        else:
            # nginx gives up after proxy_read_timeout (504); the API goes on with the request.
            box: list[_Reply] = []
            worker = threading.Thread(target=lambda: box.append(emulator._handle(endpoint, ctype, body)), daemon=True)
            worker.start()
            worker.join(emulator.gateway_timeout)
            reply = box[0] if box else _nginx(504)
        if reply.drop:
            # The router committed and then vanished from the management network.
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._send(reply)

    def _send(self, reply: _Reply) -> None:
        data = reply.page.encode() if reply.page is not None else json.dumps(reply.payload).encode()
        ctype = "text/html; charset=utf-8" if reply.api or reply.page is not None else "application/json"
        head = (
            f"{self.protocol_version} {reply.status} {HTTPStatus(reply.status).phrase}\r\n"
            f"Server: nginx\r\nDate: {self.date_time_string()}\r\n"
            f"Content-Type: {ctype}\r\nContent-Length: {len(data)}\r\n\r\n"
        )
        self.wfile.write(head.encode("latin-1") + data)  # one write, one TLS record

    def _not_post(self) -> None:
        endpoint = urllib.parse.urlsplit(self.path).path.rstrip("/")
        self._body()
        if endpoint in _ENDPOINTS:
            self._send(_Reply(405, {"detail": "Method Not Allowed"}, api=False))
        else:
            self._send(_Reply(404, {"detail": "Not Found"}, api=False))

    do_GET = do_PUT = do_DELETE = do_PATCH = _not_post


# ======================================================================================
# The emulator.
# ======================================================================================


@dataclass
class _Pending:
    """A commit-confirm timer."""

    token: int
    timer: threading.Timer | None


class VyosEmulator:
    """An emulated VyOS router's HTTPS API; see the module docstring for what it does."""

    def __init__(
        self,
        api_key: str,
        version: str = "1.5",
        initial: Iterable[Sequence[str]] | None = None,
        supports_commit_confirm: bool | None = None,
        *,
        time_scale: float = 60.0,
        commit_delay: float = 0.0,
        strict: bool = True,
        strict_confirm: bool = False,
        hostname: str = "vyos",
        background_delay: float = 0.3,
        confirm_order: str = "arm-first",
        gateway_timeout: float | None = None,
        restart_seconds: float = 0.3,
        reboot_seconds: float = 0.0,
    ) -> None:
        """``initial``: ``set`` commands (tokens) already in the running config, which is
        also the saved one (the router booted from it); they must pass the schema.
        ``time_scale``: real seconds per emulated minute of ``confirm_time``.
        ``commit_delay``: seconds each write spends inside the global lock.
        ``strict``: ``service https api strict`` (a delete of a missing path fails).
        ``strict_confirm``: ``{"op": "confirm"}`` with nothing pending is a 400 (the router
        answers 200 ``No confirm pending``).
        ``background_delay``: seconds after its reply that a change under ``service https``
        shows up in the running config (the router commits it in a background task).
        ``confirm_order``: ``arm-first`` (the API server of 2024: timer, then commit) or
        ``commit-first`` (since 2025: commit, then timer).
        ``gateway_timeout``: nginx's ``proxy_read_timeout`` in seconds (None: never).
        ``restart_seconds``: how long the API is down (nginx answers 502) after a
        background commit of ``service https`` restarts it.
        ``reboot_seconds``: how long the router is unreachable after a commit-confirm
        timer reboots it."""
        if version not in _DATA_FILES:
            raise ValueError(f"unknown VyOS version {version!r}; known: {', '.join(_DATA_FILES)}")
        self.api_key = api_key
        self.version = version
        self.supports_commit_confirm = version == "1.5" if supports_commit_confirm is None else supports_commit_confirm
        self.time_scale = time_scale
        self.commit_delay = commit_delay
        self.strict = strict
        self.strict_confirm = strict_confirm
        self.hostname = hostname
        self.background_delay = background_delay
        if confirm_order not in ("arm-first", "commit-first"):
            raise ValueError(f"confirm_order is arm-first or commit-first, not {confirm_order!r}")
        self.confirm_order = confirm_order
        self.gateway_timeout = gateway_timeout
        self.restart_seconds = restart_seconds
        self.reboot_seconds = reboot_seconds
        self.schema = VyosSchema.load(version)
        self.roots = load_schema_tree(version)

        self._commit_lock = threading.Lock()  # the router's "giant lock"
        self._state = threading.RLock()  # guards the fields below
        self._running = ConfigStore(self.roots)
        self._known_violations: set[tuple[Tokens, str]] | None = None
        for tokens in initial or ():
            self._apply_by_hand(self._running, tuple(tokens), delete=False)
        problems = self.schema.check_all(self._running.commands())
        if problems:
            raise ValueError("initial config refused: " + "; ".join(p.message for p in problems[:5]))
        self._saved: dict[str, ConfigStore] = {DEFAULT_SAVE_FILE: self._running.copy()}
        self._pending: _Pending | None = None
        self._token = 0
        self._fail_next: tuple[str, Tokens | None] | None = None
        self._drop_next = False
        self._unreachable_next = 0.0
        self._busy_next = 0
        #: The API's config session while a commit runs: what ``showConfig`` reads then.
        self._session: ConfigStore | None = None
        #: Until when (monotonic) the router is down (no answer) or its API restarting (502).
        self._down_until = 0.0
        self._restart_until = 0.0
        self._inside = 0
        #: The other emulators of its fabric (``vyos_opstate.link``), a VRRP state forced per
        #: group, and op-mode questions that answer with an error text (see ``break_op_mode``).
        self.fabric: list[VyosEmulator] = []
        self.forced_vrrp: dict[str, str] = {}
        self.broken_op_mode: dict[Tokens, str] = {}
        self.requests: list[dict[str, Json]] = []
        self.write_count = 0
        self.write_requests = 0
        self.max_concurrent_commits = 0
        self.rollback_count = 0
        self.bad_gateway_count = 0
        #: Commits that failed with part of their units committed.
        self.partial_count = 0
        #: The running config at each confirm that stopped a timer (tests check what was confirmed).
        self.confirmed: list[list[Tokens]] = []

        self.cert_pem, self._key_pem = make_self_signed_cert()
        der = x509.load_pem_x509_certificate(self.cert_pem.encode()).public_bytes(serialization.Encoding.DER)
        self.fingerprint_sha256 = hashlib.sha256(der).hexdigest()
        self._dir = Path(tempfile.mkdtemp(prefix="vyos-emulator-"))
        self.cert_path = self._dir / "cert.pem"
        self.cert_path.write_text(self.cert_pem)
        self._key_path = self._dir / "key.pem"
        self._key_path.write_text(self._key_pem)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # ---- life cycle ------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``https://127.0.0.1:PORT`` (no trailing slash)."""
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> VyosEmulator:
        """Listen on a free loopback port; returns self."""
        if self._server is not None:
            return self
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert_path, self._key_path)
        self._server = _Server(self, context)
        self.port = self._server.server_address[1]
        # A short poll interval: stop() waits for the serving loop to notice.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name=f"vyos-emulator-{self.port}"
        )
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop open connections (the router is now unreachable); a
        pending commit-confirm timer is cancelled. The certificate files are removed."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            server.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with self._state:
            if self._pending is not None and self._pending.timer is not None:
                self._pending.timer.cancel()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> VyosEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- introspection -----------------------------------------------------------------

    def answering(self) -> bool:
        """Whether the router answers (serving, not rebooting or cut off)."""
        return self._server is not None and not self.is_down

    def break_op_mode(self, path: Sequence[str], text: str) -> None:
        """``show <path>`` prints ``text`` from now on, as a failing command does on the router
        (e.g. FRR stopped: ``vtysh`` prints its error; the API still answers 200)."""
        self.broken_op_mode[tuple(path)] = text

    def running(self) -> list[Tokens]:
        """The running config as ``set`` command tokens, in config order."""
        with self._state:
            return self._running.commands()

    def config_tree(self) -> dict[str, Json]:
        """The running config as ``showConfig`` with an empty path returns it."""
        with self._state:
            return self._running.to_json()

    @property
    def saved(self) -> list[Tokens]:
        """The saved config (``/config/config.boot``) as command tokens."""
        with self._state:
            return self._saved[DEFAULT_SAVE_FILE].commands()

    @property
    def saved_files(self) -> dict[str, list[Tokens]]:
        """Every saved file by name, as command tokens."""
        with self._state:
            return {name: store.commands() for name, store in self._saved.items()}

    @property
    def confirm_pending(self) -> bool:
        """Whether a commit-confirm timer is running."""
        with self._state:
            return self._pending is not None

    @property
    def is_down(self) -> bool:
        """Whether the router is rebooting or cut off (no connection gets an answer)."""
        with self._state:
            return time.monotonic() < self._down_until

    @property
    def commit_in_progress(self) -> bool:
        """Whether a write holds the global lock right now (lets tests overlap on purpose)."""
        return self._commit_lock.locked()

    def clear_requests(self) -> None:
        """Forget recorded requests and write counters (e.g. before a no-op re-apply)."""
        with self._state:
            self.requests.clear()
            self.write_count = 0
            self.write_requests = 0
            self.confirmed.clear()

    # ---- faults and hand edits ---------------------------------------------------------------

    def fail_next_commit(self, message: str, path: Sequence[str] | None = None) -> None:
        """The next ``/configure`` that reaches its commit (its commands all valid) fails with
        400 and ``message``: every changed commit unit (``path`` None), or only the units
        holding a changed line under ``path``, whose failure leaves the rest committed."""
        with self._state:
            self._fail_next = (message, tuple(path) if path is not None else None)

    def busy_next(self, count: int) -> None:
        """The next ``count`` commits fail with the lock message: a CLI commit holds vyatta-cfg's
        commit lock (``doCommit``). The API's own lock is free, so a 2024 server has armed
        the commit-confirm timer already when its commit meets the lock."""
        with self._state:
            self._busy_next = count

    def unreachable_after_commit(self, seconds: float) -> None:
        """The next ``/configure`` that commits gets no answer, and the router stays
        unreachable for ``seconds`` (its management path went with the change)."""
        with self._state:
            self._unreachable_next = seconds

    def drop_connection_after_commit(self) -> None:
        """The next ``/configure`` that commits closes the socket instead of replying, like
        a router that loses its management path with the change (a commit-confirm timer it
        started keeps running)."""
        with self._state:
            self._drop_next = True

    def set_by_hand(self, tokens: Sequence[str]) -> None:
        """``set`` + ``commit`` at the router's CLI, bypassing the API (drift). Raises
        ValueError for what the router would refuse."""
        self._by_hand(tuple(tokens), delete=False)

    def delete_by_hand(self, path: Sequence[str]) -> None:
        """``delete`` + ``commit`` at the router's CLI. Raises ValueError for a path that
        is invalid or not in the config."""
        self._by_hand(tuple(path), delete=True)

    def _by_hand(self, tokens: Tokens, delete: bool) -> None:
        with self._commit_lock:
            with self._state:
                candidate = self._running.copy()
            self._apply_by_hand(candidate, tokens, delete)
            problems = self._new_violations(candidate)
            if problems:
                raise ValueError("".join(f"[ {' '.join(c)} ]\n{m}\n" for c, m in problems) + "Commit failed\n")
            with self._state:
                self._publish(candidate)

    def _apply_by_hand(self, store: ConfigStore, tokens: Tokens, delete: bool) -> None:
        if delete:
            try:
                loc = locate(self.roots, tokens)
            except PathError as exc:
                raise ValueError(f"Configuration path: [{' '.join(tokens)}] is not valid: {exc}") from None
            if not store.delete(loc):
                raise ValueError(f"Nothing to delete: [{' '.join(tokens)}] does not exist")
            return
        problem = self.schema.check(tokens)
        if problem is not None:
            raise ValueError(f"Configuration path: [{' '.join(tokens)}] is not valid: {problem}")
        store.set(locate(self.roots, tokens))

    def expire_confirm_now(self) -> bool:
        """Let a pending commit-confirm timer run out now; True if it reverted the router."""
        with self._state:
            pending = self._pending
            if pending is None:
                return False
            if pending.timer is not None:
                pending.timer.cancel()
        return self._expire(pending.token)

    # ---- commit machinery --------------------------------------------------------------

    def _publish(self, candidate: ConfigStore) -> None:
        """Make ``candidate`` the running config (caller holds ``_state``)."""
        self._running = candidate
        self._known_violations = None

    def _violations(self, store: ConfigStore) -> set[tuple[Tokens, str]]:
        return {(v.command, v.message) for v in self.schema.check_all(store.commands())}

    def _new_violations(self, store: ConfigStore) -> list[tuple[Tokens, str]]:
        """Reference problems ``store`` has that the running config did not (a router only
        re-checks what changed)."""
        with self._state:
            if self._known_violations is None:
                self._known_violations = self._violations(self._running)
            known = self._known_violations
        return sorted(self._violations(store) - known)

    def _units(self, store: ConfigStore) -> dict[Tokens, list[Tokens]]:
        units: dict[Tokens, list[Tokens]] = {}
        for tokens in store.commands():
            units.setdefault(commit_unit(tokens)[0], []).append(tokens)
        return units

    def _assemble(
        self, old: dict[Tokens, list[Tokens]], new: dict[Tokens, list[Tokens]], done: set[Tokens]
    ) -> ConfigStore:
        """The config after a commit in which exactly the units ``done`` went through."""
        store = ConfigStore(self.roots)
        for unit in {*old, *new}:
            for tokens in (new if unit in done else old).get(unit, []):
                store.set(locate(self.roots, tokens))
        return store

    def _commit_units(self, before: ConfigStore, candidate: ConfigStore, api_request: bool) -> tuple[ConfigStore, str]:
        """Commit unit by unit (see :data:`COMMIT_PRIORITIES`): the resulting config and the
        router's error text ('' when every unit went through).

        A unit fails when a fault says so, or when the working config (the candidate, which
        each unit's conf-mode ``verify()`` reads) has a new reference problem on one of its
        lines; the others commit even when that leaves the result inconsistent, as a real
        partial commit can. A problem on a line no change touched (a change removed what it
        refers to) fails every changed unit: ASSUMED, as VyOS's ``verify()`` of the
        referenced node refuses removing what is in use."""
        old, new = self._units(before), self._units(candidate)
        changed = {u for u in {*old, *new} if old.get(u) != new.get(u)}
        reasons: dict[Tokens, str] = {}
        fault = None
        if api_request:  # a fault is for the next API commit, not for a load or a hand edit
            with self._state:
                fault, self._fail_next = self._fail_next, None
        if fault is not None:
            message, under = fault
            for unit in changed:
                lines = set(old.get(unit, [])) ^ set(new.get(unit, []))
                if under is None or any(t[: len(under)] == under for t in lines):
                    reasons[unit] = message
        # Each unit's conf-mode verify() sees the whole working config (the candidate).
        found: dict[Tokens, str] = {}
        for cmd, message in self._new_violations(candidate):
            unit = commit_unit(cmd)[0]
            for blamed in [unit] if unit in changed else sorted(changed):
                found[blamed] = found.get(blamed, "") + f"[ {' '.join(cmd)} ]\n{message}\n"
        for unit, text in found.items():
            reasons.setdefault(unit, text)
        result = candidate if not reasons else self._assemble(old, new, changed - set(reasons))
        if not reasons:
            return result, ""
        order = sorted(reasons, key=lambda u: (u in new, commit_unit(u)[1] if u else 0))
        report = "".join(
            f"{reasons[u]}\n" + (f"[[{' '.join(u)}]] failed\n" if u in new else f"delete [ {' '.join(u)} ] failed\n")
            for u in order
        )
        return result, report + "Commit failed\n"

    @contextlib.contextmanager
    def _write_lock(self) -> Iterator[None]:
        """The API's global lock (a ``threading.Lock`` in routers.py): overlapping writes wait."""
        with self._commit_lock:
            with self._state:
                self._inside += 1
                self.max_concurrent_commits = max(self.max_concurrent_commits, self._inside)
            try:
                yield
            finally:
                with self._state:
                    self._inside -= 1

    def _start_confirm(self, minutes: int) -> str:
        """Start the commit-confirm timer (caller holds the commit lock), as vyos-1x
        ``python/vyos/config_mgmt.py`` ``commit_confirm`` does: a timer that runs ``revert``."""
        with self._state:
            self._token += 1
            token = self._token
            timer = threading.Timer(minutes * self.time_scale, self._expire, args=(token,))
            timer.daemon = True
            self._pending = _Pending(token, timer)
            timer.start()
        return f"Initialized commit-confirm; {minutes} minutes to confirm before reboot\n"

    def _expire(self, token: int) -> bool:
        """The timer ran out: ``config_mgmt.py`` ``revert`` reboots, and the router boots
        its SAVED config (later commits are lost too); unreachable for ``reboot_seconds``.
        With ``system config-management commit-confirm action reload`` (the schema's other
        choice) the saved config is loaded without the reboot (ASSUMED the same outcome)."""
        with self._commit_lock, self._state:
            pending = self._pending
            if pending is None or pending.token != token:
                return False
            self._pending = None
            action = self._running.get(("system", "config-management", "commit-confirm", "action")) or "reboot"
            self._publish(self._saved[DEFAULT_SAVE_FILE].copy())
            self.rollback_count += 1
            if action == "reboot":
                self._down_until = time.monotonic() + self.reboot_seconds
            return True

    def _confirm(self) -> _Reply:
        with self._state:
            pending = self._pending
            self._pending = None
        if pending is None:
            if self.strict_confirm:
                return _err(400, "No confirm pending\n")
            return _ok("No confirm pending\n")
        if pending.timer is not None:
            pending.timer.cancel()
        with self._state:
            self.confirmed.append(self._running.commands())
        return _ok("Reboot timer stopped\n", wrote=True)

    def _commit(self, candidate: ConfigStore, confirm_time: int, msg: str, api_request: bool) -> tuple[_Reply, bool]:
        """Commit ``candidate`` (caller holds the commit lock). Returns the reply and whether
        the running config changed.

        Order as in vyos-1x ``src/services/api/rest/routers.py`` ``_configure_op``: the 2024
        server arms the commit-confirm timer (``config_mgmt.commit_confirm``: refused with
        ``Another confirm is pending`` while one runs) and then commits, so a failed commit
        leaves a timer; the 2025 one (``confirm_order="commit-first"``, per the issue that
        asked for it: ASSUMED from its description) commits first and arms afterwards, so a
        failed commit arms none, and with another timer pending the commit stands and the
        answer is still 400. A failed commit discards the session; what went through stays."""
        with self._state:
            before = self._running.copy()
            pending = self._pending is not None
        arm_first = self.confirm_order == "arm-first"
        if confirm_time and arm_first:
            if pending:
                return _err(400, f"{CONFIRM_PENDING_ERROR}\n"), False
            msg += self._start_confirm(confirm_time)
        with self._state:
            locked, self._busy_next = self._busy_next > 0, max(0, self._busy_next - 1)
        if locked:  # vyatta-cfg doCommit: the commit lock is another commit's; nothing committed
            return _err(400, f"{LOCKED_ERROR}\n"), False
        with self._state:
            self._session = candidate
        if self.commit_delay:
            time.sleep(self.commit_delay)
        result, failure = self._commit_units(before, candidate, api_request)
        changed = result != before
        if failure and changed:
            with self._state:
                self.partial_count += 1
        https = ("service", "https")
        background = candidate.get(https) != before.get(https)
        if background:
            # Committed in a background task after the reply (failures only logged), which
            # then restarts the API: the session shows the candidate until then.
            self._publish_later(result, restart=result.get(https) != before.get(https))
        else:
            with self._state:
                self._publish(result)
                self._session = None
            if failure:
                return _err(400, failure), changed
        if confirm_time and not arm_first:
            # For a background commit ASSUMED: the 2025 server arms once it is scheduled.
            if pending:
                return _err(400, f"{CONFIRM_PENDING_ERROR}\n"), changed
            msg += self._start_confirm(confirm_time)
        if background:
            return _ok(msg + SELF_REF_MSG, wrote=changed), changed
        data: str | None = msg if (self.version == "1.5" or msg) else None
        return _ok(data, wrote=changed), changed

    def _publish_later(self, result: ConfigStore, restart: bool) -> None:
        """The background commit; when ``service https`` changed, its conf-mode script
        restarts the API (vyos-1x ``src/conf_mode/service_https.py``)."""

        def publish() -> None:
            with self._state:
                self._publish(result)
                self._session = None
                if restart:
                    self._restart_until = time.monotonic() + self.restart_seconds

        if self.background_delay <= 0:
            publish()
            return
        timer = threading.Timer(self.background_delay, publish)
        timer.daemon = True
        timer.start()

    # ---- request handling --------------------------------------------------------------------

    def _handle(self, endpoint: str, content_type: str, body: bytes) -> _Reply:
        """One POST: parse, validate, authenticate, dispatch, record."""
        now = time.monotonic()
        with self._state:
            down, restarting = now < self._down_until, now < self._restart_until
        if down:
            return _Reply(0, {}, drop=True)  # rebooting: nothing answers
        if restarting:
            with self._state:
                self.bad_gateway_count += 1
            return _nginx(502)  # vyos-http-api restarting behind nginx
        if endpoint not in _ENDPOINTS:
            return _Reply(404, {"detail": "Not Found"}, api=False)
        record: dict[str, Json] = {"endpoint": endpoint, "ops": [], "wrote": False, "status": 0, "authenticated": False}
        try:
            reply = self._dispatch(endpoint, content_type, body, record)
        except _Invalid as exc:
            reply = _err(exc.status, exc.message)
        record["status"] = reply.status
        record["wrote"] = reply.wrote
        record["dropped"] = reply.drop
        with self._state:
            self.requests.append(record)
            if reply.wrote:
                self.write_count += 1
            if record.get("authenticated") and endpoint in _WRITE_ENDPOINTS:
                self.write_requests += 1
        return reply

    def _parse(self, endpoint: str, content_type: str, body: bytes) -> tuple[Json, tuple[int, str] | None, str]:
        """The body as the router's models see it, any form-specific error, and the form."""
        ctype = content_type.split(";")[0].strip().lower()
        forms: dict[str, str] = {}
        if ctype == "application/x-www-form-urlencoded":
            for k, v in urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
                forms[k] = v
        elif ctype == "multipart/form-data":
            head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
            message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
            if not message.is_multipart():
                raise _Invalid(400, "Did not find boundary character")
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if isinstance(name, str):
                    payload = part.get_payload(decode=True)
                    forms[name] = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
        if forms:
            if "data" not in forms:
                return None, (422, "Non-empty data field is required"), ctype
            try:
                tmp = json.loads(forms["data"])
            except json.JSONDecodeError as exc:
                return None, (400, f"Failed to parse JSON: {exc}"), ctype
            merge: dict[str, Json] = {"commands": tmp} if isinstance(tmp, list) else tmp
            if not isinstance(merge, dict):
                return None, (400, f"Malformed command '{merge}': any command must be JSON of dict"), ctype
            form_err = _form_errors(endpoint, merge, forms)
            if "key" in forms and "key" not in merge:
                merge["key"] = forms["key"]
            return merge, form_err, ctype
        if not body.strip():
            raise _Invalid(400, self._missing_body())
        try:
            return json.loads(body), None, "json"
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise _Invalid(400, self._json_error(exc)) from None

    def _missing_body(self) -> str:
        if self.version == "1.5":
            return str({"type": "missing", "loc": ("body",), "msg": "Field required", "input": None})
        return str({"loc": ("body",), "msg": "field required", "type": "value_error.missing"})

    def _json_error(self, exc: Exception) -> str:
        pos = getattr(exc, "pos", 0)
        if self.version == "1.5":
            return str(
                {"type": "json_invalid", "loc": ("body", pos), "msg": "JSON decode error", "ctx": {"error": str(exc)}}
            )
        return str({"loc": ("body", pos), "msg": "Expecting value", "type": "value_error.jsondecode"})

    def _dispatch(self, endpoint: str, content_type: str, body: bytes, record: dict[str, Json]) -> _Reply:
        data, form_err, form = self._parse(endpoint, content_type, body)
        record["form"] = form
        try:
            model, fields = self._validate(endpoint, data)
        except _Invalid as exc:
            if form_err is not None:
                raise _Invalid(*form_err) from None
            raise exc from None
        commands = fields["commands"] if model == "list" else [fields]
        record["ops"] = [c["op"] for c in commands]
        record["paths"] = [" ".join(str(w) for w in c.get("path") or []) for c in commands]
        if fields["key"] != self.api_key:
            return _err(401, API_KEY_ERROR)
        record["authenticated"] = True
        if fields.get("confirm_time"):
            record["confirm_time"] = fields["confirm_time"]
        if endpoint == "/configure":
            return self._configure(model, fields)
        if endpoint == "/config-file":
            return self._config_file(fields)
        if endpoint == "/retrieve":
            return self._retrieve(fields)
        return self._show(fields)

    def _validate(self, endpoint: str, data: Json) -> tuple[str, dict[str, Json]]:
        """Which model the body is (as FastAPI's Union picks it) and its fields."""
        v2 = self.version == "1.5"
        cc = self.supports_commit_confirm
        f = _Fields(v2)
        if not isinstance(data, dict):
            raise f.fail("dict", "", data)
        key = f.string(data, "key")
        if endpoint == "/configure":
            errors: list[_Invalid] = []
            if "commands" not in data:
                try:
                    path = f.path(data, non_empty=True)
                    fields: dict[str, Json] = {
                        "key": key,
                        "op": f.string(data, "op"),
                        "path": path,
                        "value": f.string(data, "value", False),
                    }
                    if cc:
                        fields["confirm_time"] = f.integer(data, "confirm_time")
                    return "single", fields
                except _Invalid as exc:
                    errors.append(exc)
            else:
                try:
                    commands = data["commands"]
                    if not isinstance(commands, list):
                        raise f.fail("list", "commands", commands)
                    parsed: list[dict[str, Json]] = []
                    for c in commands:
                        if not isinstance(c, dict):
                            raise f.fail("dict", "commands", c)
                        parsed.append(
                            {
                                "op": f.string(c, "op"),
                                "path": f.path(c, non_empty=True),
                                "value": f.string(c, "value", False),
                            }
                        )
                    fields = {"key": key, "commands": parsed}
                    if cc:
                        fields["confirm_time"] = f.integer(data, "confirm_time")
                    return "list", fields
                except _Invalid as exc:
                    errors.append(exc)
            if cc and "op" in data:
                return "confirm", {"key": key, "op": f.string(data, "op")}
            raise errors[0]
        if endpoint == "/config-file":
            fields = {"key": key, "op": f.string(data, "op"), "file": f.string(data, "file", False)}
            if v2:
                fields["string"] = f.string(data, "string", False)
            if cc:
                fields["confirm_time"] = f.integer(data, "confirm_time")
            return "file", fields
        fields = {"key": key, "op": f.string(data, "op"), "path": f.path(data, non_empty=False)}
        if endpoint == "/retrieve":
            fields["configFormat"] = f.string(data, "configFormat", False)
        return endpoint.strip("/"), fields

    # ---- /configure ---------------------------------------------------------------------------

    def _configure(self, model: str, fields: dict[str, Json]) -> _Reply:
        with self._write_lock():
            if model == "confirm":
                op = fields["op"]
                if op != "confirm":
                    return _err(400, f"'{op}' is not a valid operation")
                return self._confirm()
            commands = fields["commands"] if model == "list" else [fields]
            with self._state:
                base = self._running.copy()
            candidate = base.copy()
            for c in commands:
                problem = self._apply(candidate, base, c["op"], list(c["path"]), c.get("value"))
                if problem is not None:
                    return _err(400, problem)
            reply, changed = self._commit(candidate, int(fields.get("confirm_time") or 0), "", api_request=True)
            if changed:
                with self._state:
                    if self._drop_next or self._unreachable_next:
                        self._drop_next = False
                        reply.drop = True
                        self._down_until = time.monotonic() + self._unreachable_next
                        self._unreachable_next = 0.0
            return reply

    def _apply(
        self, candidate: ConfigStore, base: ConfigStore, op: str, path: list[str], value: str | None
    ) -> str | None:
        """One command into the candidate config; the router's error text, or None."""
        tokens = tuple([*path, value] if value else path)
        shown = " ".join(tokens)
        if op == "set":
            problem = self.schema.check(tokens)
            try:
                loc = locate(self.roots, tokens)
            except PathError as exc:
                return f"Configuration path: [{shown}] is not valid\n{problem or exc}\n\nSet failed\n"
            if problem is not None:
                if loc.at in ("tag", "leaf"):
                    return f"Configuration path: [{shown}] requires a value\n{problem}\n\nSet failed\n"
                return f"Invalid value for [{shown}]\n{problem}\nValue validation failed\n\nSet failed\n"
            candidate.set(loc)
            return None
        if op == "delete":
            try:
                loc = locate(self.roots, tokens)
            except PathError as exc:
                return f"Configuration path: [{shown}] is not valid\n{exc}\n\nDelete failed\n"
            # The strict check looks at the config as it was when the request came in.
            if self.strict and not base.exists(loc):
                return f"Cannot delete [{shown}]: path/value does not exist"
            candidate.delete(loc)  # "Nothing to delete" is a success on the router
            return None
        if op == "comment":
            node_tokens = tuple(path)
            try:
                loc = locate(self.roots, node_tokens)
            except PathError as exc:
                return f"Configuration path: [{' '.join(node_tokens)}] is not valid\n{exc}\n"
            if not candidate.exists(loc):
                return "The specified config node does not exist\n"
            if loc.at == "leaf_value":
                return "Cannot comment on config values\n"
            if loc.at == "tag":
                return "Cannot add comment at this level\n"
            if value and "*" in value:
                return "Cannot use the '*' character in a comment\n"
            if value:
                candidate.comments[loc.keys] = value
            else:
                candidate.comments.pop(loc.keys, None)
            return None
        return f"'{op}' is not a valid operation"

    # ---- /config-file --------------------------------------------------------------------------

    def _config_file(self, fields: dict[str, Json]) -> _Reply:
        op = fields["op"]
        v2 = self.version == "1.5"
        with self._write_lock():
            if op == "save":
                name = fields.get("file") or DEFAULT_SAVE_FILE
                with self._state:
                    changed = self._saved.get(name) != self._running
                    self._saved[name] = self._running.copy()
                return _ok(f"Saving configuration to '{name}'...\nDone\n", wrote=changed)
            if op == "load" or (v2 and op == "merge"):
                name = fields.get("file")
                if not name:
                    if fields.get("string"):
                        return _err(400, "loading a config from 'string' is not emulated")
                    return _err(
                        400, 'Missing required field "file | string"' if v2 else 'Missing required field "file"'
                    )
                with self._state:
                    source = self._saved.get(name)
                    candidate = self._running.copy()
                if source is None:
                    return _err(400, f"Failed to load configuration file '{name}': No such file or directory\n")
                if op == "load":
                    candidate.replace_with(source)
                else:
                    for tokens in source.commands():
                        candidate.set(locate(self.roots, tokens))
                reply, _changed = self._commit(candidate, int(fields.get("confirm_time") or 0), "", api_request=False)
                if reply.status == 200 and reply.payload["data"] == "" and not v2:
                    reply.payload["data"] = None
                return reply
            if op == "confirm" and self.supports_commit_confirm:
                return self._confirm()
            return _err(400, f"'{op}' is not a valid operation")

    # ---- /retrieve -------------------------------------------------------------------------------

    def _retrieve(self, fields: dict[str, Json]) -> _Reply:
        op = fields["op"]
        path: list[str] = fields["path"]
        with self._state:
            # The API's own config session (vyos-1x routers.py ``retrieve_op`` reads
            # ``Config(session_env=...)`` and ``session.show_config``): while a commit runs,
            # or before a background commit of ``service https``, that is the candidate.
            store = (self._session or self._running).copy()
        # vyos.config takes the path as one space-joined string and splits it again.
        words = " ".join(path).split()
        if op == "exists":
            try:
                return _ok(store.exists(locate(self.roots, words)))
            except PathError:
                return _ok(False)
        if op in ("returnValue", "returnValues"):
            item = None
            with contextlib.suppress(PathError):
                loc = locate(self.roots, words)
                if loc.at == "leaf":
                    item = store.get(loc.keys)
            values = [item] if isinstance(item, str) else list(item) if isinstance(item, list) else []
            if op == "returnValue":
                return _ok(values[0] if values else None)
            return _ok(values)
        if op == "showConfig":
            fmt = fields.get("configFormat") or "json"
            if fmt not in ("json", "raw", "json_ast"):
                return _err(400, f"'{fmt}' is not a valid config format")
            if fmt == "json_ast":
                return _err(400, "configFormat 'json_ast' is not emulated")
            return self._show_config(store, path, fmt)
        return _err(400, f"'{op}' is not a valid operation")

    def _show_config(self, store: ConfigStore, path: list[str], fmt: str) -> _Reply:
        try:
            loc = locate(self.roots, path)
        except PathError:
            return _err(400, INVALID_PATH_ERROR)
        item = store.data if loc.at == "root" else store.get(loc.keys)
        if loc.at in ("root", "node", "tag_value"):
            if not isinstance(item, dict) or not item:
                return _err(400, EMPTY_PATH_ERROR)
            if fmt == "raw":
                return _ok(store.render_raw(loc.keys, item))
            return _ok(_sorted_tree(item))
        if loc.at == "tag" or (loc.at == "leaf" and loc.node is not None and not loc.node.valueless):
            if not item:
                return _err(400, EMPTY_PATH_ERROR)
            name = loc.keys[-1]
            if fmt == "raw":
                return _ok(store.render_raw(loc.keys, item, wrap=name))
            return _ok({name: _sorted_tree(item)})
        # a valueless leaf (a typeless node with no children to Cstore) or a leaf value
        return _err(400, EMPTY_PATH_ERROR)

    # ---- /show (synthetic) ---------------------------------------------------------------------

    def _show(self, fields: dict[str, Json]) -> _Reply:
        op = fields["op"]
        if op != "show":
            return _err(400, f"'{op}' is not a valid operation")
        path: list[str] = fields["path"]
        with self._state:
            store = self._running.copy()
        text = self.broken_op_mode.get(tuple(path))
        if text is None:
            text = _OpMode(store, self).show(path)
        if text is None:
            return _err(400, f"\n  Invalid command: show [{' '.join(path)}]\n\n")
        return _ok(text)


# ======================================================================================
# Synthetic operational mode (/show).
# ======================================================================================


def _mac(name: str) -> str:
    digest = hashlib.sha256(name.encode()).digest()
    return "02:" + ":".join(f"{b:02x}" for b in digest[:5])


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()
    rule = "  ".join("-" * w for w in widths)
    body = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join([line, rule, *body]) + "\n"


def _as_dict(item: Json) -> dict[str, Json]:
    return item if isinstance(item, dict) else {}


class _OpMode:
    """Made-up but plausible op-mode text from a config; nothing here reflects a data plane."""

    def __init__(self, store: ConfigStore, emulator: VyosEmulator) -> None:
        self.tree = store.data
        self.store = store
        self.emulator = emulator

    def get(self, *keys: str) -> Json:
        return self.store.get(keys)

    def opstate(self) -> OpState:
        e = self.emulator
        others = [speaker(o.hostname, o.config_tree(), o.answering()) for o in e.fabric]
        return OpState(speaker(e.hostname, self.tree, True), others, bool(e.fabric), e.forced_vrrp)

    def show(self, path: list[str]) -> str | None:
        p = tuple(path)
        if p == ("bgp", "l2vpn", "evpn", "vni", "json"):
            return evpn_vni_json(self.opstate())
        if p == ("bgp", "l2vpn", "evpn", "json"):
            return evpn_routes_json(self.opstate())
        if p[:3] == ("ip", "route", "vrf") and len(p) == 5 and p[4] == "json":
            return self.routes_json(p[3])
        if p == ("vrrp",):
            return vrrp_table(self.opstate())
        if len(p) == 4 and p[:2] == ("interfaces", "wireguard") and p[3] == "summary":
            if p[2] not in _as_dict(self.get("interfaces", "wireguard")):
                # 1.5's interfaces_wireguard.py says so; 1.4 runs `wg show <if>`, whose error it is
                if self.emulator.version == "1.4":
                    return "Unable to access interface: No such device\n"
                return f"WireGuard interface {p[2]} is not configured\n"
            return wireguard_summary(self.opstate(), self.emulator.version, p[2], self.tree)
        if p in (("configuration",), ("configuration", "commands")):
            return self.config_commands() if p[-1] == "commands" else self.store.render_raw()
        if p == ("configuration", "json"):
            return json.dumps(self.store.to_json())
        if p == ("version",):
            return self.version()
        if p == ("vrf",):
            return self.vrfs()
        if p and p[0] == "interfaces":
            return self.interfaces(p[1:])
        if p[:1] == ("bgp",) or p[:2] == ("ip", "bgp"):
            rest = p[1:] if p[0] == "bgp" else p[2:]
            return self.bgp(rest)
        if p[:2] == ("ip", "route"):
            return self.routes(p[2:])
        return None

    def config_commands(self) -> str:
        lines = []
        for tokens in self.store.commands():
            words = [t if re.fullmatch(r"[A-Za-z0-9_.:/@+-]+", t) else "'" + t + "'" for t in tokens]
            loc = locate(self.store.roots, tokens)
            if loc.at == "leaf_value":
                words[-1] = "'" + tokens[-1].replace("'", "'\\''") + "'"
            lines.append("set " + " ".join(words))
        return "\n".join(lines) + "\n"

    def version(self) -> str:
        e = self.emulator
        return (
            f"Version:          VyOS {e.version}-emulated\n"
            "Release train:    emulator\n"
            "Built by:         tests/beds/vyos_emulator.py\n"
            f"Hostname:         {self.get('system', 'host-name') or e.hostname}\n"
        )

    # -- interfaces --

    def all_interfaces(self) -> list[tuple[str, str, dict[str, Json]]]:
        """(type, name, config) for every interface and vif, in config order."""
        out: list[tuple[str, str, dict[str, Json]]] = []
        interfaces = self.tree.get("interfaces", {})
        for itype in sorted(interfaces, key=_natural):
            entries = interfaces[itype]
            if not isinstance(entries, dict):
                continue
            for name in sorted(entries, key=_natural):
                conf = entries[name]
                if not isinstance(conf, dict):
                    continue
                out.append((itype, name, conf))
                for vif_kind in ("vif", "vif-s"):
                    vifs = conf.get(vif_kind, {})
                    if isinstance(vifs, dict):
                        for vid in sorted(vifs, key=_natural):
                            out.append((itype, f"{name}.{vid}", vifs[vid] if isinstance(vifs[vid], dict) else {}))
        return out

    def interfaces(self, rest: tuple[str, ...]) -> str | None:
        found = self.all_interfaces()
        if len(rest) >= 2:
            for itype, name, conf in found:
                if itype == rest[0] and name == rest[1]:
                    return self.interface_detail(itype, name, conf)
            return None
        if rest:
            found = [f for f in found if f[0] == rest[0]]
            if not found and rest[0] not in self.emulator.roots["interfaces"].children:
                return None
        vxlan = bool(rest) and rest[0] == "vxlan"
        headers = ["Interface", *(["VNI"] if vxlan else []), "IP Address", "MAC", "VRF", "MTU", "S/L", "Description"]
        rows = []
        for _itype, name, conf in found:
            addresses = as_list(conf.get("address")) or ["-"]
            state = "A/D" if "disable" in conf else "u/u"
            for i, address in enumerate(addresses):
                first = i == 0
                row = [name if first else ""]
                if vxlan:
                    row.append(str(conf.get("vni", "-")) if first else "")
                row += [
                    address,
                    _mac(name) if first else "",
                    str(conf.get("vrf", "default")) if first else "",
                    str(conf.get("mtu", "1500")) if first else "",
                    state if first else "",
                    str(conf.get("description", "")) if first else "",
                ]
                rows.append(row)
        codes = "Codes: S - State, L - Link, u - Up, D - Down, A - Admin Down\n"
        return codes + _table(headers, rows)

    def interface_detail(self, itype: str, name: str, conf: dict[str, Json]) -> str:
        mtu = conf.get("mtu", "1450" if itype == "vxlan" else "1420" if itype == "wireguard" else "1500")
        state = "DOWN" if "disable" in conf else "UP"
        lines = [f"{name}: <BROADCAST,MULTICAST,{state},LOWER_UP> mtu {mtu} state {state}"]
        if itype != "wireguard":
            lines.append(f"    link/ether {_mac(name)} brd ff:ff:ff:ff:ff:ff")
        if itype == "vxlan":
            params = conf.get("parameters", {})
            learning = "nolearning" if isinstance(params, dict) and "nolearning" in params else "learning"
            local = conf.get("source-address", "0.0.0.0")
            port = conf.get("port", "8472")
            lines.append(f"    vxlan id {conf.get('vni', '-')} local {local} dstport {port} {learning}")
        for address in as_list(conf.get("address")):
            family = "inet6" if ":" in address else "inet"
            lines.append(f"    {family} {address} scope global {name}")
        if "description" in conf:
            lines.append(f"    Description: {conf['description']}")
        return "\n".join(lines) + "\n"

    # -- vrf --

    def vrf_names(self) -> list[str]:
        names = self.get("vrf", "name")
        return sorted(names, key=_natural) if isinstance(names, dict) else []

    def vrfs(self) -> str:
        rows = []
        for vrf in self.vrf_names():
            members = [n for _t, n, c in self.all_interfaces() if c.get("vrf") == vrf]
            rows.append([vrf, "up", _mac(vrf), "noarp,master,up,lower_up", ",".join(members) or "n/a"])
        return _table(["Name", "State", "MAC address", "Flags", "Interfaces"], rows)

    # -- bgp --

    def bgp(self, rest: tuple[str, ...]) -> str | None:
        instances: list[tuple[str, Json]] = []
        if rest in (("summary",), ("ipv4", "summary"), ("l2vpn", "evpn", "summary")):
            instances.append(("default", self.get("protocols", "bgp")))
        elif rest[:1] == ("vrf",) and len(rest) >= 3 and rest[-1] == "summary":
            wanted = self.vrf_names() if rest[1] == "all" else [rest[1]]
            if rest[1] == "all":
                instances.append(("default", self.get("protocols", "bgp")))
            instances += [(v, self.get("vrf", "name", v, "protocols", "bgp")) for v in wanted]
        else:
            return None
        family = "L2VPN EVPN" if "evpn" in rest else "IPv4 Unicast"
        chunks = []
        state = self.opstate()
        for vrf, bgp in instances:
            if not isinstance(bgp, dict):
                if vrf != "default" or len(instances) == 1:
                    chunks.append(f"% BGP instance not found{'' if vrf == 'default' else f' for VRF {vrf}'}\n")
                continue
            chunks.append(self.bgp_summary(vrf, bgp, family, state))
        return "\n".join(chunks)

    def bgp_summary(self, vrf: str, bgp: dict[str, Json], family: str, state: OpState) -> str:
        asn = str(bgp.get("system-as", "?"))
        params = bgp.get("parameters", {})
        router_id = params.get("router-id") if isinstance(params, dict) else None
        if not router_id:
            lo = self.get("interfaces", "loopback", "lo", "address")
            router_id = (as_list(lo) or ["0.0.0.0/32"])[0].split("/")[0]
        neighbors = bgp.get("neighbor", {})
        groups = bgp.get("peer-group", {})
        rows = []
        for peer in sorted(neighbors, key=_natural) if isinstance(neighbors, dict) else []:
            conf = neighbors[peer] if isinstance(neighbors[peer], dict) else {}
            remote = conf.get("remote-as")
            if remote is None and isinstance(groups, dict):
                group = groups.get(str(conf.get("peer-group")), {})
                remote = group.get("remote-as") if isinstance(group, dict) else None
            iface = conf.get("interface", {})
            if remote is None and isinstance(iface, dict):
                remote = iface.get("remote-as")
            remote_text = {"internal": asn, "external": "external"}.get(str(remote), str(remote or "?"))
            rows.append(bgp_summary_row(state, peer, remote_text, str(conf.get("description", "N/A"))))
        head = (
            f"{family} Summary (VRF {vrf}):\n"
            f"BGP router identifier {router_id}, local AS number {asn} vrf-id 0\n"
            "BGP table version 0\nRIB entries 0, using 0 bytes of memory\n"
            f"Peers {len(rows)}, using 0 KiB of memory\n\n"
        )
        headers = ["Neighbor", "V", "AS", "MsgRcvd", "MsgSent", "TblVer", "InQ", "OutQ", "Up/Down", "State/PfxRcd"]
        table = _table([*headers, "PfxSnt", "Desc"], rows)
        return head + table + f"\nTotal number of neighbors {len(rows)}\n"

    # -- routes --

    def route_entries(self, vrf: str) -> list[tuple[str, str, str, str]]:
        """A VRF's connected and static routes from the config: (prefix, protocol, interface or
        next hop, FRR's text line), in FRR's order."""
        entries: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str, str, str]] = []
        for _t, name, conf in self.all_interfaces():
            if str(conf.get("vrf", "default")) != vrf:
                continue
            for address in as_list(conf.get("address")):
                with contextlib.suppress(ValueError):
                    net = ipaddress.ip_interface(address).network
                    if net.version == 4:
                        entries.append((net, "connected", name, f"C>* {net} is directly connected, {name}, 00:05:00"))
        if vrf == "default":
            found = self.get("protocols", "static", "route")
        else:
            found = self.get("vrf", "name", vrf, "protocols", "static", "route")
        static: dict[str, Json] = found if isinstance(found, dict) else {}
        for prefix in static:
            conf = static[prefix] if isinstance(static[prefix], dict) else {}
            hops = conf.get("next-hop", {})
            for hop in sorted(hops, key=_natural) if isinstance(hops, dict) else []:
                with contextlib.suppress(ValueError):
                    text = f"S>* {prefix} [1/0] via {hop}, weight 1, 00:05:00"
                    entries.append((ipaddress.ip_network(prefix), "static", hop, text))
            if "blackhole" in conf:
                with contextlib.suppress(ValueError):
                    text = f"S>* {prefix} [1/0] unreachable (blackhole)"
                    entries.append((ipaddress.ip_network(prefix), "static", "blackhole", text))
        entries.sort(key=lambda e: (e[0].version, int(e[0].network_address), e[0].prefixlen))
        return [(str(net), kind, via, text) for net, kind, via, text in entries]

    def routes_json(self, which: str) -> str | None:
        """``ip route vrf <all|name> json`` (the op-mode's ``vrf <TAG> <TAG>``: ``json`` is the value)."""
        vrfs = ["default", *self.vrf_names()] if which == "all" else [which]
        if which != "all" and which not in self.vrf_names():
            return f"% VRF {which} not found\n"
        return route_json({v: [(p, k, via) for p, k, via, _t in self.route_entries(v)] for v in vrfs})

    def routes(self, rest: tuple[str, ...]) -> str | None:
        if not rest:
            vrfs = ["default"]
        elif rest[0] == "vrf" and len(rest) == 2:
            vrfs = ["default", *self.vrf_names()] if rest[1] == "all" else [rest[1]]
            if rest[1] != "all" and rest[1] not in self.vrf_names():
                return f"% VRF {rest[1]} not found\n"
        else:
            return None
        codes = (
            "Codes: K - kernel route, C - connected, S - static, R - RIP,\n"
            "       O - OSPF, I - IS-IS, B - BGP, E - EIGRP, N - NHRP,\n"
            "       T - Table, v - VNC, V - VNC-Direct, A - Babel, F - PBR,\n"
            "       f - OpenFabric,\n"
            "       > - selected route, * - FIB route, q - queued, r - rejected, b - backup\n"
            "       t - trapped, o - offload failure\n"
        )
        chunks = [codes]
        for vrf in vrfs:
            lines = [] if len(vrfs) == 1 and not rest else [f"\nVRF {vrf}:"]
            chunks.append("\n".join([*lines, *(text for _p, _k, _v, text in self.route_entries(vrf))]) + "\n")
        return "".join(chunks)
