"""The lab's SSH keys: derived from fixed, public seeds, so they are the same on every machine.

LAB ONLY. Anyone who reads this file can compute every private key below. That is
the point: the lab stack (``Pulumi.lab.yaml``) pins each node's host key and holds the
operator key in committed config, and a node rebuilt from scratch presents the very
same key, so the host provider's pinning is exercised for real without a secret to
distribute. Never use these keys on a machine that is reachable from anywhere else.

Each key is Ed25519 with the 32-byte private seed ``sha256(SEED \\0 purpose \\0 name)``.
The private keys are written in OpenSSH's format with a check word derived from the
key too, so even the PEM text is the same on every call.
"""

from __future__ import annotations

import base64
import hashlib
import struct

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

#: Public on purpose (see the module docstring); change it to get a new set of lab keys.
SEED = "fabric-lab-v1: lab-only keys, public by design"
KEY_TYPE = "ssh-ed25519"


def _seed(purpose: str, name: str) -> bytes:
    return hashlib.sha256(f"{SEED}\0{purpose}\0{name}".encode()).digest()


def _key(purpose: str, name: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(_seed(purpose, name))


def _public_line(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()


def _string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _openssh_private(purpose: str, name: str, comment: str) -> str:
    """OpenSSH's ``openssh-key-v1`` format, unencrypted, with a deterministic check word
    (``ssh-keygen`` draws it at random; it only guards decryption, which ``none`` skips)."""
    seed = _seed(purpose, name)
    public = _key(purpose, name).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    check = hashlib.sha256(b"check\0" + seed).digest()[:4]
    blob = _string(KEY_TYPE.encode()) + _string(public)
    private = check + check + blob + _string(seed + public) + _string(comment.encode())
    private += bytes(range(1, 1 + (-len(private) % 8)))  # padding 1, 2, 3, ... to the block size (8)
    body = b"openssh-key-v1\0" + _string(b"none") + _string(b"none") + _string(b"")
    body += struct.pack(">I", 1) + _string(blob) + _string(private)
    text = base64.b64encode(body).decode()
    lines = [text[i : i + 70] for i in range(0, len(text), 70)]
    return "\n".join(["-----BEGIN OPENSSH PRIVATE KEY-----", *lines, "-----END OPENSSH PRIVATE KEY-----", ""])


def host_key_line(node_name: str) -> str:
    """``ssh-ed25519 AAAA...``: the node's host key as the lab stack pins it (``ssh.host_key``)."""
    return _public_line(_key("host", node_name))


def host_key_fingerprint(node_name: str) -> str:
    """``SHA256:...`` as ``ssh-keygen -l`` prints it (the other form the host provider pins)."""
    blob = base64.b64decode(host_key_line(node_name).split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def host_private_key(node_name: str) -> str:
    """The node's host private key (``/etc/ssh/ssh_host_ed25519_key`` in the node)."""
    return _openssh_private("host", node_name, f"root@{node_name}")


def operator_private_key() -> str:
    """The operator's private key (OpenSSH PEM text): what the lab stack logs in to every node with."""
    return _openssh_private("operator", "", "fabric-lab-operator")


def operator_public_key_line() -> str:
    """``ssh-ed25519 AAAA... fabric-lab-operator``: authorised for root on every node."""
    return f"{_public_line(_key('operator', ''))} fabric-lab-operator"
