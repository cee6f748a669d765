"""What each VyOS release line fabric supports can do: one table.

The model admits exactly these versions, the schema checker loads each one's bundled
config tree, the renderer and the Router component ask it what to write and how to
apply, and the policy pack (``policy/``) which rules apply. A capability is a fact of
VyOS's own code, named where it was read.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Release:
    """One VyOS release line and what fabric relies on in it."""

    version: str
    #: Which line of vyos-1x it is.
    line: str
    #: The bundled config tree in ``fabric/data/vyos`` (see its README).
    schema: str
    #: The API's ``/configure`` takes ``confirm_time`` and arms a commit-confirm timer (the
    #: 2024-25 HTTP API of the rolling line, ``_configure_op`` and ``config_mgmt.py``; 1.4's
    #: request models have no such field, and ignore it).
    commit_confirm: bool
    #: ``system config-management commit-confirm action`` exists, so an expired timer can
    #: reload the saved config in place instead of rebooting (vyos-1x ``system_config-management.xml.in``).
    confirm_action: bool
    #: The REST endpoints are served only with ``service https api rest`` set (rolling
    #: releases since late 2024; 1.4 serves them always and has no such node).
    rest_switch: bool


RELEASES: dict[str, Release] = {
    "1.5": Release(
        "1.5",
        "rolling (vyos-1x current)",
        "config-tree.json.gz",
        commit_confirm=True,
        confirm_action=True,
        rest_switch=True,
    ),
    "1.4": Release(
        "1.4", "LTS (sagitta)", "config-tree-1.4.json.gz", commit_confirm=False, confirm_action=False, rest_switch=False
    ),
}


def release(version: str) -> Release:
    """The release line of ``version`` (the model admits only :data:`RELEASES`' keys)."""
    return RELEASES[version]
