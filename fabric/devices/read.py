"""Read what devices say about themselves, over the providers' own connections: read only.

``status`` and ``verify`` (and the post-``up`` check, :mod:`fabric.components.verify`) read every
device in parallel, each within a bounded time: a router through
:class:`providers.vyos.Router` (its API's ``/show``, TLS verified or pinned exactly as an
apply), a Linux VTEP through :class:`providers.host.Host` (one SSH session running one
script of read-only commands, host key pinned). Nothing here writes, and nothing read
is a secret: the only secret-bearing output (``wg show dump``'s first line, preshared
keys) is cut on the host. What each device is asked and how its answers are read is
the pure core's (:mod:`fabric.health.parse`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from fabric import model
from fabric.connections import host_props, router_props
from fabric.health import parse
from fabric.health.expect import HYPERVISOR, NODE, ROUTER, Device
from fabric.health.facts import DeviceFacts
from fabric.topology import Plan
from providers.host import Host, HostError
from providers.vyos import Router, VyosError

#: Per device: seconds to connect and for each answer, and connection attempts.
TIMEOUT_S = 5.0
ATTEMPTS = 2
#: Devices read at once.
WORKERS = 16
#: What separates the answers of one SSH script.
MARK = "@@fabric-status "
#: The most one answer may hold (a larger one is cut on the host, and then does not parse),
#: and the most a host's whole output may hold here.
ANSWER_BYTES = 8 * 1024 * 1024
OUTPUT_BYTES = (len(parse.LINUX_QUESTIONS) + 1) * ANSWER_BYTES


@dataclass(frozen=True)
class Target:
    """One device to read: its name and kind, and how to connect (``fabric.connections``)."""

    name: str
    kind: str
    props: Mapping[str, Any]


def targets(inventory: model.Inventory, plan: Plan, devices: Sequence[Device]) -> list[Target]:
    """How to reach each of ``devices`` (this stack's), as its apply does."""
    props: dict[str, Mapping[str, Any]] = {}
    if inventory.datacenter is not None:
        specs = {r.name: r for r in inventory.datacenter.routers}
        props |= {r.name: router_props(r, specs[r.name]) for r in plan.routers}
        props |= {hv.spec.name: host_props(hv.spec.name, hv.spec.ssh) for hv in plan.hypervisors}
    props |= {n.name: host_props(n.name, n.ssh) for n in inventory.nodes}
    return [Target(d.name, d.kind, props[d.name]) for d in devices if d.name in props]


@dataclass(frozen=True)
class Credentials:
    """The routers' API key and the hosts' SSH private key (None: an SSH agent)."""

    api_key: str | None
    ssh_private_key: str | None

    def __repr__(self) -> str:
        return "Credentials(<secret>)"


def script(timeout: float) -> str:
    """The one script a Linux VTEP runs: each question after its marker (on a line of its own,
    also after an answer that was cut mid-line), bounded in time on the host (``timeout``, in
    whole seconds) and in size with its errors (:data:`ANSWER_BYTES`); errors are inline, so a
    stopped FRR answers with its error text, which the parser reports, and a command that
    failed or ran out of time says its exit code."""
    seconds = max(1, round(timeout))
    lines = [
        f"printf '\\n%s\\n' '{MARK}{name}'; "
        f'{{ timeout -k 1 {seconds} {command} || echo "(exit $?)"; }} 2>&1 | head -c {ANSWER_BYTES}'
        for name, command in parse.LINUX_QUESTIONS.items()
    ]
    return "exec 2>&1\nPATH=$PATH:/usr/sbin:/usr/bin:/sbin:/bin\n" + "\n".join(lines) + "\n"


def split_answers(output: str) -> dict[str, str]:
    """The script's output as its answers by question (text before the first marker dropped)."""
    answers: dict[str, list[str]] = {}
    lines: list[str] | None = None
    for line in output.splitlines(keepends=True):
        if line.startswith(MARK):
            lines = answers.setdefault(line[len(MARK) :].strip(), [])
        elif lines is not None:
            lines.append(line)
    return {name: "".join(text) for name, text in answers.items()}


def _failed(target: Target, start: float, why: str) -> DeviceFacts:
    return DeviceFacts(target.name, target.kind, time.monotonic() - start, (why,))


def read_host(target: Target, creds: Credentials, timeout: float = TIMEOUT_S) -> DeviceFacts:
    start = time.monotonic()
    props = {**target.props, "private_key": creds.ssh_private_key}
    try:
        host = Host(props, timeout=timeout, retries=ATTEMPTS)
    except HostError as exc:  # a host key that is not the pinned one included
        return _failed(target, start, f"ssh: {exc}")
    try:
        # Every question is bounded on the host; the channel's own timeout is a last resort.
        budget = (round(timeout) + 2) * (len(parse.LINUX_QUESTIONS) + 1)
        code, output = host.run(script(timeout), combine=True, timeout=budget, limit=OUTPUT_BYTES)
    except HostError as exc:
        return _failed(target, start, f"ssh: {exc or 'no answer in time'}")
    finally:
        host.close()
    if MARK not in output:  # e.g. sudo refused: the script never ran
        why = parse.first_line(output)
        return _failed(target, start, f"ssh: the read script did not run (exit code {code}): {why}")
    return parse.linux_facts(target.name, target.kind, split_answers(output), time.monotonic() - start)


def read_router(target: Target, creds: Credentials, timeout: float = TIMEOUT_S) -> DeviceFacts:
    """Every question at once over one client (each bounded by ``timeout`` and :data:`ATTEMPTS`)."""
    start = time.monotonic()
    if not creds.api_key:
        return _failed(target, start, "api: no API key (fabric:vyos_api_key)")
    try:
        router = Router(target.props, creds.api_key, timeout=timeout, retries=ATTEMPTS)
    except VyosError as exc:
        return _failed(target, start, f"api: {exc}")
    except OSError as exc:  # the pinned certificate's probe found nobody
        return _failed(target, start, f"api: cannot connect to {target.props['endpoint']}: {exc.strerror or exc}")

    def ask(path: tuple[str, ...]) -> str:
        return str(router.call("show", {"op": "show", "path": list(path)}, write=False) or "")

    answers: dict[str, str] = {}
    failures: dict[str, str] = {}
    try:
        with ThreadPoolExecutor(max_workers=len(parse.VYOS_QUESTIONS)) as pool:
            asked = {name: pool.submit(ask, path) for name, path in parse.VYOS_QUESTIONS.items()}
            for name, future in asked.items():
                try:
                    answers[name] = future.result()
                except Exception as exc:  # any answer a router sends is one question's problem
                    failures[name] = str(exc) or type(exc).__name__
    finally:
        router.close()
    return parse.vyos_facts(target.name, answers, time.monotonic() - start, failures)


READERS: Mapping[str, Callable[[Target, Credentials, float], DeviceFacts]] = {
    ROUTER: read_router,
    NODE: read_host,
    HYPERVISOR: read_host,
}


def _read_one(target: Target, creds: Credentials, timeout: float) -> DeviceFacts:
    """One device; whatever goes wrong reading it is that device's error, never the run's."""
    start = time.monotonic()
    try:
        return READERS[target.kind](target, creds, timeout)
    except Exception as exc:  # a hostile or broken device must not stop the others
        return _failed(target, start, f"read: {type(exc).__name__}: {str(exc)[:160]}")


def read_all(targets: Sequence[Target], creds: Credentials, timeout: float = TIMEOUT_S) -> dict[str, DeviceFacts]:
    """Every device at once (up to :data:`WORKERS`), each within its own bounded time."""
    if not targets:
        return {}
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(targets))) as pool:
        futures = {t.name: pool.submit(_read_one, t, creds, timeout) for t in targets}
        return {name: f.result() for name, f in futures.items()}
