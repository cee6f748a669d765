"""A pull-request report from ``pulumi preview --json``: what ``up`` would change, as Markdown.

Pure: it reads the preview's JSON (a dict) and writes text; running the CLI is
``fabric/cli.py``'s part. Per stack: the counts of resources to create, update,
replace, delete and leave unchanged; then per device what changes, in ```` ```diff ````
fences so GitHub colours them:

* a router (``…:RouterConfig``; ``config`` is ``{section: "set …\\n…"}``): per section
  the lines added (``+``) and removed (``-``), a line only moved within the config being
  no change (VyOS keeps no order); a created router shows every line as added, a deleted
  one every line as removed;
* a host concern (``…:HostConcern``; ``files`` is ``{path: {content, mode, owner, …}}``,
  ``actions`` a list of actions, each a ``{name, commands}`` or one readable string):
  per file a unified diff of its content, mode and owner changes, and per action one line;
* a WireGuard key (``…:WireguardKey``) and cloud resources (``aws``, ``azure-native``,
  ``gcp``): one line each with their changed properties; other resources (components)
  one line each.

Values known only after ``up`` (a peer's public key, a cloud node's address) sit in
the config as markers (``<public-key:NAME>``), so a change of one changes no line: the
``late`` input (``{kind: {name: value}}``) shows it, one line per marker whose value
changes; the engine's unknown sentinel shows as "(known after up)". Drift that the
last ``refresh`` recorded (the ``drift`` output), which ``up`` puts back, is listed
too. Resources of the old generic type ``pulumi-python:dynamic:Resource`` are told
apart by their inputs.

Secrets: the preview shows them as ``[secret]`` (the CLI never passes
``--show-secrets``); the values of inputs named ``secrets``, ``api_key`` and
``private_key`` are never printed, whatever they hold, nor anything in Pulumi's secret
envelope. ``<secret:NAME>`` markers in rendered config are shown: they are names, not
values.

Markdown safety: names and values are in code spans, lines in fences longer than any
backtick run they contain, and control and format characters (newlines, bidi controls,
NUL) are written as escapes, so no text from config or a device can close a fence or
add markup. A report longer than GitHub's comment limit is shortened per device (every
device keeps the same number of lines, the rest are counted), then by whole devices,
with an explicit note at the top and on each device saying what was left out and where
the full report is.
"""

from __future__ import annotations

import difflib
import json
import re
import shlex
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: What the engine writes in JSON for a value known only after ``up``.
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
#: How a secret value appears in a preview without ``--show-secrets``.
SECRET = "[secret]"
#: The key of Pulumi's secret envelope (``{SIG: "1b47…", "value"|"plaintext": …}``).
SECRET_SIG = "4dabf18193072939515e22adb298388d"
#: Inputs whose values are never printed, at any depth.
HIDDEN = frozenset({"secrets", "api_key", "private_key"})
KNOWN_AFTER_UP = "(known after up)"

ROUTER_TYPE = "pulumi-python:dynamic/fabric:RouterConfig"
HOST_TYPE = "pulumi-python:dynamic/fabric:HostConcern"
KEY_TYPE = "pulumi-python:dynamic/fabric:WireguardKey"
#: The type every provider resource had before they were named (providers/types.py).
GENERIC_TYPE = "pulumi-python:dynamic:Resource"
CLOUD_PACKAGES = frozenset({"aws", "azure-native", "gcp"})

#: GitHub's limit on a comment's body, in characters (measured here in UTF-8 bytes, never fewer).
GITHUB_LIMIT = 65_536
#: The smallest limit a report can always be shortened to (headings, counts and notes).
MIN_LIMIT = 4_096
#: How long a line of a shortened report may be (a longer one is cut, saying so).
LONG_LINE = 1_000
#: The first line of every report: how a workflow finds its previous comment to update it.
MARKER = "<!-- fabric-review -->"
#: Where to find the full report, when the caller does not say.
DEFAULT_FULL_REPORT = "run `python -m fabric review` with `--max-chars 0 --out FILE` for the full report"

