"""Values the core does not know, as structure: secrets, and values known only after ``up``.

Where one goes, the renderer puts a :class:`Deferred`: a secret (the WireGuard private
key, the API key), a member's WireGuard public key (its key resource may be created by
the same ``up``) or a cloud node's public address (allocated by the cloud during ``up``).
Texts show it as its marker (``<secret:vyos-api-key>``, ``<public-key:dc1-r3>``, see
:mod:`markers`), so an offline render and a preview show every line exactly, and the
structure that travels beside the text (a VyOS command's value, a host file's slots)
tells the provider where to fill it in; marker text anywhere else is refused.

Every deferred value has a ``sample``: a syntactically valid stand-in (a key of the right
length, an address) that schema checks and size limits use in its place.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import markers
from markers import ENDPOINT, PUBLIC_KEY, SECRET, Slots


@dataclass(frozen=True, order=True)
class Deferred:
    """A value an apply fills in: ``kind`` (:data:`markers.KINDS`) and ``name``."""

    kind: str
    name: str
    #: A syntactically valid stand-in of the real value, to check paths and sizes.
    sample: str = field(compare=False)

    @property
    def marker(self) -> str:
        return markers.marker(self.kind, self.name)

    @property
    def secret(self) -> bool:
        return self.kind == SECRET

    def __str__(self) -> str:
        return self.marker


WIREGUARD_PRIVATE_KEY = Deferred(SECRET, "wireguard-private-key", "YE2Nx3tQSEBhOLHKTx1XS6fQGfHU16W5zDdHVo3fR3I=")
API_KEY = Deferred(SECRET, "vyos-api-key", "fabric-api-key-sample")


def public_key(member: str) -> Deferred:
    """The WireGuard public key of a member of this stack; its sample is a stable stand-in
    (not a key anyone holds the private half of)."""
    digest = hashlib.sha256(f"fabric placeholder key {member}".encode()).digest()
    return Deferred(PUBLIC_KEY, member, base64.b64encode(digest).decode())


def endpoint(member: str) -> Deferred:
    """A cloud node's public address; its sample is an address of the benchmarking block
    198.18.0.0/15 (RFC 2544), distinct per member so sets of samples stay sets."""
    n = int.from_bytes(hashlib.sha256(f"fabric placeholder endpoint {member}".encode()).digest()[:2]) % 65024 + 256
    return Deferred(ENDPOINT, member, f"198.18.{n >> 8}.{n & 255}")


def compose(parts: Sequence[str | Deferred]) -> tuple[str, Slots]:
    """Text from plain parts and deferred values: the text (markers where they go) and its slots."""
    text = ""
    slots: list[tuple[int, str, str]] = []
    for part in parts:
        if isinstance(part, Deferred):
            slots.append((len(text), part.kind, part.name))
            text += part.marker
        else:
            text += part
    markers.check_slots(text, tuple(slots))
    return text, tuple(slots)


def of(kind: str, name: str) -> Deferred:
    """The deferred value a marker stands for (a secret: one the renderer knows)."""
    if kind == PUBLIC_KEY:
        return public_key(name)
    if kind == ENDPOINT:
        return endpoint(name)
    found = [s for s in (WIREGUARD_PRIVATE_KEY, API_KEY) if kind == SECRET and s.name == name]
    if not found:
        raise markers.MarkerError(f"no deferred value {kind}:{name}")
    return found[0]


def sample_values(items: Iterable[str | Deferred]) -> markers.Values:
    """The samples of the deferred ``items``, by kind and name (plain text is skipped)."""
    values: dict[str, dict[str, str]] = {}
    for item in items:
        if isinstance(item, Deferred):
            values.setdefault(item.kind, {})[item.name] = item.sample
    return values


def samples(slots: Slots) -> markers.Values:
    """Every slot's sample, by kind and name: to check a text as a device would read it."""
    return sample_values(of(kind, name) for _, kind, name in slots)


def resolve(value: str | Deferred, values: markers.Values) -> str:
    """A plan value as text: itself, or the value an apply gave its deferred stand-in."""
    if not isinstance(value, Deferred):
        return value
    known = values.get(value.kind, {}).get(value.name)
    if known is None:
        raise markers.MarkerError(f"no {value.kind} value for {value.name!r}")
    return known
