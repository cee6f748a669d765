"""One lock per device in the provider process: applies to one router or host never overlap.

Pulumi runs resource operations in parallel threads of one provider process, so two
resources on the same device (or an apply and a refresh) would otherwise interleave.
"""

from __future__ import annotations

import threading

_locks: dict[str, threading.Lock] = {}
_guard = threading.Lock()


def device_lock(device: str) -> threading.Lock:
    """The lock of ``device`` (an endpoint or ``address:port``), made on first use."""
    with _guard:
        return _locks.setdefault(device, threading.Lock())
