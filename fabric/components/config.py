"""Read the stack's ``fabric:`` config through Pulumi into a validated Inventory.

Pulumi has already merged project-level and stack values and decrypted secrets;
the core only learns *that* a secret is set (a :class:`~fabric.model.Secret`), never
its text, which stays inside Pulumi outputs.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi

from fabric import model
from fabric.stackfile import NAMESPACE, SECRET_KEYS


def read_inventory(config: pulumi.Config | None = None) -> model.Inventory:
    """Validate the stack config; raises :class:`~fabric.errors.ConfigError` before any resource exists."""
    config = config or pulumi.Config(NAMESPACE.rstrip(":"))
    raw: dict[str, Any] = {}
    for key in model.CONFIG_KEYS:
        if key in SECRET_KEYS:
            if config.get(key) is not None:
                raw[key] = model.Secret(NAMESPACE + key)
            continue
        text = config.get(key)
        if text is not None:
            raw[key] = _decode(text)
    return model.load(raw)


def _decode(text: str) -> Any:
    """Pulumi hands structured values over as JSON and plain strings as they are."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
