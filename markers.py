"""Markers: the text form of values a rendered config cannot hold yet, shared by the
renderer (``fabric``) and the providers (``providers``), which import nothing else from
each other.

A rendered config holds ``<KIND:NAME>`` where a value goes that only an apply knows:

* ``secret``: a private key or the API key (never shown: state and previews keep the marker);
* ``public-key``: the WireGuard public key of a key resource, which may not exist before ``up``;
* ``endpoint``: a cloud node's public address, allocated by the cloud during ``up``.

So a preview shows every line that will change, with a marker where such a value goes.
A marker is structure, never text: the renderer records where it put each one (a VyOS
path, a file offset: a *slot*) and a provider fills it in there only, from its inputs.
Marker text anywhere else makes the provider refuse the whole apply, and the model
refuses it in every user value, so no config string can make a provider write a secret
or a peer's key where it chose.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

SECRET = "secret"
PUBLIC_KEY = "public-key"
ENDPOINT = "endpoint"
KINDS = (SECRET, PUBLIC_KEY, ENDPOINT)
#: What each kind's markers start with; no user-written value may contain any of them.
STARTS = tuple(f"<{kind}:" for kind in KINDS)
_MARKER = re.compile(r"<(" + "|".join(map(re.escape, KINDS)) + r"):([a-z0-9][a-z0-9-]*)>")

#: Values by kind, then name: ``{"public-key": {"dc1-r2": "…"}, "secret": {…}}``.
Values = Mapping[str, Mapping[str, str]]
#: Where markers go in a text: (offset, kind, name), in text order.
Slots = tuple[tuple[int, str, str], ...]


class MarkerError(ValueError):
    """A marker where none was placed, or a slot without its value: nothing is filled."""


def marker(kind: str, name: str) -> str:
    if kind not in KINDS or not _MARKER.fullmatch(f"<{kind}:{name}>"):
        raise MarkerError(f"not a marker: kind {kind!r}, name {name!r}")
    return f"<{kind}:{name}>"


def parse(word: str) -> tuple[str, str] | None:
    """``(kind, name)`` when the whole word is one marker, else None."""
    match = _MARKER.fullmatch(word)
    return (match.group(1), match.group(2)) if match else None


def holds_marker_text(text: str) -> bool:
    """Whether any marker's opening text appears in ``text``."""
    return any(start in text for start in STARTS)


def first_marker_text(text: str) -> str | None:
    """The kind of the first marker opening in ``text`` (for messages), or None."""
    return next((kind for kind, start in zip(KINDS, STARTS, strict=True) if start in text), None)


def check_slots(text: str, slots: Slots) -> None:
    """Each slot holds its marker, no two overlap, and no marker text is anywhere else; MarkerError otherwise."""
    end = 0
    for offset, kind, name in sorted(slots):
        if offset < end:
            raise MarkerError(f"slots overlap at offset {offset}")
        end = offset + len(marker(kind, name))
    rest = text
    for offset, kind, name in sorted(slots, reverse=True):
        mark = marker(kind, name)
        if text[offset : offset + len(mark)] != mark:
            raise MarkerError(f"no {kind} marker for {name!r} at offset {offset}")
        rest = rest[:offset] + rest[offset + len(mark) :]
    if holds_marker_text(rest):
        raise MarkerError(f"{first_marker_text(rest)} marker text outside the renderer's slots: refusing to fill any")


def fill(text: str, slots: Slots, values: Values) -> str:
    """The text with each slot's value in, checked by :func:`check_slots` first."""
    check_slots(text, slots)
    for offset, kind, name in sorted(slots, reverse=True):
        value = values.get(kind, {}).get(name)
        if value is None:
            raise MarkerError(f"the text needs the {kind} {name!r}, which was not given")
        text = text[:offset] + value + text[offset + len(marker(kind, name)) :]
    return text


def slots_of(spec: Mapping[str, object]) -> Slots:
    """A host file spec's slots: ``secrets`` (``[offset, name]``, secrets only, as state has
    always held them) and ``late`` (``[offset, kind, name]``, values known after ``up``)."""
    secrets = spec.get("secrets") or ()
    late = spec.get("late") or ()
    if not isinstance(secrets, Sequence) or not isinstance(late, Sequence):
        raise MarkerError("a file's slots are not lists")
    late_slots = tuple((int(o), str(k), str(n)) for o, k, n in late)
    if any(kind == SECRET for _, kind, _ in late_slots):
        raise MarkerError("a secret among a file's late slots")
    return tuple((int(o), SECRET, str(n)) for o, n in secrets) + late_slots
