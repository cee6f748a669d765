"""What each cloud fabric bursts into requires or limits: one table, read by the config
checks and the cloud-init renderer (the cloud components build each cloud's resources)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CloudLimits:
    """One cloud's limits that a config or a rendered file must meet."""

    provider: str
    #: Largest user-data the API takes, in bytes: AWS 16 KiB, Azure 64 KiB of custom
    #: data, GCP 256 KiB per metadata value (each cloud's API reference).
    user_data_bytes: int
    #: Whether the limit counts the bytes after decoding the base64 we send (AWS decodes
    #: it once), else the text as received.
    counts_decoded: bool
    #: Whether a Linux VM needs an SSH public key for its admin user (Azure refuses one without).
    needs_ssh_key: bool


CLOUDS: dict[str, CloudLimits] = {
    "aws": CloudLimits("aws", 16 * 1024, counts_decoded=True, needs_ssh_key=False),
    "azure": CloudLimits("azure", 64 * 1024, counts_decoded=False, needs_ssh_key=True),
    "gcp": CloudLimits("gcp", 256 * 1024, counts_decoded=False, needs_ssh_key=False),
}
