"""What each kind of config string may hold: one character set per field kind.

Every string a user writes (stack files, peer stack exports) ends up on a device: in a
VyOS ``set`` line, a systemd unit or networkd file, a shell action, ``wg0.conf``,
``frr.conf``, an nftables ruleset or cloud-init YAML. Quoting rules differ in each, so
instead of escaping for eight formats, each field admits only the characters its
kind needs (an allow list, never a deny list), and no kind admits a control character,
a quote that any of those formats interprets, or the marker text the renderer uses
where a secret or a value known after ``up`` goes (``<secret:…>``, ``<public-key:…>``,
``<endpoint:…>``, :mod:`markers`). The messages say what was wrong in the user's terms, with the value
quoted short (:func:`shown`), so a 1 MiB value is never echoed back.

The types here are the only way a string enters the model (``fabric.model``) or a peer
member (``fabric.peers``): a new config key picks one of them, and so is born validated.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BeforeValidator

import markers

#: How many characters of a bad value a message quotes.
SHOWN_CHARS = 60
#: The text the renderer writes where a secret goes; never accepted from a user (nor any other marker).
SECRET_MARKER_TEXT = markers.STARTS[markers.KINDS.index(markers.SECRET)]


def shown(value: object) -> str:
    """A value as messages quote it: ``repr``, cut to :data:`SHOWN_CHARS` with its full length said."""
    text = repr(value)
    if len(text) <= SHOWN_CHARS:
        return text
    size = len(value) if isinstance(value, str | bytes | list | dict) else len(text)
    return f"{text[:SHOWN_CHARS]}… ({size} characters)"


def written(value: object) -> str:
    """A value as the user wrote it in YAML: ``true``, ``null``, ``7``, ``'text'`` (quoted short)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else shown(value)


def kind_of(value: object) -> str:
    """What a value is, in YAML's words (``a number``, ``a boolean``, ``a list``, ``text``)."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, str):
        return "text"
    return "empty" if value is None else f"a {type(value).__name__}"


def _control(text: str) -> str | None:
    """The first control, invisible formatting, unassigned or non-ASCII space character, named
    (``'\\n' (newline)``): what a reader cannot see or tell from a plain space."""
    for ch in text:
        category = unicodedata.category(ch)
        if category in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp") or (category == "Zs" and ch != " "):
            name = {"\n": "newline", "\r": "carriage return", "\x00": "NUL", "\t": "tab"}.get(ch)
            fallback = "unassigned character" if category == "Cn" else "control character"
            kind = "space-like character" if category == "Zs" else "control character"
            return f"the {kind} {ch!r} ({name or unicodedata.name(ch, fallback)})"
    return None


@dataclass(frozen=True)
class Checked(BeforeValidator):
    """A string type's validator, carrying what it admits (property tests generate from ``pattern``)."""

    pattern: str = ""
    max_length: int = 0


def checked(what: str, pattern: str, max_length: int, extra: Callable[[str], str | None] | None = None) -> Checked:
    """The validator of a string type: a str, no control character, no secret marker, at most ``max_length``
    characters, matching ``pattern`` (described to the user as ``what``); ``extra`` may add
    a check of its own (returns a problem or None)."""
    regex = re.compile(pattern)

    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError(f"{written(value)} is {kind_of(value)}, not text ({what})")
        bad = _control(value)
        if bad is not None:
            raise ValueError(f"{shown(value)} holds {bad}; {what}")
        if SECRET_MARKER_TEXT in value:
            raise ValueError(
                f"{shown(value)} holds a secret marker ({SECRET_MARKER_TEXT}…>); secrets are never written "
                "as text: set them with `pulumi config set --secret`"
            )
        kind = markers.first_marker_text(value)
        if kind is not None:
            raise ValueError(
                f"{shown(value)} holds a marker (<{kind}:…>), which only fabric writes, where a value known "
                "after `up` goes"
            )
        if len(value) > max_length:
            raise ValueError(f"{shown(value)} is too long: at most {max_length} characters ({what})")
        if not regex.fullmatch(value):
            raise ValueError(f"{shown(value)} is not {what}")
        problem = extra(value) if extra else None
        if problem:
            raise ValueError(f"{shown(value)} {problem}")
        return value

    return Checked(check, pattern=pattern, max_length=max_length)


