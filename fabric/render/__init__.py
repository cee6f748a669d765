"""Renderers: plan -> device configuration as data (VyOS paths, host files)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause CPython's cyclic GC while a renderer builds its (acyclic) output.

    A router's config is hundreds of thousands of small commands at fabric scale. They
    are tuple subclasses, which CPython never untracks, so each full collection during
    rendering re-walks every command made so far and rendering time grows faster than
    the tenant count. Rendering creates no reference cycles, so nothing is lost by
    collecting after it instead of during it.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
