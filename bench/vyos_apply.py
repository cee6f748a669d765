"""Benchmark: VyOS API requests per apply, and the client-side cost of a 10,000-line batch.

1. Writes per apply per router, counted by the VyOS API emulator (no VyOS router runs
   here): the first apply, a tenant added, and an apply with nothing to change.
   Target: at most 3 writes (configure, confirm, save) however many lines change; zero
   when nothing changed.
2. Putting a router back after a failed commit (the emulator fails the interfaces'
   commit units, the rest of the batch commits: a partial commit): requests and wall
   time until the router is verified back at its config from before the apply, for a
   tenant removed from a router with 3 and with 100 tenants (no commit delay: the cost
   is the provider's reads, inverse batch and barrier).
3. Client-side time to build and send a batch of about 10,000 lines: computing the
   delta against the router's config, filling in secrets, encoding, and sending it over
   TLS to a loopback HTTPS sink that replies at once (so the router's own commit time is
   not counted). Target: under 1 s.

    venv/bin/python bench/vyos_apply.py [--lines 10000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import json
import ssl
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fabric import loader, stackfile, topology
from fabric.deferred import API_KEY, WIREGUARD_PRIVATE_KEY
from fabric.render.vyos import all_owned_subtrees, keep_on_delete, render_routers
from providers.keys import generate_keypair
from providers.vyos import Router, VyosConfigProvider, VyosError, delta, fill_secrets
from tests.beds.vyos_emulator import VyosEmulator, make_self_signed_cert
from tests.conftest import ROOT, with_tenants
from tests.engine.project import bootstrap_config

KEY = "bench-key"
PRIVATE, _ = generate_keypair()


def router_config(tenants: int) -> dict[str, list[str]]:
    """dc1-r1's rendered config with ``tenants`` tenants spanning both datacenters."""
    raw = stackfile.raw_config(ROOT, "dc1")
    with_tenants(
        raw,
        [
            {"name": f"t{i}", "id": i, "egress": {"allow": [{"destination": "192.0.2.0/24", "ports": [443]}]}}
            for i in range(1, tenants + 1)
        ],
    )
    inv = loader.load(raw)
    plan = topology.build(inv)
    return render_routers(plan)[0].config()


def props(url: str, fingerprint: str, config: dict[str, list[str]]) -> dict[str, Any]:
    return {
        "router": "dc1-r1",
        "endpoint": url,
        "api_key": KEY,
        "tls": {"fingerprint": fingerprint},
        "vyos_version": "1.5",
        "owns": [list(o) for o in all_owned_subtrees()],
        "keep_on_delete": [list(k) for k in keep_on_delete()],
        "config": config,
        "secrets": {WIREGUARD_PRIVATE_KEY.name: PRIVATE, API_KEY.name: KEY},
        # Where the renderer put secrets: every router has the same two.
        "secret_paths": {
            "interfaces wireguard wg0 private-key": WIREGUARD_PRIVATE_KEY.name,
            "service https api keys id fabric key": API_KEY.name,
        },
    }


def writes_per_apply() -> list[tuple[str, int, int]]:
    rows = []
    with VyosEmulator(KEY, initial=bootstrap_config(KEY, "1.5")) as router:
        first = props(router.url, router.fingerprint_sha256, router_config(3))
        outs = VyosConfigProvider().create(first).outs or {}
        rows.append(("first apply (3 tenants)", outs["changed_lines"], router.write_requests))
        more = props(router.url, router.fingerprint_sha256, router_config(4))
        before = router.write_requests
        outs = VyosConfigProvider().update("id", first, more).outs or {}
        rows.append(("a tenant added", outs["changed_lines"], router.write_requests - before))
        # `pulumi up` with nothing changed: the diff says so and no apply runs at all.
        before = router.write_requests
        assert not VyosConfigProvider().diff("id", more, more).changes
        rows.append(("nothing changed", 0, router.write_requests - before))
    return rows


def undo_after_partial_commit(tenants: int) -> tuple[int, int, float]:
    """(lines in the failed batch, requests from the failure to the router verified back, seconds)."""
    with VyosEmulator(KEY, initial=bootstrap_config(KEY, "1.5"), restart_seconds=0.0) as router:
        full = props(router.url, router.fingerprint_sha256, router_config(tenants))
        VyosConfigProvider().create(full)
        fewer = props(router.url, router.fingerprint_sha256, router_config(tenants - 1))
        before = router.running()
        router.clear_requests()
        router.fail_next_commit("interface busy", path=["interfaces"])
        start = time.perf_counter()
        with contextlib.suppress(VyosError):
            VyosConfigProvider().update("id", full, fewer)
        seconds = time.perf_counter() - start
        assert router.running() == before
        failed = next(r for r in router.requests if r["status"] == 400)
        return len(failed["ops"]), len(router.requests) - router.requests.index(failed) - 1, seconds


class _Sink(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        body = json.dumps({"success": True, "data": None, "error": None}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def client_side(lines: int, repeat: int) -> dict[str, float]:
    tenants = 1
    while len(config := router_config(tenants)) < lines:
        tenants = max(tenants + 1, int(tenants * lines / max(len(config), 1)))
    cert, key = make_self_signed_cert()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "c.pem").write_text(cert)
        (Path(tmp) / "k.pem").write_text(key)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(Path(tmp) / "c.pem"), str(Path(tmp) / "k.pem"))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"https://127.0.0.1:{server.server_address[1]}"
        p = props(url, "", config)
        p["tls"] = {"ca_pem": cert}
        builds, sends = [], []
        for _ in range(repeat):
            start = time.perf_counter()
            commands = fill_secrets(delta({}, config, p["owns"]), p["secrets"], p["secret_paths"])
            body = json.dumps({"key": KEY, "commands": commands, "confirm_time": 2})
            built = time.perf_counter()
            router = Router(p)
            router.call("configure", {"commands": commands, "confirm_time": 2}, write=True)
            router.close()
            sends.append(time.perf_counter() - built)
            builds.append(built - start)
        server.shutdown()
    return {
        "lines": len(commands),
        "body_kib": len(body) / 1024,
        "build": statistics.median(builds),
        "send": statistics.median(sends),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lines", type=int, default=10_000)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    for what, changed, writes in writes_per_apply():
        print(f"{what}: {changed} lines changed, {writes} write requests")
    for tenants in (3, 100):
        lines, requests, seconds = undo_after_partial_commit(tenants)
        print(
            f"undo of a partial commit ({tenants} tenants, one removed: {lines} lines): {requests} requests, "
            f"{seconds * 1000:.0f} ms from the start of the apply until the router is verified back as it was"
        )
    r = client_side(args.lines, args.repeat)
    print(
        f"{r['lines']}-line batch ({r['body_kib']:.0f} KiB): build {r['build'] * 1000:.0f} ms + send over TLS "
        f"{r['send'] * 1000:.0f} ms = {(r['build'] + r['send']) * 1000:.0f} ms client-side (median of {args.repeat})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