#: What each preview step's op counts as; the parts of a replacement are merged into one.
_OPS = {"create": "create", "import": "create", "update": "update", "replace": "replace", "delete": "delete"}
_REPLACEMENT_NEW = ("create-replacement", "import-replacement")
_REPLACEMENT_OLD = ("delete-replaced", "discard-replaced")
_KIND_ORDER = {"router": 0, "host": 1, "key": 2, "cloud": 3, "other": 4}
_KIND_LABEL = {"router": "router", "host": "host", "key": "mesh member", "cloud": "cloud"}
#: Router inputs shown as properties (the config itself is shown as lines).
_ROUTER_SKIP = frozenset({"config", "owns", "keep_on_delete", "secret_paths", "late_paths", "drift"})
_HOST_SKIP = frozenset({"files", "actions", "written", "removed", "ran", "drift", "concern", "owner"})
#: A file's slots (where markers are): bookkeeping that moves with its content.
_FILE_SLOTS = frozenset({"secrets", "late"})
_BARE = re.compile(r"^[A-Za-z0-9_.:/@+-]+$")
_TICKS = re.compile(r"`+")
#: Anything but printable ASCII and tabs: the text to look at closely (see :func:`visible`).
_UNUSUAL = re.compile(r"[^\t\x20-\x7e]")


class PreviewError(ValueError):
    """The text is not a ``pulumi preview --json`` result."""


# ----------------------------------------------------------------------------- the report's shape


@dataclass
class Counts:
    create: int = 0
    update: int = 0
    replace: int = 0
    delete: int = 0
    same: int = 0

    @property
    def changes(self) -> int:
        return self.create + self.update + self.replace + self.delete


@dataclass
class Block:
    """Part of a device's section: an intro line, then lines (in a diff fence, or Markdown bullets)."""

    intro: str | None
    lines: list[str]
    fenced: bool = True


@dataclass
class Device:
    name: str
    kind: str
    blocks: list[Block] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(len(b.lines) for b in self.blocks)


@dataclass
class StackReport:
    stack: str
    counts: Counts
    devices: list[Device]
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Change:
    op: str
    name: str
    type: str
    kind: str
    device: str
    old: Mapping[str, Any] | None
    new: Mapping[str, Any] | None
    old_outputs: Mapping[str, Any]
    new_outputs: Mapping[str, Any]
    reasons: frozenset[str]
    replace_reasons: frozenset[str]


# ----------------------------------------------------------------------------- reading the preview


def stack_report(stack: str, preview: Any) -> StackReport:
    """One stack's part of the report, from its parsed ``pulumi preview --json``."""
    if not isinstance(preview, Mapping) or not isinstance(preview.get("steps", []), list):
        raise PreviewError(f"stack {stack}: not the output of `pulumi preview --json` (no list of steps)")
    steps = [s for s in preview.get("steps") or [] if isinstance(s, Mapping)]
    changes = _changes(steps)
    devices: dict[str, Device] = {}
    others: list[str] = []
    for ch in changes:
        if ch.kind == "other":
            others.append(f"- {_verb(ch.op)} {code(ch.name)} ({code(ch.type)})")
            continue
        device = devices.setdefault(ch.device, Device(ch.device, ch.kind))
        if _KIND_ORDER[ch.kind] < _KIND_ORDER[device.kind]:
            device.kind = ch.kind  # a router's key joins the router
        device.blocks += _blocks(ch)
    ordered = sorted(devices.values(), key=lambda d: (_KIND_ORDER[d.kind], d.name))
    if others:
        ordered.append(Device("other resources", "other", [Block(None, others, fenced=False)]))
    return StackReport(stack, _counts(preview, changes), ordered, _warnings(preview))


def preview_errors(preview: Any) -> list[str]:
    """The error messages of a failed preview's JSON (the program's and the engine's)."""
    if not isinstance(preview, Mapping):
        return []
    out = []
    for d in preview.get("diagnostics") or []:
        if isinstance(d, Mapping) and str(d.get("severity", "")) in ("error", "info#err"):
            message = str(d.get("message", "")).rstrip()
            if message:
                out.append(message)
    return out


