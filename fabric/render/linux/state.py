"""The shape of a hypervisor's desired state: files to write and actions that make them live.

The host provider creates one resource per (host, concern). On an update it writes only
the files whose content changed and runs only the actions those files name in
``reload``, in the order the concern lists them, so a changed VM unit restarts that VM
and nothing else. The invariants that make this safe are checked when a ``HostState`` is
built: every ``reload`` name is an action of the same concern, and no path belongs to two
concerns (two resources writing one file would fight).
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from markers import SECRET, Slots, Values, check_slots, fill


@dataclass(frozen=True)
class HostFile:
    """One file as it must be on the host."""

    path: str
    content: str
    mode: int = 0o644
    owner: str = "root"
    #: Actions (of the same concern) that make a change of this file live, by name.
    reload: tuple[str, ...] = ()
    #: Commands that undo what the file made once it is removed (e.g. delete the device a
    #: ``.netdev`` created: networkd never removes one). Best effort: the thing may be gone.
    cleanup: tuple[tuple[str, ...], ...] = ()
    #: Where deferred values (secrets, keys and addresses known after ``up``) go in
    #: ``content`` (see :mod:`fabric.deferred`); the provider fills in exactly these and
    #: refuses marker text anywhere else.
    slots: Slots = ()

    def __post_init__(self) -> None:
        if not self.path.startswith("/"):
            raise ValueError(f"{self.path!r}: host paths must be absolute")
        if not self.content.endswith("\n"):
            raise ValueError(f"{self.path}: content must end with a newline")
        check_slots(self.content, self.slots)

    @property
    def secret(self) -> bool:
        """Whether a secret goes into the file (its concern is then given the secret)."""
        return any(kind == SECRET for _, kind, _ in self.slots)

    def filled(self, values: Values) -> str:
        """The content with its slots filled (for a host that is not given markers, e.g. cloud-init)."""
        return fill(self.content, self.slots, values)

    def spec(self) -> dict[str, object]:
        """The file as the host provider takes it. Secret slots are ``secrets``
        (``[offset, name]``), other slots ``late`` (``[offset, kind, name]``); each only when present."""
        secrets = [[offset, name] for offset, kind, name in self.slots if kind == SECRET]
        late = [[offset, kind, name] for offset, kind, name in self.slots if kind != SECRET]
        return {
            "content": self.content,
            "mode": self.mode,
            "owner": self.owner,
            "reload": list(self.reload),
            **({"cleanup": [shlex.join(argv) for argv in self.cleanup]} if self.cleanup else {}),
            **({"secrets": secrets} if secrets else {}),
            **({"late": late} if late else {}),
        }


@dataclass(frozen=True)
class HostAction:
    """Commands (argv lists, no shell unless argv[0] is one) that are safe to run again."""

    name: str
    commands: tuple[tuple[str, ...], ...]

    def __post_init__(self) -> None:
        if not self.commands or any(not argv for argv in self.commands):
            raise ValueError(f"action {self.name}: needs at least one non-empty command")

    @property
    def line(self) -> str:
        """The action as the host provider takes it and a preview shows it: ``name: cmd && cmd``
        (each argv quoted for the shell, so it splits back into exactly those words)."""
        return f"{self.name}: " + " && ".join(shlex.join(argv) for argv in self.commands)


class Concern(NamedTuple):
    """One independently applied part of a host: its files and the actions, in run order.

    A tuple, so ``files, actions = concern`` works; ``check()`` (run by ``HostState``)
    holds the invariants.
    """

    files: tuple[HostFile, ...]
    actions: tuple[HostAction, ...]

    def check(self) -> None:
        names = [a.name for a in self.actions]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate action names: {names}")
        paths = [f.path for f in self.files]
        if len(set(paths)) != len(paths):
            raise ValueError(f"duplicate file paths: {paths}")
        for f in self.files:
            unknown = set(f.reload) - set(names)
            if unknown:
                raise ValueError(f"{f.path}: reload names unknown actions {sorted(unknown)}")

    def inputs(self) -> tuple[dict[str, dict[str, object]], list[str]]:
        """The concern as the host provider takes it: files by path, and the actions in order
        (one line each, :attr:`HostAction.line`)."""
        return {f.path: f.spec() for f in self.files}, [a.line for a in self.actions]

    def action(self, name: str) -> HostAction:
        return next(a for a in self.actions if a.name == name)

    def actions_for(self, changed: Iterable[str]) -> tuple[HostAction, ...]:
        """The actions to run after writing the files at ``changed`` paths, in run order."""
        wanted = {name for f in self.files if f.path in set(changed) for name in f.reload}
        return tuple(a for a in self.actions if a.name in wanted)


@dataclass(frozen=True)
class HostState:
    """A hypervisor's whole desired state, by concern (see ``fabric.render.linux.CONCERNS``)."""

    host: str
    concerns: Mapping[str, Concern]

    def __post_init__(self) -> None:
        owner: dict[str, str] = {}
        for name, concern in self.concerns.items():
            concern.check()
            for f in concern.files:
                if f.path in owner:
                    raise ValueError(f"{f.path} is rendered by both {owner[f.path]} and {name}")
                owner[f.path] = name

    def files(self) -> tuple[HostFile, ...]:
        return tuple(f for c in self.concerns.values() for f in c.files)

    def file(self, path: str) -> HostFile:
        return next(f for f in self.files() if f.path == path)
