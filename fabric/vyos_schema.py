"""Offline check of VyOS ``set`` commands against VyOS's own configuration schema.

A rendered router config is only worth deploying if the router will take it, and a
router only says so at commit time, after the rollout has started. This module
answers the same question before anything is deployed: it walks each command through
the configuration-path tree that VyOS builds from its XML interface definitions
(vyos/vyos-1x ``interface-definitions``; the trees ship as gzip files under
``fabric/data/vyos``, see the README there) and applies the value constraints the
router applies (anchored PCRE regexes and the ``validators`` executables, re-created
here from their sources).

It is part of the pure core: no pulumi, no network, no reading of anything outside
this package. It must also be fast (a benchmark validates about a million commands),
so the tree is built once per version, regexes and validators are compiled on first
use, and each distinct constraint remembers its verdict per value.

Validators that can only be answered on the router itself (scripts, files, sysctl
keys, time zones, wireless PHYs, ddclient protocols) are *unchecked*: a value they
govern is accepted, never reported, because we cannot prove it wrong.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import functools
import gzip
import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, NamedTuple

from fabric.vyos_releases import RELEASES

__all__ = ["SUPPORTED_VERSIONS", "Violation", "VyosSchema"]

#: Versions with a bundled tree (:mod:`fabric.vyos_releases`).
SUPPORTED_VERSIONS: tuple[str, ...] = tuple(RELEASES)

_DATA_DIR: Final = Path(__file__).resolve().parent / "data" / "vyos"
_DATA_FILES: Final = {version: r.schema for version, r in RELEASES.items()}

#: A check answers ``None`` when the value passes, else the reason it fails.
_Check = Callable[[str], "str | None"]

#: How many values a constraint remembers before it starts over: bounds memory
#: when a benchmark feeds a million distinct addresses.
_CACHE_LIMIT: Final = 50_000
#: A cache default no verdict can be (verdicts are None or messages built per value).
_MISS: Final = "\x00no verdict yet"
#: How many valid children an "unknown node" message lists before eliding.
_LIST_LIMIT: Final = 15


@dataclass(frozen=True)
class Violation:
    """One rejected command, with a message that names the path where it went wrong."""

    command: tuple[str, ...]
    message: str


# --------------------------------------------------------------------------------------
# Regexes: the schema's are PCRE, matched by VyOS as ``^re$`` (plain concatenation, so a
# top-level alternation is anchored only at its outer ends, exactly as on the router).
# --------------------------------------------------------------------------------------

_POSIX_CLASSES: Final = {
    "alnum": "a-zA-Z0-9",
    "alpha": "a-zA-Z",
    "ascii": "\\x00-\\x7f",
    "blank": " \\t",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "\\x21-\\x7e",
    "lower": "a-z",
    "print": "\\x20-\\x7e",
    "punct": "!-/:-@\\[-`{-~",
    "space": " \\t\\n\\r\\f\\v",
    "upper": "A-Z",
    "word": "a-zA-Z0-9_",
    "xdigit": "0-9A-Fa-f",
}
_POSIX_RE: Final = re.compile(r"\[:(\^?)([a-z]+):\]")


def _translate_regex(pattern: str) -> str:
    """Rewrite PCRE-only syntax for Python's ``re``.

    POSIX bracket classes (``[[:alnum:]]``) do not exist in Python; they become the
    ASCII ranges PCRE gives them. A literal ``[`` or a set-operator look-alike inside a
    class is escaped so Python neither misreads nor warns about it.
    """
    out: list[str] = []
    i = 0
    n = len(pattern)
    in_class = False
    class_start = 0
    while i < n:
        ch = pattern[i]
        if ch == "\\" and i + 1 < n:
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if not in_class:
            if ch == "[":
                in_class = True
                out.append("[")
                i += 1
                if i < n and pattern[i] == "^":
                    out.append("^")
                    i += 1
                if i < n and pattern[i] == "]":  # a leading ']' is literal
                    out.append("\\]")
                    i += 1
                class_start = i
                continue
            out.append(ch)
            i += 1
            continue
        # inside a bracket expression
        if ch == "[":
            m = _POSIX_RE.match(pattern, i)
            if m and m.group(2) in _POSIX_CLASSES and not m.group(1):
                out.append(_POSIX_CLASSES[m.group(2)])
                i = m.end()
                # PCRE reads a '-' right after a class as a literal hyphen.
                if i + 1 < n and pattern[i] == "-" and pattern[i + 1] != "]":
                    out.append("\\-")
                    i += 1
                continue
            out.append("\\[")
            i += 1
            continue
        if ch == "]" and i > class_start:
            in_class = False
            out.append("]")
            i += 1
            continue
        if ch in "&~|":
            out.append("\\" + ch)
            i += 1
            continue
        if ch == "-" and i + 1 < n and pattern[i + 1] == "-":
            # "--" is a Python set-difference look-alike; PCRE reads the first '-'
            # as a range end or a literal. Escaping the second keeps both readings.
            out.append("-\\-")
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


@functools.cache
def _compile_anchored(pattern: str) -> re.Pattern[str]:
    """Compile one schema regex the way the router anchors it."""
    return re.compile("^" + _translate_regex(pattern) + "$", re.ASCII)


def _regex_check(pattern: str) -> _Check:
    """A check for one schema regex; PCRE on the router sees bytes, so do we."""
    compiled = _compile_anchored(pattern)
    search = compiled.search

    def check(value: str) -> str | None:
        if not value.isascii():
            # PCRE without UTF mode matches UTF-8 bytes: '.' eats one byte, and
            # [[:ascii:]] rejects every byte of a non-ASCII character.
            value = value.encode("utf-8", "surrogatepass").decode("latin-1")
        if search(value) is not None:
            return None
        return f"does not match the pattern '{pattern}'"

    return check


# --------------------------------------------------------------------------------------
# Validators (vyos-1x src/validators/*, vyos-utils numeric.ml/url.ml, ipaddrcheck).
# Each factory takes the validator's argument words and returns a check, or None when
# the validator can only be answered on the router (unchecked, so accepted).
# --------------------------------------------------------------------------------------

_Factory = Callable[[list[str]], "_Check | None"]


class _RefusedError(Exception):
    """Carries a validator's refusal message out of nested parsing helpers."""


_DIGITS_RE: Final = re.compile(r"[0-9]+\Z")


def _is_digits(text: str) -> bool:
    """ASCII digits only: Python's int() and str.isdigit() also take '٣' or '1_0'."""
    return _DIGITS_RE.match(text) is not None


# ---- numeric (vyos-utils numeric.ml) -------------------------------------------------

_NUMBER_RE: Final = re.compile(r"-?[0-9]+(\.[0-9]+)?\Z")
_NUMERIC_RANGE_RE: Final = re.compile(r"[0-9]+-[0-9]+\Z")
_RELATIVE_RE: Final = re.compile(r"[+-][0-9]+\Z")

_Number = int | float


def _number_of_string(text: str, allow_float: bool) -> _Number:
    """numeric.ml ``number_of_string``: a decimal, integral unless --float."""
    if _NUMBER_RE.match(text) is None:
        raise _RefusedError(f"'{text}' is not a valid number")
    if "." in text:
        if not allow_float:
            raise _RefusedError(f"'{text}' is not a valid integer number")
        return float(text)
    return int(text)


def _range_of_string(text: str, allow_float: bool) -> tuple[_Number, _Number]:
    """numeric.ml ``range_of_string``: exactly two numbers around one '-'."""
    parts = [p.strip() for p in text.split("-")]
    if len(parts) != 2:
        raise _RefusedError(f"'{text}' is not a valid number range")
    try:
        low = _number_of_string(parts[0], allow_float)
        high = _number_of_string(parts[1], allow_float)
    except _RefusedError as exc:
        raise _RefusedError(f"'{text}' is not a valid number range: {exc}") from None
    return low, high


def _numeric(args: list[str]) -> _Check | None:
    """vyos-utils ``numeric``: numbers or (with --allow-range) 'a-b' ranges."""
    positive = nonnegative = allow_float = relative = allow_range = require_range = False
    ranges: list[str] = []
    not_ranges: list[str] = []
    not_values: list[str] = []
    words = iter(args)
    for word in words:
        if word == "--positive":
            positive = True
        elif word == "--non-negative":
            nonnegative = True
        elif word == "--float":
            allow_float = True
        elif word == "--relative":
            relative = True
        elif word == "--allow-range":
            allow_range = True
        elif word == "--require-range":
            allow_range = require_range = True
        elif word in ("--range", "--not-range", "--not-value"):
            target = {"--range": ranges, "--not-range": not_ranges, "--not-value": not_values}
            target[word].append(next(words, ""))
        elif word == "--":
            break
        else:
            return None  # an option we do not know: do not guess, accept
    try:
        parsed_ranges = [_range_of_string(r, allow_float) for r in ranges]
        parsed_not_ranges = [_range_of_string(r, allow_float) for r in not_ranges]
        parsed_not_values = [_number_of_string(v, allow_float) for v in not_values]
    except _RefusedError:
        return None  # the schema's own arguments are malformed: nothing to hold to

    def within(n: _Number, bounds: list[tuple[_Number, _Number]]) -> bool:
        return any(low <= n <= high for low, high in bounds)

    def check(value: str) -> str | None:
        try:
            is_range = _NUMERIC_RANGE_RE.match(value) is not None
            text = value
            if relative:
                if is_range:
                    raise _RefusedError("increment/decrement does not apply to a range value")
                if _RELATIVE_RE.match(text) is None:
                    raise _RefusedError("Value is not a relative increment/decrement")
                text = text[1:]
            if is_range:
                low, high = _range_of_string(text, allow_float)
                if not allow_range:
                    raise _RefusedError("Value must be a number, not a range")
                if nonnegative:
                    raise _RefusedError("option '--non-negative' does not apply to a range value")
                if positive:
                    raise _RefusedError("option '--positive' does not apply to a range value")
                if parsed_not_values:
                    raise _RefusedError("--not-value cannot be used with ranges")
                if parsed_ranges and not (within(low, parsed_ranges) and within(high, parsed_ranges)):
                    raise _RefusedError("Range is not in any of allowed ranges")
                if parsed_not_ranges and (within(low, parsed_not_ranges) or within(high, parsed_not_ranges)):
                    raise _RefusedError("Range is in one of excluded ranges")
                return None
            number = _number_of_string(text, allow_float)
            if require_range:
                raise _RefusedError("Value must be a range, not a number")
            if nonnegative and number < 0:
                raise _RefusedError("Number should be non-negative.")
            if positive and number <= 0:
                raise _RefusedError("Number should be positive")
            if number in parsed_not_values:
                raise _RefusedError("Value is excluded by --not-value")
            if parsed_ranges and not within(number, parsed_ranges):
                raise _RefusedError("Number is not in any of allowed ranges")
            if parsed_not_ranges and within(number, parsed_not_ranges):
                raise _RefusedError("Number is in one of excluded ranges")
        except _RefusedError as exc:
            return str(exc)
        return None

    return check


def _numeric_exclude(args: list[str]) -> _Check | None:
    """``numeric-exclude``: an optional leading '!' (negation), then ``numeric``."""
    inner = _numeric(args)
    if inner is None:
        return None

    def check(value: str) -> str | None:
        return inner(value.removeprefix("!"))

    return check


# ---- addresses (ipaddrcheck semantics) -----------------------------------------------

_IPV4_RE: Final = re.compile(
    r"([1-9][0-9]{0,2}|0)\.([1-9][0-9]{0,2}|0)\.([1-9][0-9]{0,2}|0)\.([1-9][0-9]{0,2}|0)"
    r"(?:/([1-9][0-9]*|0))?\Z"
)
_IPV6_RE: Final = re.compile(r"([0-9a-fA-F:]+)(?:/([0-9]{1,3}))?\Z")


class _Address(NamedTuple):
    """A parsed address as plain integers: the address validators run a million times,
    and ``ipaddress`` objects cost several microseconds each to build."""

    version: int
    ip: int
    prefixlen: int  # the address width when no prefix length was given
    has_prefix: bool

    @property
    def bits(self) -> int:
        return 32 if self.version == 4 else 128

    @property
    def hostmask(self) -> int:
        return (1 << (self.bits - self.prefixlen)) - 1

    def network_text(self) -> str:
        """The network this address is in, for messages."""
        network_class = ipaddress.IPv4Network if self.version == 4 else ipaddress.IPv6Network
        return str(network_class((self.ip & ~self.hostmask, self.prefixlen)))


@functools.lru_cache(maxsize=65_536)
def _parse_address(text: str) -> _Address | None:
    """Parse like ipaddrcheck's gate: strict dotted quad or hex-and-colons, optional
    ``/len``.

    ipaddrcheck refuses anything not in these shapes before looking further (no
    leading zeros in IPv4 octets, no embedded IPv4 in IPv6, no zone ids, at most one
    '::'), so every address validator starts here.
    """
    m = _IPV4_RE.match(text)
    if m is not None:
        a, b, c, d, plen = m.groups()
        octets = (int(a), int(b), int(c), int(d))
        if max(octets) > 255:
            return None
        ip = (octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]
        if plen is None:
            return _Address(4, ip, 32, False)
        length = int(plen)
        return _Address(4, ip, length, True) if length <= 32 else None
    m = _IPV6_RE.match(text)
    if m is not None:
        address, plen = m.groups()
        try:
            ip = int(ipaddress.IPv6Address(address))
        except ValueError:
            return None
        if plen is None:
            return _Address(6, ip, 128, False)
        length = int(plen)
        return _Address(6, ip, length, True) if length <= 128 else None
    return None


def _is_host(addr: _Address) -> bool:
    """ipaddrcheck's host test: not the network address, unless a point-to-point
    /31 (RFC 3021), a /32 or a /128."""
    if addr.prefixlen >= (31 if addr.version == 4 else 128):
        return True
    return addr.ip & addr.hostmask != 0


def _is_net(addr: _Address) -> bool:
    return addr.ip & addr.hostmask == 0


def _in_ipv4_multicast(addr: _Address) -> bool:
    return addr.ip >> 28 == 0xE


def _in_ipv6_multicast(addr: _Address) -> bool:
    """ff00::/8 holds the address, or the whole prefix when one is given."""
    return addr.ip >> 120 == 0xFF and addr.prefixlen >= 8


def _address_check(
    family: int | None, prefix: bool | None, test: Callable[[_Address], bool] | None, what: str
) -> _Check:
    """Build an ipaddrcheck-style check.

    ``family`` 4/6/None (either), ``prefix`` True (``/len`` required), False (refused)
    or None (optional), then an extra ``test`` on the parsed address.
    """

    def check(value: str) -> str | None:
        addr = _parse_address(value)
        if addr is None or (family is not None and addr.version != family):
            return f"'{value}' is not a valid {what}"
        if prefix is True and not addr.has_prefix:
            return f"'{value}' is not a valid {what}: missing prefix length"
        if prefix is False and addr.has_prefix:
            return f"'{value}' is not a valid {what}: no prefix length allowed"
        if test is not None and not test(addr):
            return f"'{value}' is not a valid {what}"
        return None

    return check


def _refined_check(family: int | None, what: str, ok: Callable[[_Address], bool], problem: str) -> _Check:
    """An address with a prefix length that must also pass ``ok``; ``problem`` says why not."""
    base = _address_check(family, True, None, what)

    def check(value: str) -> str | None:
        found = base(value)
        if found is not None:
            return found
        addr = _parse_address(value)
        if addr is not None and not ok(addr):
            return problem.format(value=value, network=addr.network_text())
        return None

    return check


def _prefix_check(family: int | None, what: str) -> _Check:
    """Network address with a prefix length; says which prefix was probably meant."""
    return _refined_check(family, what, _is_net, "'{value}' has host bits set; the prefix is {network}")


def _host_check(family: int | None, what: str) -> _Check:
    """Address with a prefix length that is not the network address itself."""
    return _refined_check(family, what, _is_host, "'{value}' is a network address, not a host address")


def _range_check(family: int, what: str, same_prefix: int | None = None) -> _Check:
    """ipaddrcheck ``--is-ipv4-range``/``--is-ipv6-range``: 'first-last', first <= last,
    optionally (``--range-prefix-length``) both inside one ``/same_prefix``."""

    def check(value: str) -> str | None:
        parts = value.split("-")
        if len(parts) != 2:
            return f"'{value}' is not a valid {what}: expected first-last"
        first = _parse_address(parts[0])
        last = _parse_address(parts[1])
        if (
            first is None
            or last is None
            or first.has_prefix
            or last.has_prefix
            or first.version != family
            or last.version != family
        ):
            return f"'{value}' is not a valid {what}: both ends must be single addresses"
        if first.ip > last.ip:
            return f"'{value}' is not a valid {what}: its first address is greater than the last"
        if same_prefix is not None:
            shift = first.bits - same_prefix
            if first.ip >> shift != last.ip >> shift:
                return f"'{value}' is not a valid {what}: it exceeds /{same_prefix}"
        return None

    return check


def _ipv4_range_mask(args: list[str]) -> _Check | None:
    """``ipv4-range-mask -m N -r``: an IPv4 range inside one /N."""
    mask: int | None = None
    words = iter(args)
    for word in words:
        if word == "-m":
            mask_text = next(words, "")
            if not _is_digits(mask_text) or int(mask_text) > 32:
                return None
            mask = int(mask_text)
    if mask is None:
        return None
    return _range_check(4, f"IPv4 address range within a /{mask}", mask)


def _exclude(base: _Check) -> _Check:
    """The ``*-exclude`` validators: a mandatory leading '!' (negation), then ``base``."""

    def check(value: str) -> str | None:
        if not value.startswith("!"):
            return f"'{value}' must start with '!'"
        return base(value[1:])

    return check


def _ipv6_link_local(value: str) -> str | None:
    """vyos.validate.is_ipv6_link_local: fe80::/10, prefix and %zone allowed."""
    try:
        iface = ipaddress.ip_interface(value.split("%")[0])
    except ValueError:
        return f"'{value}' is not an IPv6 address"
    if iface.version != 6 or not iface.ip.is_link_local:
        return f"'{value}' is not an IPv6 link-local address"
    return None


def _ipv6_eui64_prefix(value: str) -> str | None:
    """``ipv6-eui64-prefix``: a /64. VyOS only looks at the length; we also want the
    address part to be IPv6, since the router would fail on it at commit."""
    address, _, length = value.partition("/")
    if length != "64":
        return f"'{value}' must be a /64 prefix"
    parsed = _parse_address(address)
    if parsed is None or parsed.version != 6 or parsed.has_prefix:
        return f"'{value}' is not an IPv6 prefix"
    return None


def _ipv6_srv6_segments(value: str) -> str | None:
    """'/'-separated list of IPv6 addresses (SRv6 segment list)."""
    segments = value.split("/")
    if segments and segments[-1] == "":
        segments.pop()  # the shell's IFS splitting drops one trailing separator
    for segment in segments:
        parsed = _parse_address(segment)
        if parsed is None or parsed.has_prefix or parsed.version != 6:
            return f"'{value}' is not a valid IPv6 segment list ('{segment}')"
    return None


# ---- MAC, names, keys ----------------------------------------------------------------

_MAC_RE: Final = re.compile(r"([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}\Z")
_FQDN_RE: Final = re.compile(r"[A-Za-z0-9][-.A-Za-z0-9]*")


def _mac_address(value: str) -> str | None:
    """Colon-separated only: VyOS's pattern refuses the dash and dot notations."""
    if _MAC_RE.match(value) is None:
        return f"'{value}' is not a MAC address (xx:xx:xx:xx:xx:xx)"
    return None


def _fqdn(value: str) -> str | None:
    """vyos-1x ``fqdn``: like the original, only the start is held to the pattern
    (``re.match`` without an end anchor)."""
    if _FQDN_RE.match(value) is None:
        return f"'{value}' is not a valid host name"
    return None


def _base64(value: str) -> str | None:
    """Strict base64 (alphabet and padding): what WireGuard and the PKI need."""
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return f"'{value}' is not valid base64"
    return None


def _psk_secret(value: str) -> str | None:
    """vyos-1x ``psk-secret``: hex, at least 16 bytes."""
    try:
        if len(bytes.fromhex(value)) >= 16:
            return None
    except ValueError:
        pass
    return f"'{value}' is not a valid PSK secret (at least 16 hex-encoded bytes)"


#: The interface-name prefixes vyos-1x ``vrf-name`` refuses (followed by digits, an
#: optional .vlan and vN suffix); a leading digit is refused too.
_VRF_IFACE_RE: Final = re.compile(
    r"(?!(bond|br|dum|eth|lan|eno|ens|enp|enx|gnv|ipoe|l2tp|l2tpeth|vtun|ppp|pppoe"
    r"|peth|tun|vti|vxlan|wg|wlan|wwan|[0-9])[0-9]*(\.[0-9]+)?(v.+)?).*\Z",
    re.ASCII | re.DOTALL,
)


def _vrf_name(value: str) -> str | None:
    """vyos-1x ``vrf-name``: 1-15 characters, not 'lo', not an interface-like name.

    The lookahead is not anchored at its end, so any name *starting* with one of the
    interface prefixes (or a digit) is refused, as on the router.
    """
    if not 1 <= len(value) <= 15:
        return "VRF name must be 1 to 15 characters"
    if value == "lo" or _VRF_IFACE_RE.match(value) is None:
        return f"'{value}' looks like an interface name (or starts with a digit)"
    return None


#: vyos-1x ``vrf.py`` verify(): names the kernel's ``ip vrf`` would misread.
_RESERVED_VRF_NAMES: Final = frozenset(
    {"add", "all", "broadcast", "default", "delete", "dev", "get", "inet", "mtu", "link", "type", "vrf"}
)


def vrf_name_problem(name: str) -> str | None:
    """Why VyOS refuses ``name`` as a ``vrf name`` (its ``vrf-name`` validator, then its reserved
    names), or None: what a tenant name must pass, since it names the tenant's VRF."""
    return _vrf_name(name) or _vrf_not_reserved(name)


def _vrf_not_reserved(value: str) -> str | None:
    """Only for ``vrf name``: other VRF fields may say 'default' (the main table)."""
    if value in _RESERVED_VRF_NAMES:
        return f"VRF name '{value}' is reserved (VyOS refuses it at commit)"
    return None


# ---- BGP -----------------------------------------------------------------------------

_U16: Final = 0xFFFF
_U32: Final = 0xFFFF_FFFF


def _is_plain_ipv4(text: str) -> bool:
    """An IPv4 address without prefix length, the left side of an IP-based RD/RT."""
    parsed = _parse_address(text)
    return parsed is not None and parsed.version == 4 and not parsed.has_prefix


def _rd_rt_ok(text: str) -> bool:
    """One RD/RT as vyos-1x ``bgp-rd-rt`` (``A:B``, A an IPv4 address or a number, B a
    number) held to the field widths FRR enforces: ASN2:NN4, IPv4:NN2, ASN4:NN2."""
    parts = text.split(":")
    if len(parts) != 2 or not _is_digits(parts[1]):
        return False
    left, right = parts[0], int(parts[1])
    if _is_plain_ipv4(left):
        return right <= _U16
    if not _is_digits(left):
        return False
    asn = int(left)
    if asn <= _U16:
        return right <= _U32
    return asn <= _U32 and right <= _U16


def _bgp_rd_rt(args: list[str]) -> _Check | None:
    multi = "--route-target-multi" in args
    """vyos-1x ``bgp-rd-rt``; ``--route-target-multi`` takes several, space-separated."""
    what = "route target" if any(a.startswith("--route-target") for a in args) else "route distinguisher"

    def check(value: str) -> str | None:
        items = value.split(" ") if multi else [value]
        for item in items:
            if not _rd_rt_ok(item):
                return (
                    f"'{item}' is not a valid {what} "
                    "(ASN:NN with a 2-byte ASN, IPv4:NN or 4-byte-ASN:NN with NN <= 65535)"
                )
        return None

    return check


def _bgp_extended_community(value: str) -> str | None:
    parts = value.split(":")
    if len(parts) == 2 and _is_digits(parts[1]):
        right = int(parts[1])
        if _is_plain_ipv4(parts[0]) and right <= _U16:
            return None
        if _is_digits(parts[0]) and int(parts[0]) <= _U16 and right <= _U32:
            return None
    return f"'{value}' is not a valid extended community (ASN:NN or IPv4:NN)"


def _bgp_regular_community(value: str) -> str | None:
    parts = value.split(":")
    if len(parts) == 2 and all(_is_digits(p) and int(p) <= _U16 for p in parts):
        return None
    return f"'{value}' is not a valid community (AA:NN, both 0-65535)"


def _bgp_large_community(value: str) -> str | None:
    parts = value.split(":")
    if len(parts) == 3 and all(_is_digits(p) and int(p) <= _U32 for p in parts):
        return None
    return f"'{value}' is not a valid large community (A:B:C, each 0-4294967295)"


def _bgp_large_community_list(value: str) -> str | None:
    """vyos-1x ``bgp-large-community-list``: 3 fields; the first an IPv4 address or a
    number, the second a number or '*'; the third is a regex and not checked."""
    parts = value.split(":")
    if (
        len(parts) == 3
        and (_is_plain_ipv4(parts[0]) or _is_digits(parts[0]))
        and (_is_digits(parts[1]) or parts[1] == "*")
    ):
        return None
    return f"'{value}' is not a valid large-community-list entry"


def _as_number_list(value: str) -> str | None:
    """Whitespace-separated AS numbers, each 1-4294967294."""
    numbers = value.split()
    if not numbers:
        return "expected at least one AS number"
    for number in numbers:
        if not _is_digits(number) or not 1 <= int(number) <= 4294967294:
            return f"'{number}' is not an AS number (1-4294967294)"
    return None


# ---- ports and protocols -------------------------------------------------------------

_PORT_RANGE_RE: Final = re.compile(r"[0-9]{1,5}-[0-9]{1,5}\Z")

#: Service names of Debian's netbase /etc/services (first column), the list
#: ``port-multi`` consults on the router.
_SERVICE_NAMES: Final = frozenset(
    (
        "acr-nema",
        "afpovertcp",
        "afs3-bos",
        "afs3-callback",
        "afs3-fileserver",
        "afs3-kaserver",
        "afs3-prserver",
        "afs3-rmtsys",
        "afs3-update",
        "afs3-vlserver",
        "afs3-volser",
        "amanda",
        "amandaidx",
        "amidxtape",
        "amqp",
        "amqps",
        "asf-rmcp",
        "asp",
        "auth",
        "babel",
        "bacula-dir",
        "bacula-fd",
        "bacula-sd",
        "bbs",
        "bgp",
        "bgpd",
        "biff",
        "binkp",
        "bootpc",
        "bootps",
        "canna",
        "cfengine",
        "chargen",
        "cisco-sccp",
        "clc-build-daemon",
        "clearcase",
        "cmip-agent",
        "cmip-man",
        "codaauth2",
        "codasrv",
        "codasrv-se",
        "csync2",
        "cvspserver",
        "daap",
        "datametrics",
        "daytime",
        "db-lsp",
        "dcap",
        "dhcpv6-client",
        "dhcpv6-server",
        "dicom",
        "dict",
        "dircproxy",
        "discard",
        "distcc",
        "domain",
        "domain-s",
        "echo",
        "epmap",
        "epmd",
        "exec",
        "f5-globalsite",
        "f5-iquery",
        "fax",
        "fido",
        "finger",
        "font-service",
        "freeciv",
        "fsp",
        "ftp",
        "ftp-data",
        "ftps",
        "ftps-data",
        "gdomap",
        "gds-db",
        "git",
        "gnunet",
        "gnutella-rtr",
        "gnutella-svc",
        "gopher",
        "gpsd",
        "gris",
        "groupwise",
        "gsidcap",
        "gsiftp",
        "gsigatekeeper",
        "hkp",
        "http",
        "http-alt",
        "https",
        "hylafax",
        "iax",
        "icpv2",
        "imap2",
        "imaps",
        "ingreslock",
        "ipp",
        "iprop",
        "ipsec-nat-t",
        "ipx",
        "ircd",
        "ircs-u",
        "isakmp",
        "iscsi-target",
        "isisd",
        "isns",
        "iso-tsap",
        "kamanda",
        "kerberos",
        "kerberos-adm",
        "kerberos-master",
        "kerberos4",
        "kermit",
        "klogin",
        "kpasswd",
        "krb-prop",
        "kshell",
        "l2f",
        "ldap",
        "ldaps",
        "ldp",
        "login",
        "lotusnote",
        "mailq",
        "mdns",
        "microsoft-ds",
        "moira-db",
        "moira-update",
        "moira-ureg",
        "mon",
        "ms-sql-m",
        "ms-sql-s",
        "ms-wbt-server",
        "mtn",
        "munin",
        "mysql",
        "mysql-proxy",
        "nbd",
        "nbp",
        "netbios-dgm",
        "netbios-ns",
        "netbios-ssn",
        "netstat",
        "nfs",
        "nntp",
        "nntps",
        "nqs",
        "nrpe",
        "nsca",
        "ntalk",
        "ntp",
        "ntske",
        "nut",
        "omniorb",
        "openvpn",
        "ospf6d",
        "ospfapi",
        "ospfd",
        "passwd-server",
        "pawserv",
        "pop3",
        "pop3s",
        "poppassd",
        "postgresql",
        "predict",
        "printer",
        "proofd",
        "ptp-event",
        "ptp-general",
        "puppet",
        "qmqp",
        "qmtp",
        "qotd",
        "radius",
        "radius-acct",
        "radmin-port",
        "redis",
        "remctl",
        "ripd",
        "ripngd",
        "rmiregistry",
        "rmtcfg",
        "rootd",
        "route",
        "rpc2portmap",
        "rplay",
        "rsync",
        "rtcm-sc104",
        "rtmp",
        "rtsp",
        "sa-msg-port",
        "saft",
        "sane-port",
        "sge-execd",
        "sge-qmaster",
        "sgi-cad",
        "sgi-cmsd",
        "sgi-crsd",
        "sgi-gcd",
        "shell",
        "sieve",
        "silc",
        "sip",
        "sip-tls",
        "skkserv",
        "smtp",
        "smux",
        "snmp",
        "snmp-trap",
        "snpp",
        "socks",
        "spamd",
        "ssh",
        "submission",
        "submissions",
        "sunrpc",
        "supfiledbg",
        "supfilesrv",
        "suucp",
        "svn",
        "svrloc",
        "syslog",
        "syslog-tls",
        "sysrqd",
        "systat",
        "tacacs",
        "talk",
        "tcpmux",
        "telnet",
        "telnets",
        "tfido",
        "tftp",
        "time",
        "tinc",
        "tproxy",
        "uucp",
        "venus",
        "venus-se",
        "webmin",
        "who",
        "whois",
        "wnn6",
        "x11",
        "x11-1",
        "x11-2",
        "x11-3",
        "x11-4",
        "x11-5",
        "x11-6",
        "x11-7",
        "xdmcp",
        "xinetd",
        "xmms2",
        "xmpp-client",
        "xmpp-server",
        "xtel",
        "xtelw",
        "z3950",
        "zabbix-agent",
        "zabbix-trapper",
        "zebra",
        "zebrasrv",
        "zephyr-clt",
        "zephyr-hm",
        "zephyr-srv",
        "zip",
        "zope",
        "zope-ftp",
        "zserv",
    )
)


def _port_or_range(item: str) -> str | None:
    """One port (1-65535) or 'low-high' range, as vyos-1x ``port-range``.

    The original's ``range(1, 65535)`` also refuses 65535 itself, an off-by-one that
    nothing relies on; 65535 is a valid port, so it is accepted here.
    """
    if _PORT_RANGE_RE.match(item):
        low_text, high_text = item.split("-")
        low, high = int(low_text), int(high_text)
        if not (1 <= low <= 65535 and 1 <= high <= 65535) or low > high:
            return f"'{item}' is not a valid port range"
        return None
    if not _is_digits(item) or not 1 <= int(item) <= 65535:
        return f"'{item}' is not a valid port or port range"
    return None


def _port_range(value: str) -> str | None:
    return _port_or_range(value)


def _port_multi(value: str) -> str | None:
    """Comma-separated ports, port ranges and /etc/services names."""
    for item in value.split(","):
        if _PORT_RANGE_RE.match(item) or _is_digits(item):
            problem = _port_or_range(item)
            if problem is not None:
                return problem
        elif item not in _SERVICE_NAMES:
            return f"'{item}' is not a valid service name"
    return None


#: The protocol names vyos-1x ``ip-protocol`` accepts (its own list).
_IP_PROTOCOL_RE: Final = re.compile(
    r"!?(all|ip|hopopt|icmp|igmp|ggp|ipencap|st|tcp|egp|igp|pup|udp|tcp_udp|hmp|xns-idp"
    r"|rdp|iso-tp4|dccp|xtp|ddp|idpr-cmtp|ipv6|ipv6-route|ipv6-frag|idrp|rsvp|gre|esp|ah"
    r"|skip|ipv6-icmp|icmpv6|ipv6-nonxt|ipv6-opts|rspf|vmtp|eigrp|ospf|ax\.25|ipip"
    r"|etherip|encap|99|pim|ipcomp|vrrp|l2tp|isis|sctp|fc|mobility-header|udplite"
    r"|mpls-in-ip|manet|hip|shim6|wesp|rohc)\Z"
)


def _ip_protocol(value: str) -> str | None:
    """A protocol number 0-255 or name (optionally negated with '!').

    The original matches names only up to a word boundary (so 'tcp-foo' passes);
    nftables would refuse that at commit, so the whole value must be a name here.
    """
    if _is_digits(value) and int(value) <= 255:
        return None
    if _IP_PROTOCOL_RE.match(value):
        return None
    return f"'{value}' is not an IP protocol name or number (0-255)"


# ---- URL (vyos-utils url.ml) ---------------------------------------------------------

_URL_SCHEME_RE: Final = re.compile(r"([a-zA-Z0-9.\-]+):(.*)\Z", re.DOTALL)
_URL_HOST_PATH_RE: Final = re.compile(
    r"//(?:[a-zA-Z0-9\-._~]+(?::[a-zA-Z0-9\-._~]*)?@)?"
    r"([a-zA-Z0-9\-._~]+|\[[a-zA-Z0-9:.]+\])(?::([0-9]+))?(/.*)?\Z",
    re.DOTALL,
)
_URL_HOSTNAME_RE: Final = re.compile(r"[a-zA-Z0-9]+([\-._~][a-zA-Z0-9]+)*\Z")
_URL_IPV4_RE: Final = re.compile(r"(([1-9][0-9]{0,2}|0)\.){3}([1-9][0-9]{0,2}|0)\Z")
_URL_IPV6_RE: Final = re.compile(r"\[([a-z0-9:.]+|[A-Z0-9:.]+)\]\Z")
_HEX_RE: Final = re.compile(r"[0-9a-fA-F]+\Z")

_FILE_TRANSPORT_SCHEMES: Final = ("http", "https", "ftp", "sftp", "scp", "tftp")


def _url_ipv4(host: str) -> bool:
    return _URL_IPV4_RE.match(host) is not None and all(int(octet) < 256 for octet in host.split("."))


def _url_ipv6(bracketed: str) -> bool:
    """url.ml ``is_ipv6_addr``: 3-8 hex groups, or 2-6 of them then an IPv4 address."""
    inner = bracketed[1:-1]
    if ":::" in inner:
        return False

    def groups_ok(groups: list[str]) -> bool:
        return all(_HEX_RE.match(g) and int(g, 16) < 65536 for g in groups if g)

    groups = inner.split(":")
    if 3 <= len(groups) <= 8 and groups_ok(groups):
        return True
    *head, last = groups
    return _url_ipv4(last) and 2 <= len(head) <= 6 and groups_ok(head)


def _url(args: list[str]) -> _Check | None:
    """vyos-utils ``url``: an allowed scheme, then ``//[user@]host[:port][/path]``."""
    schemes: list[str] = []
    words = iter(args)
    for word in words:
        if word == "--scheme":
            schemes.append(next(words, "").lower())
        elif word == "--file-transport":
            schemes.extend(_FILE_TRANSPORT_SCHEMES)

    def check(value: str) -> str | None:
        m = _URL_SCHEME_RE.match(value)
        if m is None:
            return f'"{value}" is not a valid URL'
        scheme, uri = m.group(1).lower(), m.group(2)
        if scheme not in schemes:
            return f'URL scheme "{scheme}:" is not allowed'
        hp = _URL_HOST_PATH_RE.match(uri)
        ok = False
        if hp is not None:
            host, port = hp.group(1), hp.group(2) or ""
            if not port or (_is_digits(port) and 0 < int(port) < 65536):
                if _URL_IPV6_RE.match(host):
                    ok = _url_ipv6(host)
                elif _URL_IPV4_RE.match(host):
                    ok = _url_ipv4(host)
                else:
                    ok = _URL_HOSTNAME_RE.match(host) is not None
        if not ok:
            return f'"{uri}" is not a valid URI for the {scheme} URL scheme'
        return None

    return check


# ---- validators that need the router -------------------------------------------------

#: Linux IFNAMSIZ: an interface name has at most 15 bytes and no '/' or whitespace.
_IFNAME_RE: Final = re.compile(r"[^/\s]{1,15}\Z")


def _file_path(args: list[str]) -> _Check | None:
    """``file-path``: the file must exist on the router, so this is unchecked, except
    for ``--lookup-path /sys/class/net``: there the value names a network interface,
    and a name the kernel could never give an interface is certainly wrong."""
    if "--lookup-path" in args and "/sys/class/net" in args:

        def check(value: str) -> str | None:
            if value in (".", "..") or _IFNAME_RE.match(value) is None:
                return f"'{value}' cannot be a network interface name"
            return None

        return check
    return None


def _unchecked(_args: list[str]) -> _Check | None:
    return None


def _simple(check: _Check) -> _Factory:
    return lambda _args: check


def _fixed(factory: Callable[[], _Check]) -> _Factory:
    return lambda _args: factory()


#: Every validator name in the bundled trees (``stats.validators_used``).
_VALIDATORS: Final[dict[str, _Factory]] = {
    "numeric": _numeric,
    "numeric-exclude": _numeric_exclude,
    "ipv4-address": _fixed(lambda: _address_check(4, False, None, "IPv4 address")),
    "ipv6-address": _fixed(lambda: _address_check(6, False, None, "IPv6 address")),
    "ip-address": _fixed(lambda: _address_check(None, False, None, "IP address")),
    "ipv4-prefix": _fixed(lambda: _prefix_check(4, "IPv4 prefix")),
    "ipv6-prefix": _fixed(lambda: _prefix_check(6, "IPv6 prefix")),
    "ip-prefix": _fixed(lambda: _prefix_check(None, "IP prefix")),
    "ipv4-host": _fixed(lambda: _host_check(4, "IPv4 host address with prefix length")),
    "ipv6-host": _fixed(lambda: _host_check(6, "IPv6 host address with prefix length")),
    "ip-host": _fixed(lambda: _host_check(None, "IP host address with prefix length")),
    "ip-cidr": _fixed(lambda: _address_check(None, True, None, "IP address with prefix length")),
    "ipv4": _fixed(lambda: _address_check(4, None, None, "IPv4 address or prefix")),
    "ipv6": _fixed(lambda: _address_check(6, None, None, "IPv6 address or prefix")),
    "ipv4-address-exclude": _fixed(lambda: _exclude(_address_check(4, False, None, "IPv4 address"))),
    "ipv6-address-exclude": _fixed(lambda: _exclude(_address_check(6, False, None, "IPv6 address"))),
    "ipv4-prefix-exclude": _fixed(lambda: _exclude(_prefix_check(4, "IPv4 prefix"))),
    "ipv6-prefix-exclude": _fixed(lambda: _exclude(_prefix_check(6, "IPv6 prefix"))),
    "ipv6-exclude": _fixed(lambda: _exclude(_address_check(6, None, None, "IPv6 address or prefix"))),
    "ipv4-range": _fixed(lambda: _range_check(4, "IPv4 address range")),
    "ipv6-range": _fixed(lambda: _range_check(6, "IPv6 address range")),
    "ipv4-range-exclude": _fixed(lambda: _exclude(_range_check(4, "IPv4 address range"))),
    "ipv6-range-exclude": _fixed(lambda: _exclude(_range_check(6, "IPv6 address range"))),
    "ipv4-range-mask": _ipv4_range_mask,
    "ipv4-multicast": _fixed(lambda: _address_check(4, False, _in_ipv4_multicast, "IPv4 multicast address")),
    "ipv6-multicast": _fixed(lambda: _address_check(6, None, _in_ipv6_multicast, "IPv6 multicast address")),
    "ipv6-link-local": _simple(_ipv6_link_local),
    "ipv6-eui64-prefix": _simple(_ipv6_eui64_prefix),
    "ipv6-srv6-segments": _simple(_ipv6_srv6_segments),
    "mac-address": _simple(_mac_address),
    "mac-address-exclude": _fixed(lambda: _exclude(_mac_address)),
    "fqdn": _simple(_fqdn),
    "base64": _simple(_base64),
    "psk-secret": _simple(_psk_secret),
    "vrf-name": _simple(_vrf_name),
    "bgp-rd-rt": _bgp_rd_rt,
    "bgp-extended-community": _simple(_bgp_extended_community),
    "bgp-regular-community": _simple(_bgp_regular_community),
    "bgp-large-community": _simple(_bgp_large_community),
    "bgp-large-community-list": _simple(_bgp_large_community_list),
    "as-number-list": _simple(_as_number_list),
    "port-range": _simple(_port_range),
    "port-range-exclude": _fixed(lambda: _exclude(_port_range)),
    "port-multi": _simple(_port_multi),
    "ip-protocol": _simple(_ip_protocol),
    "url": _url,
    # Need the router: its files, scripts, kernel, tz database or installed tools.
    "file-path": _file_path,
    "script": _unchecked,
    "sysctl": _unchecked,
    "timezone": _unchecked,
    "wireless-phy": _unchecked,
    "ddclient-protocol": _unchecked,
}

#: Validators accepted without looking at the value, and why.
_UNCHECKED_VALIDATORS: Final[dict[str, str]] = {
    "file-path": "the file or directory must exist on the router (interface names under "
    "--lookup-path /sys/class/net are only checked for being possible names)",
    "script": "runs a script that exists only on the router",
    "sysctl": "the key must exist in the router's kernel",
    "timezone": "the router's tz database decides",
    "wireless-phy": "the PHY must exist on the router",
    "ddclient-protocol": "asks the ddclient installed on the router",
}


@functools.cache
def _validator(spec: tuple[str, ...]) -> _Check | None:
    """The check for one schema ``val`` entry (name, optional argument string).

    The name itself may carry arguments ("url --file-transport"). Unknown validators
    are unchecked rather than fatal, so a newer tree still loads.
    """
    words = " ".join(spec).split()
    factory = _VALIDATORS.get(words[0]) if words else None
    if factory is None:
        return None
    return factory(words[1:])


def _validator_check(name: str, argument: str = "") -> Callable[[str], str | None] | None:
    """The check VyOS's validator ``name`` with ``argument`` applies (None: unchecked).

    Exposed for tests and for callers that want a single validator's verdict.
    """
    return _validator((name, argument) if argument else (name,))


# --------------------------------------------------------------------------------------
# Constraints and nodes
# --------------------------------------------------------------------------------------


class _Constraint:
    """One node's value rule: alternatives OR-ed, checks inside an alternative AND-ed.

    Shared by every node with the same rule, so its verdict cache is shared too.
    """

    __slots__ = ("_alternatives", "_cache", "_em", "_extra", "regex_alternative")

    def __init__(self, spec: dict[str, Any], extra: _Check | None) -> None:
        alternatives: list[list[tuple[str, _Check | None]]] = []
        for pattern in spec.get("re", ()):
            alternatives.append([(f"regex '{pattern}'", _regex_check(pattern))])
        for entry in spec.get("val", ()):
            alternatives.append([(" ".join(entry), _validator(tuple(entry)))])
        for group in spec.get("grp", ()):
            checks: list[tuple[str, _Check | None]] = []
            for pattern in group.get("re", ()):
                checks.append((f"regex '{pattern}'", _regex_check(pattern)))
            for entry in group.get("val", ()):
                checks.append((" ".join(entry), _validator(tuple(entry))))
            alternatives.append(checks)
        self._alternatives = alternatives
        self._em: str | None = spec.get("em")
        self._cache: dict[str, str | None] = {}
        #: Regex-only alternatives, for telling literal forms from references.
        self.regex_alternative: _Check | None = None
        patterns = spec.get("re", ())
        if patterns and spec.get("val"):
            regex_checks = [_regex_check(p) for p in patterns]
            self.regex_alternative = lambda v: None if any(c(v) is None for c in regex_checks) else "no regex matches"
        self._extra = extra

    def _evaluate(self, value: str) -> str | None:
        reasons: list[str] = []
        for checks in self._alternatives:
            for description, check in checks:
                if check is None:
                    continue  # unchecked: cannot fail
                problem = check(value)
                if problem is not None:
                    reasons.append(problem if description.startswith("regex") else f"{description}: {problem}")
                    break
            else:
                return None if self._extra is None else self._extra(value)
        if self._em:
            return self._em
        return "; or ".join(reasons) if reasons else "invalid"

    def __call__(self, value: str) -> str | None:
        cache = self._cache
        verdict = cache.get(value, _MISS)
        if verdict is _MISS:
            verdict = self._evaluate(value)
            if len(cache) >= _CACHE_LIMIT:
                cache.clear()
            cache[value] = verdict
        return verdict


_TAG: Final = "t"
_LEAF: Final = "l"

_CONSTRAINT_KEYS: Final = ("re", "val", "grp")
_COMP_WORDS_RE: Final = re.compile(r"\$\{COMP_WORDS\[@\]:1:\$\{#COMP_WORDS\[@\]\}-\d+\}\s*(.*)")


class _Node:
    """A schema node; its value check is compiled on first use."""

    __slots__ = (
        "_schema",
        "_spec",
        "check",
        "children",
        "cp",
        "cp_relative",
        "default",
        "en",
        "kind",
        "multi",
        "name",
        "path",
        "track",
        "valueless",
    )

    def __init__(self, schema: VyosSchema, name: str, path: tuple[str, ...], raw: dict[str, Any]) -> None:
        self.kind: str = raw["k"]
        self.name = name
        self.path = path
        self.valueless: bool = bool(raw.get("vl"))
        self.multi: bool = bool(raw.get("m"))
        self.children: dict[str, _Node] = {
            child: _Node(schema, child, (*path, child), sub) for child, sub in raw.get("c", {}).items()
        }
        self._schema = schema
        has_rule = any(key in raw for key in _CONSTRAINT_KEYS) or path == ("vrf", "name")
        self._spec: dict[str, Any] = {k: raw[k] for k in (*_CONSTRAINT_KEYS, "em") if k in raw}
        #: The value check, or None when the node accepts any value.
        self.check: _Check | None = self._first_check if has_rule else None
        absolute: list[tuple[str, ...]] = []
        relative: list[tuple[str, ...]] = []
        for entry in raw.get("cp", ()):
            m = _COMP_WORDS_RE.match(entry)
            if m:
                relative.append(tuple(m.group(1).split()))
            else:
                absolute.append(tuple(entry.split()))
        #: ``cp`` paths, and those given as "${COMP_WORDS...} suffix": the suffix, to be
        #: found under the nearest enclosing node that has it (see check_all).
        self.cp: tuple[tuple[str, ...], ...] = tuple(absolute)
        self.cp_relative: tuple[tuple[str, ...], ...] = tuple(relative)
        self.en: frozenset[str] = frozenset(raw.get("en", ()))
        self.default: str | None = raw.get("d")
        #: Whether ``check_all`` must see this node's values (set by the schema).
        self.track = False

    def constraint(self) -> _Constraint | None:
        """The compiled rule (None when any value goes), compiled on first use: most of
        the ~5000 rules are never needed by a given config."""
        check = self.check
        if check is None or isinstance(check, _Constraint):
            return check
        constraint = self._schema._constraint(self._spec, self.path)
        self.check = constraint
        return constraint

    def _first_check(self, value: str) -> str | None:
        constraint = self.constraint()
        return None if constraint is None else constraint(value)


def _describe(path: Sequence[str]) -> str:
    """A path as the user would type it after ``set``, for messages."""
    return " ".join(path) if path else "(top level)"


def _list_children(children: dict[str, _Node]) -> str:
    """Valid next words for a message, elided: some nodes have over a hundred."""
    names = sorted(children)
    if len(names) <= _LIST_LIMIT:
        return ", ".join(names)
    return ", ".join(names[:_LIST_LIMIT]) + f", ... ({len(names) - _LIST_LIMIT} more)"


class VyosSchema:
    """The configuration tree of one VyOS line, and checks of ``set`` commands on it."""

    version: str

    def __init__(self, version: str, tree: dict[str, Any]) -> None:
        """Build from a parsed tree; use :meth:`load` for the bundled ones."""
        self.version = version
        self._constraints: dict[str, _Constraint] = {}
        self._root: dict[str, _Node] = {name: _Node(self, name, (name,), tree[name]) for name in sorted(tree)}
        self._hint_cache: dict[tuple[int, str], str] = {}
        self._mark_tracked()

    def _mark_tracked(self) -> None:
        """Flag the nodes whose values ``check_all`` needs, so that it records nothing
        else: single-value leaves (set twice?), nodes with references, and the tag
        nodes references can point at."""
        suffix_names: set[str] = set()

        def visit(node: _Node, enclosing_tags: tuple[_Node, ...]) -> None:
            if node.kind == _LEAF and not node.valueless and not node.multi:
                node.track = True
            if node.cp or node.cp_relative:
                node.track = True
                for path in node.cp:
                    target = self._schema_node(path)
                    if target is not None:
                        target.track = True
                for suffix in node.cp_relative:
                    if suffix:
                        suffix_names.add(suffix[-1])
                    else:
                        for tag in enclosing_tags:
                            tag.track = True
            inner = (*enclosing_tags, node) if node.kind == _TAG else enclosing_tags
            for child in node.children.values():
                visit(child, inner)

        def mark_named(node: _Node) -> None:
            if node.kind == _TAG and node.name in suffix_names:
                node.track = True
            for child in node.children.values():
                mark_named(child)

        for top in self._root.values():
            visit(top, ())
        for top in self._root.values():
            mark_named(top)

    def _schema_node(self, names: Sequence[str]) -> _Node | None:
        """The node at a path of node names only (no tag values), as ``cp`` gives it."""
        children = self._root
        node: _Node | None = None
        for name in names:
            node = children.get(name)
            if node is None:
                return None
            children = node.children
        return node

    @classmethod
    def load(cls, version: str) -> VyosSchema:
        """The bundled schema for ``version`` (one of :data:`SUPPORTED_VERSIONS`),
        parsed once per process."""
        return _load(version)

    # ---- constraint compilation -----------------------------------------------------

    def _constraint(self, spec: dict[str, Any], path: tuple[str, ...]) -> _Constraint:
        """One shared constraint per distinct rule, so that nodes with the same rule
        (hundreds take 'numeric --range 1-65535') share one verdict cache."""
        extra = _vrf_not_reserved if path == ("vrf", "name") else None
        key = json.dumps(spec, sort_keys=True) + ("|vrf" if extra else "")
        constraint = self._constraints.get(key)
        if constraint is None:
            constraint = _Constraint(spec, extra)
            self._constraints[key] = constraint
        return constraint

    # ---- single commands --------------------------------------------------------------

    def check(self, command: Sequence[str]) -> str | None:
        """Why the router would refuse ``set <command>``, or None if it would take it."""
        return self._walk(command, None)

    def _walk(self, cmd: Sequence[str], record: list[tuple[_Node, int, str]] | None) -> str | None:
        """Walk one command; with ``record``, append (node, value index, value) for each
        tracked tag or leaf passed. The hot path of the benchmark: keep it lean."""
        n = len(cmd)
        if n == 0:
            return "empty command"
        children = self._root
        i = 0
        while i < n:
            token = cmd[i]
            node = children.get(token)
            if node is None:
                return self._unknown(cmd, i, children)
            i += 1
            kind = node.kind
            if kind == _LEAF:
                if node.valueless:
                    if i < n:
                        return f"{_describe(cmd[:i])}: takes no value, got {' '.join(repr(t) for t in cmd[i:])}"
                    return None
                if i == n:
                    return f"{_describe(cmd[:i])}: missing value"
                if i + 1 < n:
                    return (
                        f"{_describe(cmd[: i + 1])}: unexpected "
                        f"{' '.join(repr(t) for t in cmd[i + 1 :])} after the value"
                    )
                value = cmd[i]
                check = node.check
                if check is not None:
                    problem = check(value)
                    if problem is not None:
                        return f"{_describe(cmd[:i])}: value '{value}' is invalid: {problem}"
                if record is not None and node.track:
                    record.append((node, i, value))
                return None
            if kind == _TAG:
                if i == n:
                    where = _describe(cmd[:i])
                    return f"{where}: missing the tag value after '{node.name}' (expected '{where} <value> ...')"
                value = cmd[i]
                check = node.check
                if check is not None:
                    problem = check(value)
                    if problem is not None:
                        return f"{_describe(cmd[:i])}: tag value '{value}' is invalid: {problem}"
                if record is not None and node.track:
                    record.append((node, i, value))
                i += 1
            children = node.children
        return None

    def _unknown(self, cmd: Sequence[str], i: int, children: dict[str, _Node]) -> str:
        token = cmd[i]
        where = _describe(cmd[:i])
        if not children:
            return f"{where}: no '{token}' here; this node has no children"
        hint = self._hint(children, token)
        if i == 0 and token == "set":
            hint = " (pass the path without the leading 'set')"
        return f"{where}: no '{token}' here{hint}; expected one of: {_list_children(children)}"

    def _hint(self, children: dict[str, _Node], token: str) -> str:
        """Where ``token`` lives a few levels further down, or a close spelling."""
        key = (id(children), token)
        cached = self._hint_cache.get(key)
        if cached is not None:
            return cached
        found: list[str] = []
        queue: list[tuple[tuple[str, ...], dict[str, _Node]]] = [((), children)]
        for _depth in range(3):
            next_queue: list[tuple[tuple[str, ...], dict[str, _Node]]] = []
            for prefix, level in queue:
                for name, child in sorted(level.items()):
                    step = (*prefix, name) + (("<" + name + ">",) if child.kind == _TAG else ())
                    if prefix and name == token:
                        found.append(" ".join((*prefix, name)))
                    next_queue.append((step, child.children))
            if found:
                break
            queue = next_queue
        if found:
            hint = " (did you mean " + " or ".join(f"'{f}'" for f in found[:3]) + "?)"
        else:
            close = difflib.get_close_matches(token, list(children), n=3, cutoff=0.6)
            hint = (" (did you mean " + " or ".join(f"'{c}'" for c in close) + "?)") if close else ""
        if len(self._hint_cache) < 10_000:
            self._hint_cache[key] = hint
        return hint

    # ---- command sets -----------------------------------------------------------------

    def check_all(self, commands: Iterable[Sequence[str]]) -> list[Violation]:
        """Check each command, then what only the whole set shows: references (``cp``)
        to config nodes that no command creates, and single-value leaves set twice to
        different values. No defaults are assumed to exist."""
        violations: list[Violation] = []
        references: list[tuple[tuple[str, ...], _Node, int, str]] = []
        existing: dict[tuple[str, ...], set[str]] = {}
        first_value: dict[tuple[str, ...], str] = {}
        walk = self._walk
        for raw in commands:
            cmd = raw if type(raw) is tuple else tuple(raw)
            record: list[tuple[_Node, int, str]] = []
            problem = walk(cmd, record)
            if problem is not None:
                violations.append(Violation(cmd, problem))
                continue
            for node, i, value in record:
                key = cmd[:i]
                if node.kind == _TAG:
                    values = existing.get(key)
                    if values is None:
                        existing[key] = {value}
                    else:
                        values.add(value)
                elif not node.multi:
                    earlier = first_value.setdefault(key, value)
                    if earlier != value:
                        violations.append(
                            Violation(
                                cmd,
                                f"{_describe(key)}: set to '{value}' but already set to "
                                f"'{earlier}'; it takes a single value",
                            )
                        )
                if node.cp or node.cp_relative:
                    references.append((cmd, node, i, value))
        for cmd, node, i, value in references:
            problem = self._reference_problem(node, cmd, i, value, existing)
            if problem is not None:
                violations.append(Violation(cmd, problem))
        return violations

    def _reference_problem(
        self,
        node: _Node,
        cmd: tuple[str, ...],
        i: int,
        value: str,
        existing: dict[tuple[str, ...], set[str]],
    ) -> str | None:
        """A ``cp`` value must name a config node that exists, unless it is one of the
        node's literal forms: a completion value, the default, or (when the node also
        takes validator forms) a value its regexes accept, like an interface name in
        a field that takes an interface or a VRF."""
        if value in node.en or value == node.default:
            return None
        constraint = node.constraint()
        literal = constraint.regex_alternative if constraint is not None else None
        if literal is not None and literal(value) is None:
            return None
        targets: list[tuple[str, ...]] = []
        for path in node.cp:
            if self._resolve(path) is not None:
                targets.append(path)
        for suffix in node.cp_relative:
            for j in range(i - 1, 0, -1):
                candidate = (*cmd[:j], *suffix)
                if self._resolve(candidate) is not None:
                    targets.append(candidate)
                    break
        if not targets:
            return None  # the schema points nowhere we know: nothing to hold to
        if any(value in existing.get(target, ()) for target in targets):
            return None
        wanted = " or ".join(f"'{' '.join(t)} {value}'" for t in targets)
        return f"{_describe(cmd[:i])}: '{value}' refers to {wanted}, which no command in this set creates"

    def _resolve(self, path: Sequence[str]) -> _Node | None:
        """The tag node that ``path`` (with concrete tag values) names, if any."""
        children = self._root
        node: _Node | None = None
        i = 0
        n = len(path)
        while i < n:
            node = children.get(path[i])
            if node is None:
                return None
            i += 1
            if node.kind == _LEAF:
                return None
            if node.kind == _TAG:
                if i == n:
                    return node
                i += 1
                if i == n:
                    return None  # ends on a tag value, not on a tag node
            children = node.children
        return None


@functools.cache
def _load(version: str) -> VyosSchema:
    file_name = _DATA_FILES.get(version)
    if file_name is None:
        known = ", ".join(SUPPORTED_VERSIONS)
        raise ValueError(f"unknown VyOS version {version!r}; known versions: {known}")
    with gzip.open(_DATA_DIR / file_name, "rb") as handle:
        document = json.loads(handle.read())
    return VyosSchema(version, document["tree"])
