"""WireGuard key pairs as Pulumi resources: the private key exists only as a secret.

A key is generated once, when the resource is created, and kept in the (encrypted)
state. Only a change of ``rotation`` replaces it: renaming the router (with an alias)
or reordering config never does, since neither changes the resource's inputs. The
public key is a plain output, so peers and stack exports can use it.
"""

from __future__ import annotations

import base64
import secrets
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider

from providers import types


def generate_keypair() -> tuple[str, str]:
    """A fresh X25519 key pair, base64 as WireGuard writes it: (private, public)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    private = X25519PrivateKey.generate()
    raw = serialization.Encoding.Raw
    private_bytes = private.private_bytes(raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    public_bytes = private.public_key().public_bytes(raw, serialization.PublicFormat.Raw)
    return base64.b64encode(private_bytes).decode(), base64.b64encode(public_bytes).decode()


class WireguardKeyProvider(ResourceProvider):
    """Holds no state of its own. The state records it by reference (``providers.keys``),
    so this module must stay importable at this path for refresh, diff and destroy of
    existing stacks."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        private, public = generate_keypair()
        outs = {"rotation": props["rotation"], "public_key": public, "private_key": private}
        return CreateResult(id_=f"wgkey-{secrets.token_hex(8)}", outs=outs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        rotate = olds.get("rotation") != news.get("rotation")
        return DiffResult(changes=rotate, replaces=["rotation"] if rotate else [], delete_before_replace=False)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        # The key lives only in the state; there is no device to read it from.
        return ReadResult(id_=id_, outs=props)


class WireguardKey(Resource, module=types.MODULE, name="WireguardKey"):
    """``public_key`` (plain) and ``private_key`` (secret) of one mesh member."""

    public_key: pulumi.Output[str]
    private_key: pulumi.Output[str]

    def __init__(self, name: str, rotation: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(
            WireguardKeyProvider(),
            name,
            {"rotation": rotation, "public_key": None, "private_key": None},
            types.options(opts, secret_outputs=["private_key"]),
        )
