"""The one error type the core raises for bad input.

Users fix config files, so every problem is reported at once (not one per run) and
each message starts with the config key it is about, e.g.
``tenants[acme].id: 7 is also used by tenants[globex]``.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """Bad fabric config: one message per problem, each naming its config key."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = sorted(set(problems), key=problems.index)
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the fabric config:"
        super().__init__("\n".join([head, *(f"  - {p}" for p in self.problems)]))


class AccessError(Exception):
    """A device or a stack's secrets could not be reached (the CLI's exit code 1)."""