def policy_section(text: str) -> str:
    """The ``Policies:`` block of a text-mode preview (which rules a policy pack says were
    violated, where, and why), or "" when it has none."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("Policies:")), None)
    if start is None:
        return ""
    end = next((i for i in range(start + 1, len(lines)) if lines[i] and not lines[i].startswith(" ")), len(lines))
    return "\n".join(lines[start:end]).rstrip()


def _warnings(preview: Mapping[str, Any]) -> list[str]:
    out = []
    for d in preview.get("diagnostics") or []:
        if isinstance(d, Mapping) and d.get("severity") == "warning":
            message = str(d.get("message", "")).strip()
            if message and message not in out:
                out.append(message)
    return out


def _counts(preview: Mapping[str, Any], changes: Sequence[_Change]) -> Counts:
    summary = preview.get("changeSummary")
    if isinstance(summary, Mapping):

        def n(key: str) -> int:
            value = summary.get(key, 0)
            return value if isinstance(value, int) else 0

        return Counts(n("create"), n("update"), n("replace"), n("delete"), n("same"))
    counts = Counts()
    for ch in changes:
        setattr(counts, ch.op, getattr(counts, ch.op) + 1)
    return counts


def _changes(steps: Sequence[Mapping[str, Any]]) -> list[_Change]:
    """One change per resource; a replacement's parts (create-replacement, delete-replaced) merged."""
    whole: dict[str, tuple[str, Mapping[str, Any], Mapping[str, Any]]] = {}
    parts: dict[str, dict[str, Mapping[str, Any]]] = {}
    order: list[str] = []
    for step in steps:
        urn, op = str(step.get("urn", "")), str(step.get("op", ""))
        if op in _REPLACEMENT_NEW or op in _REPLACEMENT_OLD:
            side = "new" if op in _REPLACEMENT_NEW else "old"
            parts.setdefault(urn, {})[side] = step
        elif op in _OPS:
            whole[urn] = (_OPS[op], step, step)
        else:
            continue  # same, read, refresh, discard: nothing changes
        if urn not in order:
            order.append(urn)
    out = []
    for urn in order:
        if urn in whole:
            op, old_step, new_step = whole[urn]
        else:
            op = "replace"
            old_step = parts[urn].get("old", {})
            new_step = parts[urn].get("new", {})
        old_state = _mapping(old_step.get("oldState"))
        new_state = _mapping(new_step.get("newState"))
        reasons = {str(r) for s in (old_step, new_step) for r in s.get("diffReasons") or []}
        detailed = new_step.get("detailedDiff")
        if isinstance(detailed, Mapping):
            reasons |= {str(k).split(".")[0].split("[")[0] for k in detailed}
        replace_reasons = {str(r) for s in (old_step, new_step) for r in s.get("replaceReasons") or []}
        out.append(_change(urn, op, old_state, new_state, frozenset(reasons), frozenset(replace_reasons)))
    return out


def _change(
    urn: str,
    op: str,
    old_state: Mapping[str, Any],
    new_state: Mapping[str, Any],
    reasons: frozenset[str],
    replace_reasons: frozenset[str],
) -> _Change:
    old = _mapping(old_state.get("inputs")) if op != "create" else None
    new = _mapping(new_state.get("inputs")) if op != "delete" else None
    if op == "replace" and not old:
        old = _mapping(old_state.get("outputs"))
    from_urn = urn.split("::")[2].split("$")[-1] if urn.count("::") >= 3 else ""
    type_ = str(new_state.get("type") or old_state.get("type") or from_urn)
    name = urn.split("::")[-1]
    parent = str(new_state.get("parent") or old_state.get("parent") or "").split("::")[-1]
    inputs = new if new is not None else (old or {})
    kind = _kind(type_, inputs)
    return _Change(
        op=op,
        name=name,
        type=type_,
        kind=kind,
        device=_device(kind, name, parent, inputs),
        old=old,
        new=new,
        old_outputs=_mapping(old_state.get("outputs")),
        new_outputs=_mapping(new_state.get("outputs")),
        reasons=reasons,
        replace_reasons=replace_reasons,
    )


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _kind(type_: str, inputs: Mapping[str, Any]) -> str:
    if type_ == ROUTER_TYPE:
        return "router"
    if type_ == HOST_TYPE:
        return "host"
    if type_ == KEY_TYPE:
        return "key"
    if type_ == GENERIC_TYPE:  # stacks from before the named types: tell them apart by their inputs
        if "config" in inputs and "router" in inputs:
            return "router"
        if "files" in inputs and "host" in inputs:
            return "host"
        if "rotation" in inputs:
            return "key"
        return "other"
    return "cloud" if type_.split(":")[0] in CLOUD_PACKAGES else "other"


