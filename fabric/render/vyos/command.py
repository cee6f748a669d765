"""A VyOS configuration command as data, and its text form.

A :class:`Command` is one ``set`` line: the path (nodes and tag values) and, for
leaves that take one, a value. Secret values are :class:`~fabric.render.secrets.SecretRef`
structure, never text: the renderer does not know them, and the provider substitutes the
Pulumi secret at exactly the paths :func:`secret_paths` lists when it applies the config,
so rendered paths can be diffed and printed safely.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from fabric.render.secrets import SecretRef


class Command(NamedTuple):
    """``set <path...> [value]``."""

    path: tuple[str, ...]
    value: str | SecretRef | None = None

    def tokens(self) -> tuple[str, ...]:
        """The words a schema checks: the path, then the value (secrets as their sample)."""
        if self.value is None:
            return self.path
        value = self.value.sample if isinstance(self.value, SecretRef) else self.value
        return (*self.path, value)


def cmd(*path: object, value: object = None) -> Command:
    """Build a command from ids, addresses and names (everything becomes a string)."""
    if value is None or isinstance(value, SecretRef):
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
    if isinstance(command.value, SecretRef):
        return f"set {words} '{command.value.marker}'"
    return f"set {words} '" + command.value.replace("'", "'\\''") + "'"


def secret_paths(commands: list[Command]) -> dict[str, str]:
    """``{"<path words>": secret name}`` of every command whose value is a secret: the only
    places the VyOS provider fills a secret in."""
    return {" ".join(c.path): c.value.name for c in commands if isinstance(c.value, SecretRef)}
