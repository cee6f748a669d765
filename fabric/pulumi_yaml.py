"""Read Pulumi's stack and project files exactly as the Pulumi CLI (3.163) does.

``python -m fabric validate`` must refuse exactly what ``pulumi up`` refuses, so the
offline reader must see the values the program sees. The CLI parses with Go's
``gopkg.in/yaml.v3`` and hands each config value to the program as text: scalars in
Go's formatting, structured values as JSON. Observed with the CLI (the test
``tests/engine/test_pulumi_yaml.py`` compares both on the same files) and in yaml.v3's
``resolve.go``:

* only ``true``/``True``/``TRUE`` and ``false`` forms are booleans (``yes``, ``on`` stay text);
  ``~``, ``null``, ``Null``, ``NULL`` and an empty value are null (given as ``""``);
* an integer is read by Go's ``ParseInt`` with base prefixes after removing ``_``: ``0x10``
  is 16, ``0o17`` 15, ``0b101`` 5, and a leading zero is octal (``0100`` is 64, as in YAML
  1.1); what is not an integer but looks like a float is a float (``08`` is 8, ``1e3``
  1000), and a float is written as Go writes it (``1.0`` becomes ``1``);
* a quoted or block scalar, or one tagged ``!!str``, is text as written; other tags are
  honoured (``!!int "42"``) or, when unknown (``!secret x``), ignored;
* a key written twice in one mapping is an error (``mapping key "x" already defined``);
  anchors, aliases and ``<<`` merges work, explicit keys winning over merged ones;
* only the first document of a file is read;
* a dated scalar (``2024-01-02``) becomes Go's time text (``2024-01-02 00:00:00 +0000 UTC``);
  ``.inf`` and ``.nan`` are refused (JSON has no such numbers).

Values are returned as Pulumi gives them to a program: ``{"fabric:asn": "65000",
"fabric:sites": "[{...}]"}``; :func:`fabric.loader.raw_from_config` then decodes them,
in both paths alike.
"""

from __future__ import annotations

import base64
import json
import math
import re
from pathlib import Path
from typing import Any

import yaml

from fabric.errors import ConfigError

#: The tag our resolver gives every plain (unquoted, untagged) scalar: resolved by Go's rules.
_PLAIN = "tag:fabric,plain"
_NULLS = {"", "~", "null", "Null", "NULL"}
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_SPECIAL_FLOATS = {".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF"}
_YAML_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_GO_INT = re.compile(r"[-+]?(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)")
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_INT64 = 2**63


class _Loader(yaml.SafeLoader):
    """Composes nodes only; every plain scalar is tagged :data:`_PLAIN` for Go's resolution."""


_Loader.yaml_implicit_resolvers = {}
_Loader.add_implicit_resolver(_PLAIN, re.compile(r"(?s).*"), None)


class YamlError(ValueError):
    """The file is not what the CLI would read; the message says where."""


def _leading_zero(digits: str) -> bool:
    """``0100``: Go's ParseInt reads digits after a leading zero as octal."""
    return len(digits) > 1 and digits[0] == "0" and digits[1].isdigit()


def _go_int(text: str) -> int | None:
    plain = text.replace("_", "")
    if not _GO_INT.fullmatch(plain):
        return None
    sign = -1 if plain.startswith("-") else 1
    digits = plain.lstrip("+-")
    if len(digits) > 1 and digits[0] == "0" and digits[1] in "xXoObB":
        value = int(digits[2:], {"x": 16, "o": 8, "b": 2}[digits[1].lower()])
    elif _leading_zero(digits):
        value = int(digits, 8)
    else:
        value = int(digits)
    value *= sign
    # ParseInt, then ParseUint: beyond both, Go falls back to a float.
    return value if -_INT64 <= value < 2**64 else None


def _plain(text: str) -> Any:
    """A plain scalar as yaml.v3 resolves it."""
    if text in _NULLS:
        return None
    if text in _BOOLS:
        return _BOOLS[text]
    if text in _SPECIAL_FLOATS:
        raise YamlError(f"{text!r}: Pulumi cannot store infinities or NaN in config")
    if not text or text[0] not in "0123456789+-.":
        return text
    if date := _DATE.fullmatch(text):
        return f"{date.group(1)}-{date.group(2)}-{date.group(3)} 00:00:00 +0000 UTC"
    integer = _go_int(text)
    if integer is not None:
        return integer
    plain = text.replace("_", "")
    if _YAML_FLOAT.fullmatch(plain):
        return float(plain)
    return text


