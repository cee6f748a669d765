"""Rendered config survives a round trip through a router: what fabric sends is what it reads back.

The VyOS API emulator (no VyOS router runs here) stores the example routers' config as
VyOS would; reading it back as the provider does must give the rendered lines exactly,
or every apply would see drift.
"""

from __future__ import annotations

import ssl

import httpx
import pytest

from fabric import stackfile
from fabric.deferred import Deferred
from fabric.render.vyos import render_routers
from providers.vyos import flatten
from tests.beds.vyos_emulator import VyosEmulator
from tests.conftest import ROOT


@pytest.mark.parametrize("stack", ["dc1", "dc2"])
def test_rendered_lines_read_back_unchanged(stack: str) -> None:
    plan = stackfile.load_stack(ROOT, stack).plan
    for rendered in render_routers(plan):
        commands = [{"op": "set", "path": list(c.tokens())} for c in rendered.commands()]
        with VyosEmulator("k", rendered.vyos_version, background_delay=0) as router:
            reply = httpx.post(
                f"{router.url}/configure",
                json={"key": "k", "commands": commands},
                verify=ssl.create_default_context(cafile=str(router.cert_path)),
            )
            assert reply.json()["success"], reply.text
            got = flatten(router.config_tree())
        # Every deferred value (secrets, keys known after up) was sent as its sample.
        samples = {c.value.marker: c.value.sample for c in rendered.commands() if isinstance(c.value, Deferred)}
        want = {path: [samples.get(v, v) for v in values] for path, values in rendered.config().items()}
        assert got == want