def _device(kind: str, name: str, parent: str, inputs: Mapping[str, Any]) -> str:
    """The device a resource belongs to: a router's or host's own name, a key's member, a cloud's extension."""
    if kind in ("router", "host"):
        value = inputs.get("router" if kind == "router" else "host")
        if isinstance(value, str) and value not in (UNKNOWN, SECRET) and value:
            return value
        return name.removesuffix("-vyos")
    if kind == "key":
        return name.removesuffix("-wg-key") if name.endswith("-wg-key") else (parent or name)
    if kind == "cloud":
        return parent or "cloud"
    return name


# ----------------------------------------------------------------------------- per resource


def _blocks(ch: _Change) -> list[Block]:
    if ch.kind == "router":
        return _router_blocks(ch)
    if ch.kind == "host":
        return _host_blocks(ch)
    what = "key" if ch.kind == "key" else code(ch.type)
    line = f"- {_verb(ch.op)} {what} {code(ch.name)}"
    props = _prop_changes(ch, skip=frozenset({"__provider"}))
    if ch.kind == "key" and ch.op in ("create", "replace"):
        public = ch.new_outputs.get("public_key", UNKNOWN)
        props.append(f"public key {_value(public)}")
    return [Block(None, [line + (": " + "; ".join(props) if props else "")], fenced=False)]


def _router_blocks(ch: _Change) -> list[Block]:
    blocks: list[Block] = []
    if ch.op != "update":
        blocks.append(Block(None, [f"- {_verb(ch.op)} router config {code(ch.name)}"], fenced=False))
    props = _prop_changes(ch, skip=_ROUTER_SKIP)
    if ch.op in ("update", "replace") and props:
        blocks.append(Block(None, [f"- {p}" for p in props], fenced=False))
    old = _sections(ch.old.get("config") if ch.old is not None else {})
    new = _sections(ch.new.get("config") if ch.new is not None else {})
    if isinstance(old, str) or isinstance(new, str):
        which = "new" if isinstance(new, str) else "current"
        blocks.append(Block(None, [f"- the {which} config: {_value(new if isinstance(new, str) else old)}"], False))
        return blocks
    old_all = {line for lines in old.values() if isinstance(lines, list) for line in lines}
    new_all = {line for lines in new.values() if isinstance(lines, list) for line in lines}
    for section in [*new, *(s for s in old if s not in new)]:
        before, after = old.get(section, []), new.get(section, [])
        if isinstance(before, str) or isinstance(after, str):
            value = after if isinstance(after, str) else before
            blocks.append(Block(None, [f"- {code(section)}: {_value(value)}"], fenced=False))
            continue
        lines = line_diff(before, after, old_all, new_all)
        if lines:
            added = sum(1 for line in lines if line.startswith("+"))
            intro = f"{code(section)}: {added} added, {len(lines) - added} removed"
            blocks.append(Block(intro, lines))
    blocks += _drift(ch)
    return blocks


def _sections(config: Any) -> dict[str, list[str] | str] | str:
    """A router's ``config`` as lines per section; a value not known (or secret) as its text.

    State from before sections (``{"<path words>": [values]}``) is one section, ``config``,
    its lines written as the renderer writes them (``providers/vyos.py``'s ``line_text``).
    """
    if config is None:
        return {}
    if isinstance(config, str) or _is_secret(config):
        return SECRET if _is_secret(config) else config
    if not isinstance(config, Mapping):
        return UNKNOWN if config == UNKNOWN else SECRET
    if config and all(isinstance(v, list) for v in config.values()):
        lines = []
        for path, values in config.items():
            words = " ".join(w if _BARE.match(w) else "'" + w.replace("'", "'\\''") + "'" for w in str(path).split(" "))
            if not values:
                lines.append(f"set {words}")
            lines += [f"set {words} '" + str(v).replace("'", "'\\''") + "'" for v in values]
        return {"config": lines}
    out: dict[str, list[str] | str] = {}
    for section, text in config.items():
        if isinstance(text, str) and text != UNKNOWN and text != SECRET:
            out[str(section)] = [line for line in text.split("\n") if line.strip()]
        else:
            out[str(section)] = UNKNOWN if text == UNKNOWN else SECRET
    return out


