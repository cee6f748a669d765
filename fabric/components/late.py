"""Values known only after ``up``, as the Pulumi outputs that will hold them.

The plan is built once, from config and the peer stacks' members, before any resource
exists (:mod:`fabric.deferred`): where it needs this stack's members' public keys or
its cloud nodes' public addresses it holds a :class:`~fabric.deferred.Deferred`. So every
rendered config is known in a preview, line by line. This module maps each deferred
value to the output of the resource that makes it (a key resource, a cloud's static
IP), for the providers to fill in, or to resolve a value for a cloud resource.

A resource is given only the values its config uses, so a value that changes (a rotated
key) shows in the preview of exactly the resources that will change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

import pulumi

from fabric.deferred import Deferred
from markers import ENDPOINT, PUBLIC_KEY, Values

T = TypeVar("T")


class LateValues:
    """Every deferred public key and endpoint of this stack, by kind and name, as outputs."""

    def __init__(self, public_keys: Mapping[str, pulumi.Output[str]], endpoints: Mapping[str, pulumi.Output[str]]):
        self._values: dict[str, Mapping[str, pulumi.Output[str]]] = {PUBLIC_KEY: public_keys, ENDPOINT: endpoints}

    def inputs(self, used: Iterable[tuple[str, str]]) -> dict[str, dict[str, pulumi.Output[str]]]:
        """The outputs of the ``(kind, name)`` values a resource uses (a provider's ``late`` input)."""
        out: dict[str, dict[str, pulumi.Output[str]]] = {}
        for kind, name in used:
            out.setdefault(kind, {})[name] = self._values[kind][name]
        return out

    def resolved(self, used: Iterable[tuple[str, str]], fn: Callable[[Values], T]) -> pulumi.Output[T]:
        """``fn`` of the used values, once they are known."""
        values: pulumi.Output[Values] = pulumi.Output.from_input(self.inputs(used))  # type: ignore[arg-type]
        return values.apply(fn)


def used(values: Iterable[object]) -> list[tuple[str, str]]:
    """The ``(kind, name)`` of every deferred public value among ``values`` (secrets are not late values)."""
    return sorted({(v.kind, v.name) for v in values if isinstance(v, Deferred) and not v.secret})
