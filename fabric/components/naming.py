"""Resource names: a child's name starts with its parent's.

Pulumi carries a parent's aliases to children whose names start with the parent's
name, so renaming a router (with ``previous_names``) moves its key along instead of
replacing it. Names come from config names, never from list positions.
"""

from __future__ import annotations


def child_name(parent: str, name: str) -> str:
    """``name`` if it already starts with ``<parent>-``, else ``<parent>-<name>``."""
    return name if name.startswith(f"{parent}-") else f"{parent}-{name}"
