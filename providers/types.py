"""What a provider resource is, in its type: ``pulumi-python:dynamic/fabric:RouterConfig``.

The Python SDK names a dynamic resource's type by its subclass (``module=``, ``name=``);
before these names every one was ``pulumi-python:dynamic:Resource``, so a key, a router
config and a host concern looked alike in a preview. Stacks created then keep working:
that old type is an alias of every named one, so the engine matches their resources to
the new types and replaces nothing.
"""

from __future__ import annotations

import pulumi

#: The ``module`` part of every provider resource type.
MODULE = "fabric"
#: The type every provider resource had before it was named.
GENERIC = "pulumi-python:dynamic:Resource"


def options(opts: pulumi.ResourceOptions | None, *, secret_outputs: list[str]) -> pulumi.ResourceOptions:
    """``opts`` with the old generic type as an alias and the outputs that are secrets."""
    own = pulumi.ResourceOptions(aliases=[pulumi.Alias(type_=GENERIC)], additional_secret_outputs=secret_outputs)
    return pulumi.ResourceOptions.merge(opts, own)