def line_diff(
    old: Sequence[str], new: Sequence[str], old_all: Iterable[str] | None = None, new_all: Iterable[str] | None = None
) -> list[str]:
    """``-``/``+`` lines from ``old`` to ``new``, in order; a line present on both sides (in
    ``old_all``/``new_all``, e.g. moved to another section) is no change."""
    kept_old = set(new_all if new_all is not None else new)
    kept_new = set(old_all if old_all is not None else old)
    out = []
    matcher = difflib.SequenceMatcher(None, old, new)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        out += [f"-{line}" for line in old[i1:i2] if line not in kept_old]
        out += [f"+{line}" for line in new[j1:j2] if line not in kept_new]
    return out


def _host_blocks(ch: _Change) -> list[Block]:
    inputs = ch.new if ch.new is not None else (ch.old or {})
    concern = inputs.get("concern")
    label = concern if isinstance(concern, str) and concern not in (UNKNOWN, SECRET) else ch.name
    old_files = ch.old.get("files") if ch.old is not None else {}
    new_files = ch.new.get("files") if ch.new is not None else {}
    diff: list[str] = []
    notes: list[str] = []
    if not isinstance(old_files, Mapping) or not isinstance(new_files, Mapping):
        value = new_files if not isinstance(new_files, Mapping) else old_files
        notes.append(f"- files: {_value(value)}")
        changed_files = 0
    else:
        changed_files = 0
        for path in [*new_files, *(p for p in old_files if p not in new_files)]:
            lines, file_notes = _file_diff(str(path), old_files.get(path), new_files.get(path))
            diff += lines
            notes += file_notes
            changed_files += bool(lines or file_notes)
    actions = _action_diff(
        ch.old.get("actions") if ch.old is not None else [], ch.new.get("actions") if ch.new is not None else []
    )
    props = _prop_changes(ch, skip=_HOST_SKIP) if ch.op in ("update", "replace") else []
    summary = f"{changed_files} file{'s' if changed_files != 1 else ''}"
    intro = f"{code(label)} ({_verb(ch.op)} {code(ch.name)}): {summary}"
    if isinstance(actions, list):
        added = sum(1 for line in actions if line.startswith("+"))
        summary_actions = f", actions {added} added, {len(actions) - added} removed" if actions else ""
    else:
        summary_actions = ""
    blocks = [Block(intro + summary_actions, diff)] if diff else [Block(intro + summary_actions, [], fenced=False)]
    if notes or props:
        blocks.append(Block(None, notes + [f"- {p}" for p in props], fenced=False))
    if isinstance(actions, list):
        if actions:
            blocks.append(Block(f"{code(label)} actions:", actions))
    else:
        blocks.append(Block(None, [f"- actions: {actions}"], fenced=False))
    return blocks + _drift(ch)


def _file_diff(path: str, old: Any, new: Any) -> tuple[list[str], list[str]]:
    """A file's content diff (unified) and notes on its other changes."""
    notes = []
    for spec in (old, new):
        if spec is not None and not isinstance(spec, Mapping):
            return [], [f"- {code(path)}: {_value(spec)}"]
    old_spec: Mapping[str, Any] = old or {}
    new_spec: Mapping[str, Any] = new or {}
    before, after = old_spec.get("content", ""), new_spec.get("content", "")
    diff: list[str] = []
    if (
        not isinstance(before, str)
        or not isinstance(after, str)
        or SECRET in (before, after)
        or UNKNOWN in (before, after)
    ):
        if before != after:
            value = after if (not isinstance(after, str) or after in (SECRET, UNKNOWN)) else before
            notes.append(f"- {code(path)}: content {_value(value)}")
    elif old is None or new is None or before != after:
        a, b = _text_lines(before), _text_lines(after)
        diff = list(
            difflib.unified_diff(
                a,
                b,
                fromfile="/dev/null" if old is None else path,
                tofile="/dev/null" if new is None else path,
                lineterm="",
            )
        )
        if not diff:  # an empty file created or removed
            diff = [f"--- {'/dev/null' if old is None else path}", f"+++ {'/dev/null' if new is None else path}"]
    if old is not None and new is not None:
        others = sorted((set(old_spec) | set(new_spec)) - {"mode", "owner", "content"} - _FILE_SLOTS - HIDDEN)
        for key in ("mode", "owner", *others):
            was, now = old_spec.get(key), new_spec.get(key)
            if was != now:
                notes.append(f"- {code(path)}: {code(key)} {_fmt(key, was)} → {_fmt(key, now)}")
    return diff, notes