def _dns_labels(value: str) -> str | None:
    labels = value.split(".")
    if any(len(label) > 63 for label in labels):
        return "has a label longer than 63 characters (RFC 1123)"
    if labels[-1].isdigit():
        return "ends in a numeric label: a DNS name's last label is never all digits"
    return None


def _path_words(value: str) -> str | None:
    if any(part in (".", "..") for part in value.split("/")):
        return "has a '.' or '..' part; write the path without them"
    return None


def _base64_key(size: int) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return "is not base64"
        return None if len(raw) == size else f"is {len(raw)} bytes, not a {size}-byte key"

    return check


#: OpenSSH key types fabric accepts for pins and logins.
SSH_KEY_TYPES = ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521")
_SSH_TYPE = "(?:" + "|".join(re.escape(t) for t in SSH_KEY_TYPES) + ")"
_B64 = r"[A-Za-z0-9+/]+={0,2}"
_SSH_COMMENT = r"[A-Za-z0-9@._+:=-]{1,100}"


def _ssh_key_blob(value: str) -> str | None:
    """The key's base64 blob starts with its own type name (RFC 4253 string), as OpenSSH writes it."""
    words = value.split(" ")
    index = next(i for i, w in enumerate(words) if w in SSH_KEY_TYPES)
    try:
        blob = base64.b64decode(words[index + 1], validate=True)
    except (binascii.Error, ValueError):
        return "has a key that is not base64"
    name = words[index].encode()
    if blob[4 : 4 + len(name)] != name or int.from_bytes(blob[:4], "big") != len(name):
        return f"has a key blob that is not an {words[index]} key"
    return None


