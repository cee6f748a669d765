"""Read the stack's config and peers through Pulumi, and validate them with the one loader.

Pulumi has already merged project-level and stack values and decrypted secrets; the
program hands every ``fabric:`` key it was given (not only the known ones: an unknown
key is an error, as in ``python -m fabric validate``) and which of them are secrets to
:func:`fabric.loader.validate`, which refuses exactly what ``validate`` refuses, before
any resource is registered. The core only learns *that* a secret is set, never its text.
The stack's files are also scanned for numbers Pulumi reads as octal (``0100``), as
``validate`` does: by the time a value reaches the program only the number is left.
"""

from __future__ import annotations

from pathlib import Path

import pulumi
from pulumi.runtime import config as runtime_config

from fabric import loader, stackfile
from fabric.components.peers import peer_exports


def program_config() -> tuple[dict[str, object], set[str]]:
    """Every config value the engine gave this program, and the keys that are secrets."""
    values: dict[str, object] = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    secret = {k for k in values if runtime_config.is_config_secret(k)}
    secret |= set(runtime_config.get_config_secret_keys_env())
    return values, secret


def read_stack() -> loader.Validated:
    """The stack's validated config, its peers' validated members and its plan;
    raises :class:`~fabric.errors.ConfigError` before any resource exists."""
    values, secret = program_config()
    inventory = loader.load(stackfile.raw_from(values, secret, Path.cwd(), pulumi.get_stack()))
    return loader.validate(inventory, peer_exports(inventory.peer_stacks))