def _text_lines(text: str) -> list[str]:
    lines = text.split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


def _action_diff(old: Any, new: Any) -> list[str] | str:
    """One line per action added or removed (``+``/``-``); or what the actions are when not known."""
    for value in (new, old):
        if value is not None and not isinstance(value, list):
            return _value(value)
    before = [action_line(a) for a in old or []]
    after = [action_line(a) for a in new or []]
    return line_diff(before, after)


def action_line(action: Any) -> str:
    """An action as one line: a string as itself; ``{name, commands}`` (state of earlier
    versions) as the line the host provider makes of it, ``name: cmd && cmd``."""
    if isinstance(action, str):
        return action
    if isinstance(action, Mapping):
        name = action.get("name")
        commands = action.get("commands")
        rest = {k: v for k, v in action.items() if k not in ("name", "commands")}
        parts = []
        if isinstance(commands, list):
            parts.append(" && ".join(_command(c) for c in commands))
        elif commands is not None:
            parts.append(_command(commands))
        parts += [f"{k}={json.dumps(v, sort_keys=True)}" for k, v in sorted(_scrub(rest).items())]
        text = " ".join(parts)
        return f"{name}: {text}" if name is not None else text
    if isinstance(action, list):
        return _command(action)
    return json.dumps(_scrub(action), sort_keys=True)


def _command(command: Any) -> str:
    if isinstance(command, list):
        return shlex.join(str(w) for w in command)
    return str(command)


def _drift(ch: _Change) -> list[Block]:
    """What the last refresh found changed on the device, which ``up`` puts back."""
    drift = ch.old_outputs.get("drift") if ch.op != "create" else None
    if not isinstance(drift, list) or not drift:
        return []
    lines = [_DIGEST.sub("<redacted>", str(d)) for d in drift]
    return [Block("drift found by the last refresh (`up` puts it back):", lines)]


#: The provider's drift names a secret leaf's value by a short digest (enough for an operator
#: to tell two values apart); a digest of a weak password can be guessed, so a report that may
#: be posted where more people read it shows none.
_DIGEST = re.compile(r"<redacted sha256:[0-9a-f]+>")


# ----------------------------------------------------------------------------- values


def _prop_changes(ch: _Change, skip: frozenset[str]) -> list[str]:
    """``name: old → new`` per changed input (values hidden where they must be)."""
    if ch.op not in ("update", "replace"):
        return []
    old, new = ch.old or {}, ch.new or {}
    out = []
    keys = [*new, *(k for k in old if k not in new)]
    for key in keys:
        if key in skip or key.startswith("__"):  # __provider, __defaults: the engine's own
            continue
        a, b = old.get(key), new.get(key)
        forced = " (forces replacement)" if key in ch.replace_reasons else ""
        if key == "late" and isinstance(a or {}, Mapping) and isinstance(b or {}, Mapping):
            out += _late_changes(a or {}, b or {})
        elif key in HIDDEN or _is_secret(a) or _is_secret(b):
            if a != b or key in ch.reasons or key in ch.replace_reasons:
                out.append(f"{code(key)} changed (value not shown){forced}")
        elif a != b:
            out.append(f"{code(key)} {_value(a)} → {_value(b)}{forced}")
    for key in sorted(k for k in (ch.reasons | ch.replace_reasons) - set(keys) - skip if not k.startswith("__")):
        out.append(f"{code(key)} changed" + (" (forces replacement)" if key in ch.replace_reasons else ""))
    return out