#: A name: site, router, hypervisor, node, tenant part of tags, interface descriptions and resource names.
Name = Annotated[
    str, checked("a name: a lowercase letter, then lowercase letters, digits or '-'", r"[a-z][a-z0-9-]*", 31)
]
#: Tenant names also name the tenant's VRF, which VyOS limits to 15 characters.
TenantName = Annotated[
    str,
    checked(
        "a tenant name: a lowercase letter, then lowercase letters, digits or '-' (at most 15: it names a VRF)",
        r"[a-z][a-z0-9-]*",
        15,
    ),
]
#: Who an egress allow entry is for: a segment (``data``), a VM (``<datacenter>/<vm>``) or a prefix.
SourceRef = Annotated[
    str,
    checked(
        "a source: a segment name, <datacenter>/<vm>, or an IPv4 prefix like 100.65.10.0/28",
        r"[a-z][a-z0-9-]*(?:/[a-z][a-z0-9-]*)?|[0-9]{1,3}(?:\.[0-9]{1,3}){3}/[0-9]{1,2}",
        63,
    ),
]
#: Free text for humans (descriptions): letters, digits, spaces and plain punctuation; no quotes.
Description = Annotated[
    str,
    checked(
        "a description: letters, digits, spaces and . , : / ( ) + = @ # % & * ! ? _ -",
        r"[A-Za-z0-9 .,:/()+=@#%&*!?_-]*",
        200,
    ),
]
#: A DNS name (RFC 1123 labels), lowercase.
DnsName = Annotated[
    str,
    checked(
        "a DNS name: dot-separated labels of lowercase letters, digits and '-', not starting or ending with '-'",
        r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*",
        253,
        _dns_labels,
    ),
]
#: An absolute path on a host (a VM image, a root directory): it goes into unit files and commands.
HostPath = Annotated[
    str,
    checked(
        "an absolute path of letters, digits and . _ + - between '/' (no spaces, '%' or quotes)",
        r"/(?:[A-Za-z0-9._+-]+(?:/[A-Za-z0-9._+-]+)*)?",
        255,
        _path_words,
    ),
]
#: A file on the machine that runs Pulumi (it is read there, never sent as a name).
LocalPath = Annotated[str, checked("a file path without control characters", r"[^\x00-\x1f\x7f]+", 4096)]
#: A physical port name as the kernel names it.
NicName = Annotated[str, checked("a NIC name: a letter, then 1-14 letters or digits", r"[a-zA-Z][a-zA-Z0-9]{1,14}", 15)]
#: A bond's device name.
BondName = Annotated[str, checked("a bond name: bond and 1-3 digits", r"bond[0-9]{1,3}", 7)]
#: An OVS bridge name (also a Linux interface name).
BridgeName = Annotated[
    str, checked("a bridge name: a lowercase letter, then lowercase letters, digits or '-'", r"[a-z][a-z0-9-]*", 15)
]
#: A Linux user name.
UserName = Annotated[
    str,
    checked(
        "a user name: a lowercase letter or '_', then lowercase letters, digits, '_' or '-'", r"[a-z_][a-z0-9_-]*", 32
    ),
]
#: A MAC address, lowercase.
Mac = Annotated[
    str, checked("a MAC address: six lowercase hex pairs joined by ':'", r"(?:[0-9a-f]{2}:){5}[0-9a-f]{2}", 17)
]
#: A VM's memory size.
Memory = Annotated[str, checked("a memory size: digits then M or G (e.g. 4G)", r"[1-9][0-9]{0,5}[MG]", 7)]
#: A Pulumi stack name, short or ``org/project/stack``.
StackName = Annotated[
    str,
    checked(
        "a stack name: letters, digits, '.', '_' or '-', optionally as org/project/stack",
        r"[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+){0,2}",
        300,
    ),
]
#: A cloud region, zone or size (``eu-central-1a``, ``Standard_B2s``, ``e2-small``).
CloudToken = Annotated[
    str,
    checked(
        "a cloud region, zone or size: a letter or digit, then letters, digits, '.', '_' or '-'",
        r"[A-Za-z0-9][A-Za-z0-9._-]*",
        64,
    ),
]
#: A cloud image: an AMI id, an Azure URN or resource id, a GCP image path.
CloudImage = Annotated[
    str,
    checked(
        "a cloud image: letters, digits and . _ : / + - (an AMI id, an Azure URN or image id, a GCP image)",
        r"[A-Za-z0-9/][A-Za-z0-9._:/+-]*",
        512,
    ),
]
#: An OpenSSH public key line for a login: type, key, optional one-word comment.
SshPublicKey = Annotated[
    str,
    checked(
        f"an OpenSSH public key: one of {', '.join(SSH_KEY_TYPES)}, its base64 key, and optionally a "
        "one-word comment of letters, digits and @ . _ + : = -",
        rf"{_SSH_TYPE} {_B64}(?: {_SSH_COMMENT})?",
        16384,
        _ssh_key_blob,
    ),
]


def _host_key_pin(value: str) -> str | None:
    return None if value.startswith("SHA256:") else _ssh_key_blob(value)


#: A pinned SSH host key: a ``SHA256:`` fingerprint, or a known_hosts line (``[hosts] type key [comment]``).
HostKeyPin = Annotated[
    str,
    checked(
        "a host key pin: SHA256:<43 base64 characters> (ssh-keygen -l), or one known_hosts line "
        "(optional host names, a key type, its base64 key, an optional one-word comment)",
        rf"SHA256:[A-Za-z0-9+/]{{43}}=?|(?:[A-Za-z0-9.,:\[\]*-]+ )?{_SSH_TYPE} {_B64}(?: {_SSH_COMMENT})?",
        16384,
        _host_key_pin,
    ),
]
#: A WireGuard public key: base64 of 32 bytes (what peer stacks export).
WireguardKey = Annotated[
    str, checked("a WireGuard key: 44 base64 characters (32 bytes)", r"[A-Za-z0-9+/]{43}=", 44, _base64_key(32))
]
#: A SHA-256 certificate fingerprint, hex pairs with optional ':' and ``sha256:`` prefix.
CertFingerprint = Annotated[
    str,
    checked(
        "a SHA-256 fingerprint: 32 hex pairs, optionally ':'-separated, optionally after sha256:",
        r"(?i:(?:sha256:)?(?:[0-9a-f]{2}:?){31}[0-9a-f]{2})",
        110,
    ),
]
