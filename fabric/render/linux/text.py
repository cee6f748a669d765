"""Syntax shared by the host renderers: systemd INI files, unit command lines, shell scripts.

Every rendered file starts with a ``Managed by fabric`` comment naming its hypervisor (and
router), because an operator who edits such a file by hand loses the edit on the next
update and should learn that before, not after.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence

#: The marker every rendered file carries in its header comment (grep for it on a host).
MANAGED = "Managed by fabric"

Entries = Sequence[tuple[str, object]]
Sections = Sequence[tuple[str, Entries]]


def header(hypervisor: str, router: str | None = None, *, kind: str = "hypervisor", comment: str = "#") -> str:
    """The header comment line: who owns the file and what happens to hand edits."""
    about = f"{kind} {hypervisor}" + (f", router {router}" if router else "")
    return f"{comment} {MANAGED} ({about}); do not edit: changes are overwritten on the next update."


def ini(head: str, sections: Sections) -> str:
    """A systemd INI file (.netdev, .network, .link, unit). Keys repeat by listing them twice."""
    lines = [head]
    for name, entries in sections:
        lines += ["", f"[{name}]"]
        for key, value in entries:
            text = str(value)
            if "\n" in text or not key.replace("-", "").isalnum():
                raise ValueError(f"[{name}] {key}={text!r} cannot be written to an INI file")
            lines.append(f"{key}={text}")
    return "\n".join(lines) + "\n"


def timespan(ms: int) -> str:
    """Milliseconds as a systemd time span: whole seconds as ``2s``, else ``1500ms``; 0 stays 0."""
    if ms == 0:
        return "0"
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def exec_line(argv: Iterable[str]) -> str:
    """argv as an ``ExecStart=`` value: ``%`` and ``$`` escaped, odd words double-quoted.

    systemd expands ``%`` specifiers and ``$VAR`` in command lines, and splits on
    whitespace, so a config-supplied image path must be escaped to mean itself.
    """
    words = []
    for arg in argv:
        word = arg.replace("%", "%%").replace("$", "$$")
        if not word or any(c.isspace() or c in "\"'\\;" for c in word):
            word = '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'
        words.append(word)
    return " ".join(words)


def shell_script(head: str, why: Sequence[str], commands: Iterable[Sequence[str]]) -> str:
    """A POSIX sh script running ``commands`` in order and stopping at the first failure."""
    lines = ["#!/bin/sh", head, *(f"# {line}" for line in why), "set -eu", ""]
    lines += [shlex.join(argv) for argv in commands]
    return "\n".join(lines) + "\n"