def _late_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The values known only after ``up`` (``late``: ``{kind: {name: value}}``, e.g. a peer's
    public key) that change, each named by its marker: the config shows only the marker."""
    out = []
    for kind in [*new, *(k for k in old if k not in new)]:
        was, now = old.get(kind, {}), new.get(kind, {})
        if not isinstance(was, Mapping) or not isinstance(now, Mapping):  # one not known as a whole
            was, now = {"*": was}, {"*": now}
        for name in [*now, *(n for n in was if n not in now)]:
            a, b = was.get(name), now.get(name)
            if a == b:
                continue
            label = code(f"<{kind}:{name}>")
            if kind in ("secret", *HIDDEN) or _is_secret(a) or _is_secret(b):
                out.append(f"{label} changed (value not shown)")
            else:
                out.append(f"{label} {_value(a)} → {_value(b)}")
    return out


def _is_secret(value: Any) -> bool:
    return value == SECRET or (isinstance(value, Mapping) and SECRET_SIG in value)


def _scrub(value: Any) -> Any:
    """``value`` with secrets and hidden inputs as ``[secret]`` and unknowns as "(known after up)"."""
    if _is_secret(value):
        return SECRET
    if value == UNKNOWN:
        return KNOWN_AFTER_UP
    if isinstance(value, Mapping):
        return {str(k): SECRET if k in HIDDEN else _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def _value(value: Any, limit: int = 80) -> str:
    if value == UNKNOWN:
        return KNOWN_AFTER_UP
    if _is_secret(value):
        return SECRET
    if value is None:
        return "(none)"
    text = value if isinstance(value, str) else json.dumps(_scrub(value), sort_keys=True, separators=(",", ":"))
    if len(text) > limit:
        return f"(changed, {len(text)} characters)"
    return code(text) if text else "(empty)"


def _fmt(key: str, value: Any) -> str:
    if key == "mode" and isinstance(value, int) and not isinstance(value, bool):
        return code(f"{value:04o}")
    return _value(value)


def _verb(op: str) -> str:
    return f"**{op}**"


# ----------------------------------------------------------------------------- Markdown


def visible(text: str) -> str:
    """``text`` with control, format and separator characters as escapes (``\\n``, ``\\x00``,
    ``\\u202e``): on one line, as it is, with nothing hidden or reordered."""
    if not _UNUSUAL.search(text):
        return text
    out = []
    for ch in text:
        if ch == "\t" or unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"):
            out.append(ch)
        elif ch == "\n":
            out.append("\\n")
        elif ord(ch) < 0x100:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(f"\\u{ord(ch):04x}" if ord(ch) < 0x10000 else f"\\U{ord(ch):08x}")
    return "".join(out)


def code(text: str) -> str:
    """``text`` as an inline code span that nothing in it can end early (nor be markup)."""
    text = visible(text).replace("\t", " ")
    if not text:
        return "(empty)"
    longest = max((len(m) for m in _TICKS.findall(text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if text[0] in "` " or text[-1] in "` " else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def fence(lines: Sequence[str], info: str = "diff", width: int | None = None) -> list[str]:
    """``lines`` in a code fence longer than any run of backticks in them; lines longer than
    ``width`` cut, saying so."""
    shown = [visible(line) for line in lines]
    if width is not None:
        shown = [t if len(t) <= width else f"{t[:width]} … ({len(t) - width} more characters)" for t in shown]
    longest = max((len(m) for line in shown for m in _TICKS.findall(line)), default=0)
    ticks = "`" * max(3, longest + 1)
    return [f"{ticks}{info}", *shown, ticks]


@dataclass
class _Cut:
    """How much of the report is shown: lines per device, and how many devices in all."""

    lines: int | None = None
    devices: int | None = None


def markdown(
    reports: Sequence[StackReport], max_chars: int | None = GITHUB_LIMIT, full_report: str = DEFAULT_FULL_REPORT
) -> str:
    """The report; shortened to ``max_chars`` (UTF-8 bytes) per device, with notes, if needed.

    ``full_report`` (Markdown) says where the full report is; it goes in every note."""
    full = _render(reports, _Cut(), full_report, max_chars)
    if max_chars is None or _size(full) <= max_chars:
        return full
    if max_chars < MIN_LIMIT:
        raise ValueError(f"a report cannot be shortened to fewer than {MIN_LIMIT} characters")
    largest = max((d.size for r in reports for d in r.devices), default=0)
    # The most lines per device that fit; then, if even none fit, the most devices.
    lo, hi = 0, largest
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _size(_render(reports, _Cut(lines=mid), full_report, max_chars)) <= max_chars:
            lo = mid
        else:
            hi = mid - 1
    text = _render(reports, _Cut(lines=lo), full_report, max_chars)
    if _size(text) <= max_chars:
        return text
    lo, hi = 0, sum(len(r.devices) for r in reports)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _size(_render(reports, _Cut(lines=0, devices=mid), full_report, max_chars)) <= max_chars:
            lo = mid
        else:
            hi = mid - 1
    text = _render(reports, _Cut(lines=0, devices=lo), full_report, max_chars)
    if _size(text) > max_chars:
        raise ValueError(f"even the report's headings and counts are longer than {max_chars} characters")
    return text


def _size(text: str) -> int:
    return len(text.encode())


def _render(reports: Sequence[StackReport], cut: _Cut, full_report: str, limit: int | None) -> str:
    body: list[str] = []
    left_lines = left_in = left_devices = 0
    shown_devices = 0
    for report in reports:
        body += ["", f"### Stack {code(report.stack)}", "", *_counts_table(report.counts)]
        if report.warnings:
            body += ["", "Warnings:", "", *fence([line for w in report.warnings for line in w.split("\n")], "text")]
        if not report.devices:
            body += ["", "No changes." if not report.counts.changes else "No device changes."]
        left_here = 0
        for device in report.devices:
            if cut.devices is not None and shown_devices >= cut.devices:
                left_here += 1
                continue
            shown_devices += 1
            lines, omitted = _device_section(device, cut.lines, None if cut.lines is None else LONG_LINE)
            body += lines
            if omitted:
                left_lines += omitted
                left_in += 1
                body += [
                    "",
                    f"> ✂ {omitted} more line{'s' if omitted != 1 else ''} of {code(device.name)} left out: {full_report}.",
                ]
        if left_here:
            left_devices += left_here
            body += [
                "",
                f"> ✂ {left_here} more device{'s' if left_here != 1 else ''} with changes in stack {code(report.stack)} "
                f"left out: {full_report}.",
            ]
    head = [MARKER, "## fabric: `pulumi preview`"]
    if left_lines or left_devices:
        parts = []
        if left_lines:
            parts.append(
                f"{left_lines} line{'s' if left_lines != 1 else ''} of {left_in} device{'s' if left_in != 1 else ''}"
            )
        if left_devices:
            parts.append(f"{left_devices} whole device{'s' if left_devices != 1 else ''}")
        to = (
            f"GitHub's limit for a comment ({GITHUB_LIMIT:,} characters)"
            if limit == GITHUB_LIMIT
            else f"{limit or 0:,} characters"
        )
        head += [
            "",
            f"> [!WARNING]\n> This report is shortened to {to}: {' and '.join(parts)} left out. "
            f"{full_report[:1].upper() + full_report[1:]}.",
        ]
    return "\n".join(head + body) + "\n"


def _counts_table(c: Counts) -> list[str]:
    return [
        "| to create | to update | to replace | to delete | unchanged |",
        "| ---: | ---: | ---: | ---: | ---: |",
        f"| {c.create} | {c.update} | {c.replace} | {c.delete} | {c.same} |",
    ]


def _device_section(device: Device, cap: int | None, width: int | None) -> tuple[list[str], int]:
    """A device's section with at most ``cap`` lines of its blocks (each at most ``width``
    characters), and how many lines were left out."""
    label = _KIND_LABEL.get(device.kind)
    out = ["", f"#### {label} {code(device.name)}" if label else "#### other resources"]
    budget = cap
    omitted = 0
    bullets = False  # the last block was a list: a list that follows goes on without a gap
    for block in device.blocks:
        lines = block.lines
        if budget is not None:
            if budget <= 0 and lines:
                omitted += len(lines)
                continue
            lines = lines[:budget]
            omitted += len(block.lines) - len(lines)
            budget -= len(lines)
        list_goes_on = bullets and not block.intro and not block.fenced
        if block.intro:
            out += ["", block.intro]
        if lines:
            if block.fenced:
                out += ["", *fence(lines, width=width)]
            else:
                out += [*([] if list_goes_on else [""]), *(visible(line) for line in lines)]
        bullets = bool(lines) and not block.fenced
    return out, omitted
