"""Cloud extensions ("bursts"): per cloud, a network and one node that joins the mesh (README "Cloud bursts").

Each cloud's SDK takes about a second to import, so a stack imports only those of the
clouds it has enabled.
"""

from __future__ import annotations

from fabric.components.cloud.common import CloudExtension


def extension_class(provider: str) -> type[CloudExtension]:
    """The component class of ``provider`` (one of :data:`fabric.model.CLOUD_PROVIDERS`)."""
    if provider == "aws":
        from fabric.components.cloud.aws import AwsExtension

        return AwsExtension
    if provider == "azure":
        from fabric.components.cloud.azure import AzureExtension

        return AzureExtension
    if provider == "gcp":
        from fabric.components.cloud.gcp import GcpExtension

        return GcpExtension
    raise ValueError(f"no cloud extension for provider {provider!r}")
