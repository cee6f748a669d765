"""A VyOS configuration command as data, and its text form.

A :class:`Command` is one ``set`` line: the path (nodes and tag values) and, for
leaves that take one, a value. Values the renderer does not know (secrets, a key or an
address known after ``up``) are :class:`~fabric.deferred.Deferred` structure, never text:
the provider fills them in at exactly the paths :func:`secret_paths` and
:func:`late_paths` list when it applies the config, so rendered lines can be diffed and
printed safely, and a preview shows every line as it will be (a marker where such a
value goes).
"""

from __future__ import annotations

import re
from typing import NamedTuple

from fabric.deferred import Deferred


class Command(NamedTuple):
    """``set <path...> [value]``."""

    path: tuple[str, ...]
    value: str | Deferred | None = None

    def tokens(self) -> tuple[str, ...]:
        """The words a schema checks: the path, then the value (a deferred value as its sample)."""
        if self.value is None:
            return self.path
        value = self.value.sample if isinstance(self.value, Deferred) else self.value
        return (*self.path, value)


def cmd(*path: object, value: object = None) -> Command:
    """Build a command from ids, addresses and names (everything becomes a string)."""
    if value is None or isinstance(value, Deferred):
        return Command(tuple(map(str, path)), value)
    return Command(tuple(map(str, path)), str(value))


_BARE = re.compile(r"^[A-Za-z0-9_.:/@+-]+$")


def _word(token: str) -> str:
    return token if _BARE.match(token) else "'" + token.replace("'", "'\\''") + "'"


def set_line(command: Command) -> str:
    """The command as typed at the VyOS CLI: values single-quoted, as ``show configuration commands`` prints them."""
    words = " ".join(_word(p) for p in command.path)
    if command.value is None:
        return f"set {words}"
    if isinstance(command.value, Deferred):
        return f"set {words} '{command.value.marker}'"
    return f"set {words} '" + command.value.replace("'", "'\\''") + "'"


def secret_paths(commands: list[Command]) -> dict[str, str]:
    """``{"<path words>": secret name}`` of every command whose value is a secret: the only
    places the VyOS provider fills a secret in."""
    return {" ".join(c.path): c.value.name for c in commands if isinstance(c.value, Deferred) and c.value.secret}


def late_paths(commands: list[Command]) -> dict[str, list[list[str]]]:
    """``{"<path words>": [[kind, name], ...]}`` of every command whose value is known only
    after ``up`` (a path may hold several, e.g. an address group's members): the only places
    the VyOS provider fills such a value in."""
    out: dict[str, list[list[str]]] = {}
    for c in commands:
        if isinstance(c.value, Deferred) and not c.value.secret:
            out.setdefault(" ".join(c.path), []).append([c.value.kind, c.value.name])
    return out
