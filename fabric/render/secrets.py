"""Secrets in rendered config: structure the renderer creates, never text a user can type.

The core never knows a secret's value. Where one goes, the renderer puts a
:class:`SecretRef`; it is shown as the marker ``<secret:NAME>`` in diffs and offline
renders, but what makes it a secret is the structure that travels beside the text:
a VyOS command whose value is a ``SecretRef`` (the provider gets the exact paths), or a
host file's :data:`Slots` (the exact offsets). The providers fill in a secret only
there, and refuse a config where marker text appears anywhere else: a user value
that spells ``<secret:vyos-api-key>`` (the model refuses it already) can never make a
provider write the API key or a private key into a description or a comment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: What every marker starts with; no user-written value may contain it.
MARKER_START = "<secret:"


@dataclass(frozen=True)
class SecretRef:
    """A secret value the provider fills in at apply time."""

    name: str
    #: A syntactically valid stand-in of the real value's length, to check paths and sizes.
    sample: str

    @property
    def marker(self) -> str:
        return f"{MARKER_START}{self.name}>"


WIREGUARD_PRIVATE_KEY = SecretRef("wireguard-private-key", "YE2Nx3tQSEBhOLHKTx1XS6fQGfHU16W5zDdHVo3fR3I=")
API_KEY = SecretRef("vyos-api-key", "fabric-api-key-sample")

#: Where secrets go in a text: (offset of the marker, secret name), in text order.
Slots = tuple[tuple[int, str], ...]


def compose(parts: Sequence[str | SecretRef]) -> tuple[str, Slots]:
    """Text from plain parts and secrets: the text (markers where secrets go) and their slots."""
    text = ""
    slots: list[tuple[int, str]] = []
    for part in parts:
        if isinstance(part, SecretRef):
            slots.append((len(text), part.name))
            text += part.marker
        else:
            text += part
    check_slots(text, tuple(slots))
    return text, tuple(slots)


def check_slots(text: str, slots: Slots) -> None:
    """Each slot holds its marker and no marker text is anywhere else; ValueError otherwise."""
    rest = text
    for offset, name in sorted(slots, reverse=True):
        marker = f"{MARKER_START}{name}>"
        if text[offset : offset + len(marker)] != marker:
            raise ValueError(f"no secret marker for {name!r} at offset {offset}")
        rest = rest[:offset] + rest[offset + len(marker) :]
    if MARKER_START in rest:
        raise ValueError("marker text outside the renderer's secret slots: refusing to fill any secret")


def fill(text: str, slots: Slots, values: Mapping[str, str]) -> str:
    """The text with each slot's secret in, checked by :func:`check_slots` first."""
    check_slots(text, slots)
    for offset, name in sorted(slots, reverse=True):
        if name not in values:
            raise ValueError(f"the text needs the secret {name!r}, which was not given")
        end = offset + len(MARKER_START) + len(name) + 1
        text = text[:offset] + values[name] + text[end:]
    return text