def _tagged(node: yaml.ScalarNode) -> Any:
    if node.tag == _PLAIN:
        return _plain(node.value)
    short = node.tag.removeprefix("tag:yaml.org,2002:")
    if short == "str":
        return node.value
    if short == "binary":
        return base64.b64decode(node.value).decode("utf-8", errors="replace")
    if short in ("int", "float", "bool", "null"):
        return _plain(node.value)
    # A quoted scalar or an unknown tag: text, or resolved as plain when written plain.
    return _plain(node.value) if node.style is None else node.value


def _value(node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return _tagged(node)
    if isinstance(node, yaml.SequenceNode):
        return [_value(item) for item in node.value]
    if isinstance(node, yaml.MappingNode):
        return _mapping(node)
    raise YamlError(f"line {node.start_mark.line + 1}: unsupported YAML node")


def _mapping(node: yaml.MappingNode) -> dict[str, Any]:
    out: dict[str, Any] = {}
    merged: dict[str, Any] = {}
    seen: dict[str, int] = {}
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.tag == _PLAIN and key_node.value == "<<":
            sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            for source in sources:
                if not isinstance(source, yaml.MappingNode):
                    raise YamlError(f"line {source.start_mark.line + 1}: a << merge needs a mapping")
                for k, v in _mapping(source).items():
                    merged.setdefault(k, v)
            continue
        key_text = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
        line = key_node.start_mark.line + 1
        if key_text is not None and key_text in seen:
            raise YamlError(f'line {line}: mapping key "{key_text}" already defined at line {seen[key_text]}')
        if key_text is not None:
            seen[key_text] = line
        out[go_key(_value(key_node))] = _value(value_node)
    return {**merged, **out}


def go_key(key: Any) -> str:
    """A mapping key as Go's JSON encoding writes it (every key becomes text)."""
    if key is None:
        return "<nil>"
    if isinstance(key, str):
        return key
    return go_text(key)


def go_text(value: Any) -> str:
    """A scalar as Pulumi hands it to a program."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if -_INT64 <= value < _INT64 else go_text(float(value))
    if isinstance(value, float):
        if math.isfinite(value) and value == int(value) and abs(value) < 1e21:
            return str(int(value))
        return json.dumps(value)
    return str(value)


def _normal(value: Any) -> Any:
    """A structured value as it is after Pulumi's JSON round trip (integral floats are integers)."""
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if isinstance(value, float) and value == int(value) and abs(value) < 1e21:
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and not -_INT64 <= value < _INT64:
        return float(value)
    return value


def config_text(value: Any) -> str:
    """A config value as the program receives it: scalars as text, the rest as JSON."""
    if isinstance(value, dict | list):
        return json.dumps(_normal(value), sort_keys=True, separators=(",", ":"))
    return go_text(value)


def _document(path: Path) -> yaml.Node | None:
    """The first document's node tree, or None for an empty file."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError([f"{path.name}: no such file (is this the project directory?)"]) from None
    try:
        loader = _Loader(text)
        try:
            return loader.get_node() if loader.check_node() else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise ConfigError([f"{path.name}: not valid YAML: {exc}"]) from None


def read(path: Path) -> dict[str, Any]:
    """A Pulumi YAML file's first document, as yaml.v3 decodes it (a mapping)."""
    node = _document(path)
    try:
        data = _value(node) if node is not None else {}
    except YamlError as exc:
        raise ConfigError([f"{path.name}: not valid YAML: {exc}"]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([f"{path.name}: expected a mapping at the top level"])
    return data


def octal_lookalikes(path: Path) -> list[str]:
    """Plain numbers written with a leading zero that Pulumi reads as octal (``0100`` is 64).

    The CLI accepts them silently; a network engineer writing ``vlan: 0100`` means 100, so
    fabric refuses them, naming the line, wherever the file is read (``validate`` and the
    program alike)."""
    node = _document(path) if path.exists() else None
    problems = []
    for scalar in _scalars(node):
        digits = scalar.value.replace("_", "").lstrip("+-")
        value = _go_int(scalar.value)
        if value is not None and _leading_zero(digits):
            decimal = int(digits)
            if abs(value) != decimal:
                problems.append(
                    f"{path.name} line {scalar.start_mark.line + 1}: {scalar.value} has a leading zero, so Pulumi "
                    f"reads it as octal {value}; write {decimal if value >= 0 else -decimal} (or 0o{abs(value):o} "
                    "to mean octal)"
                )
    return problems


def _scalars(node: yaml.Node | None) -> list[yaml.ScalarNode]:
    """Every plain, untagged scalar under ``node`` (what yaml.v3 resolves by its text)."""
    if isinstance(node, yaml.ScalarNode):
        return [node] if node.tag == _PLAIN and node.style is None else []
    if isinstance(node, yaml.SequenceNode):
        return [s for item in node.value for s in _scalars(item)]
    if isinstance(node, yaml.MappingNode):
        return [s for key, value in node.value for s in (*_scalars(key), *_scalars(value))]
    return []
