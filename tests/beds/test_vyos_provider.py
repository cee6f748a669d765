"""The VyOS provider against the VyOS API emulator (no VyOS router runs here).

The emulator (``tests/beds/vyos_emulator.py``) follows vyos-http-api-server: partial commits,
commit-confirm, a global write lock, schema checks; the fault matrix is in
``tests/beds/test_vyos_faults.py``. These tests call the
provider's methods as the Pulumi engine would and look at the router from the outside.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

import markers
from fabric import deferred, loader, stackfile, topology
from fabric.components.router import sections_text
from fabric.deferred import API_KEY, WIREGUARD_PRIVATE_KEY
from fabric.render.vyos import (
    SECTIONS,
    RenderedRouter,
    all_owned_subtrees,
    keep_on_delete,
    owned_subtrees,
    render_routers,
)
from fabric.render.vyos.command import secret_paths
from providers import vyos
from providers.keys import generate_keypair
from providers.vyos import (
    Router,
    VyosConfigProvider,
    VyosError,
    desired_config,
    flatten,
    lines_config,
    owned,
    parse_lines,
    wanted_lines,
)
from tests.beds.vyos_emulator import VyosEmulator
from tests.conftest import ROOT, with_tenants
from tests.engine.project import bootstrap_config

KEY = "test-api-key"
PRIVATE, _ = generate_keypair()


def render(stack: str = "dc1", index: int = 0, without: str | None = None) -> RenderedRouter:
    """A router of an example stack, optionally without one tenant."""
    raw = stackfile.raw_config(ROOT, stack)
    if without:
        with_tenants(raw, [t for t in raw["tenants"] if t["name"] != without])
    inv = loader.load(raw)
    plan = topology.build(inv)
    return render_routers(plan)[index]


def rendered_config(stack: str = "dc1", index: int = 0, without: str | None = None) -> tuple[dict[str, str], str]:
    """A router's rendered config as the Router component passes it (per section, its ``set`` lines)."""
    rendered = render(stack, index, without)
    return sections_text(rendered), rendered.vyos_version


def late_inputs(config: dict[str, str]) -> dict[str, Any]:
    """The ``late`` and ``late_paths`` inputs the Router component gives a rendered config:
    every value known after ``up`` (here its stand-in) at the path the renderer put it."""
    late: dict[str, dict[str, str]] = {}
    paths: dict[str, list[list[str]]] = {}
    for text in config.values():
        for path, value, _ in parse_lines(text):
            found = markers.parse(value) if value is not None else None
            if found is not None and found[0] != markers.SECRET:
                late.setdefault(found[0], {})[found[1]] = deferred.of(*found).sample
                paths.setdefault(path, []).append(list(found))
    return {"late": late, "late_paths": paths} if paths else {}


def earlier_state(new: dict[str, Any], without: str | None = None) -> dict[str, Any]:
    """The state an earlier version of this provider left for the same router: ``config`` as
    ``{"<path words>": [values]}`` (what ``RenderedRouter.config()`` gives, with the values
    known after up in the text, as then), ``owns`` one list, no ``late`` inputs."""
    late = new.get("late") or {}
    text = {
        path: [late[found[0]][found[1]] if (found := markers.parse(v)) and found[0] != "secret" else v for v in values]
        for path, values in render(without=without).config().items()
    }
    return {
        **{k: v for k, v in new.items() if k not in ("late", "late_paths")},
        "config": text,
        "owns": [list(o) for o in all_owned_subtrees()],
        "writes": 3,
        "changed_lines": 348,
        "drift": [],
    }


def props(router: VyosEmulator, config: dict[str, str], version: str = "1.5", **extra: Any) -> dict[str, Any]:
    return {
        "router": "r1",
        "endpoint": router.url,
        "api_key": KEY,
        "tls": {"fingerprint": router.fingerprint_sha256},
        "vyos_version": version,
        "owns": {section: [list(o) for o in owned_subtrees(section)] for section in SECTIONS},
        "keep_on_delete": [list(k) for k in keep_on_delete()],
        "config": config,
        "secrets": {WIREGUARD_PRIVATE_KEY.name: PRIVATE, API_KEY.name: KEY},
        "secret_paths": secret_paths(render().commands()),
        **late_inputs(config),
        **extra,
    }


@pytest.fixture
def router() -> Iterator[VyosEmulator]:
    with VyosEmulator(KEY, "1.5", initial=bootstrap_config(KEY, "1.5"), time_scale=1.0) as emulator:
        yield emulator


def owned_running(router: VyosEmulator) -> dict[str, list[str]]:
    return owned(flatten(router.config_tree()), [list(o) for o in all_owned_subtrees()])


def test_first_apply_lays_down_the_config_in_three_writes(router: VyosEmulator) -> None:
    config, version = rendered_config()
    p = props(router, config, version)
    outs = VyosConfigProvider().create(p).outs
    running = owned_running(router)
    assert running["interfaces wireguard wg0 private-key"] == [PRIVATE]
    # The other router's key, known after up: filled in where the renderer put its marker.
    assert running["interfaces wireguard wg0 peer dc1-r2 public-key"] == [p["late"]["public-key"]["dc1-r2"]]
    want = lines_config(wanted_lines(p))
    assert len(want) > 300 and "set vrf name acme table '1010'" in config["vrf"]
    assert {
        p: v for p, v in running.items() if "private-key" not in p and p != "service https api keys id fabric key"
    } == {p: v for p, v in want.items() if not any(x.startswith("<secret:") for x in v)}
    assert outs is not None and outs["writes"] == 3 and router.write_count == 3
    assert router.saved == router.running()  # saved, so it survives a reboot
    assert not router.confirm_pending
    # What VyOS keeps for itself under fabric's roots is left alone.
    assert ("interfaces", "ethernet", "eth0", "hw-id", "52:54:00:12:34:56") in router.running()


def test_no_change_means_no_write(router: VyosEmulator) -> None:
    config, version = rendered_config()
    p = props(router, config, version)
    VyosConfigProvider().create(p)
    assert VyosConfigProvider().diff("id", p, p).changes is False
    router.clear_requests()
    read = VyosConfigProvider().read("id", p).outs
    assert read is not None and read["config"] == config and read["drift"] == []  # the refresh sees no drift
    outs = VyosConfigProvider().update("id", p, p).outs  # an explicit re-apply only saves again
    assert outs is not None and outs["changed_lines"] == 0
    assert [r["endpoint"] for r in router.requests if r["endpoint"] != "/retrieve"] == ["/config-file"]
    assert [r for r in router.requests if r["wrote"]] == []  # saving what is saved changes nothing


def test_a_rotated_key_is_one_line_and_never_shown(router: VyosEmulator) -> None:
    config, version = rendered_config()
    p = props(router, config, version)
    VyosConfigProvider().create(p)
    new_private, _ = generate_keypair()
    rotated = {**p, "secrets": {**p["secrets"], WIREGUARD_PRIVATE_KEY.name: new_private}}
    assert VyosConfigProvider().diff("id", p, rotated).changes
    outs = VyosConfigProvider().update("id", p, rotated).outs
    assert outs is not None and outs["changed_lines"] == 1  # one set overwrites the key
    assert owned_running(router)["interfaces wireguard wg0 private-key"] == [new_private]
    assert new_private not in str(outs["config"]) and PRIVATE not in str(outs["config"])


def test_a_failed_commit_leaves_the_router_unchanged_and_names_the_problem(router: VyosEmulator) -> None:
    config, version = rendered_config()
    applied = props(router, config, version)
    VyosConfigProvider().create(applied)
    before = router.running()
    smaller = props(router, rendered_config(without="initech")[0], version)
    router.fail_next_commit("Commit failed: interface br1030 is busy")
    with pytest.raises(VyosError, match=r"router r1: configure failed \(HTTP 400\).*br1030 is busy"):
        VyosConfigProvider().update("id", applied, smaller)
    assert router.running() == before
    # The timer this server armed before the failed commit cannot be told from somebody
    # else's: left to run out, it takes the router to its saved config, which is the same.
    assert router.confirm_pending and router.expire_confirm_now()
    assert router.running() == before == router.saved
    # An invalid line is refused with its path and the router's message, nothing applied.
    assert "set interfaces wireguard wg0 port '51820'\n" in config["wireguard"]
    wrong_port = config["wireguard"].replace("wg0 port '51820'", "wg0 port '70000'")
    bad = props(router, {**config, "wireguard": wrong_port}, version)
    with pytest.raises(VyosError, match=r"interfaces wireguard wg0 port.*'70000'.*1 to 65535"):
        VyosConfigProvider().update("id", applied, bad)
    assert router.running() == before


def test_a_commit_the_router_accepts_but_does_not_apply_is_undone(
    router: VyosEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """VyOS answers changes under ``service https`` before committing them in the background:
    the read-back finds the change missing, so it is put back, neither confirmed nor saved."""
    monkeypatch.setattr(vyos, "BACKGROUND_WAIT_S", 2.0)
    config, version = rendered_config()
    before = router.running()
    router.fail_next_commit("Commit failed in the background")
    with pytest.raises(VyosError, match=r"not in the running config .*; the router is back at its config from before"):
        VyosConfigProvider().create(props(router, config, version))
    assert router.running() == before and router.saved == before and not router.confirm_pending
    # The router said it armed this apply's timer: confirmed, and only once the router was back.
    assert router.confirmed == [before]


def test_a_connection_lost_after_commit_is_undone_and_the_next_apply_converges() -> None:
    with VyosEmulator(KEY, "1.5", initial=bootstrap_config(KEY, "1.5"), time_scale=60.0) as router:
        _connection_lost(router)


def _connection_lost(router: VyosEmulator) -> None:
    config, version = rendered_config()
    before = router.running()
    router.drop_connection_after_commit()
    with pytest.raises(VyosError, match=r"(?s)lost the connection during configure.*back at its config from before"):
        VyosConfigProvider().create(props(router, config, version))
    assert router.running() == before and router.saved == before
    # The answer never came, so the timer is not provably this apply's: it runs out (into the
    # saved config, the same), and until then a new apply is refused rather than confirming it.
    assert router.confirm_pending
    with pytest.raises(VyosError, match="Another confirm is pending"):
        VyosConfigProvider().create(props(router, config, version))
    assert router.expire_confirm_now() and router.running() == before
    VyosConfigProvider().create(props(router, config, version))
    want = desired_config(config)["interfaces wireguard wg0 address"]
    assert owned_running(router)["interfaces wireguard wg0 address"] == want


def test_an_operators_pending_commit_confirm_is_never_confirmed(router: VyosEmulator) -> None:
    """A pending commit-confirm may be an operator's safety net: never confirmed for them."""
    config, version = rendered_config()
    router.set_by_hand(("system", "domain-name", "operator.example"))  # hand-made, then under a timer:
    api = Router(props(router, config, version))
    api.call("configure", {"op": "set", "path": ["system", "time-zone", "UTC"], "confirm_time": 10}, write=True)
    pending = router.running()
    with pytest.raises(VyosError, match=r"Another confirm is pending.*back at its config from before"):
        VyosConfigProvider().create(props(router, config, version))
    assert router.running() == pending and router.confirm_pending
    assert router.expire_confirm_now()  # the router reverts the operator's unconfirmed commit
    VyosConfigProvider().create(props(router, config, version))
    assert owned_running(router)["system host-name"] == ["dc1-r1"] and not router.confirm_pending


def test_a_wrong_api_key_is_refused_clearly(router: VyosEmulator) -> None:
    config, version = rendered_config()
    with pytest.raises(VyosError, match=r"router r1: the API refused the key \(HTTP 401"):
        VyosConfigProvider().create(props(router, config, version, api_key="wrong"))


def test_a_certificate_that_is_not_the_pinned_one_is_refused_before_any_request(router: VyosEmulator) -> None:
    config, version = rendered_config()
    pinned = "00" * 32
    with pytest.raises(VyosError, match=r"not the pinned 0{64}; refusing to connect"):
        VyosConfigProvider().create(props(router, config, version, tls={"fingerprint": pinned}))
    assert router.requests == []  # the API key never left


def test_a_ca_bundle_verifies_and_a_wrong_one_is_refused(router: VyosEmulator) -> None:
    config, version = rendered_config()
    VyosConfigProvider().create(props(router, config, version, tls={"ca_pem": router.cert_pem}))
    with (
        VyosEmulator(KEY) as other,
        pytest.raises(VyosError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"),
    ):
        VyosConfigProvider().create(props(router, config, version, tls={"ca_pem": other.cert_pem}))


def test_drift_made_by_hand_is_read_and_repaired(router: VyosEmulator) -> None:
    config, version = rendered_config()
    p = props(router, config, version)
    VyosConfigProvider().create(p)
    router.set_by_hand(("interfaces", "vxlan", "vxlan10010", "description", "edited by hand"))
    router.delete_by_hand(("interfaces", "wireguard", "wg0", "peer", "dc1-r2"))
    hand_key = generate_keypair()[0]
    router.set_by_hand(("interfaces", "wireguard", "wg0", "private-key", hand_key))
    read = VyosConfigProvider().read("id", p).outs
    assert read is not None
    # The config output is what the router holds, each line in its section; unchanged sections stay as they were.
    was, now = desired_config(config), desired_config(read["config"])
    drift = {k: v for k, v in now.items() if was.get(k) != v} | {k: None for k in was if k not in now}
    assert drift["interfaces vxlan vxlan10010 description"] == ["edited by hand"]
    assert drift["interfaces wireguard wg0 peer dc1-r2 public-key"] is None
    assert "interfaces wireguard wg0 private-key" in drift
    assert now["interfaces wireguard wg0 private-key"][0].startswith("<redacted sha256:")  # never the key itself
    assert "set interfaces vxlan vxlan10010 description 'edited by hand'\n" in read["config"]["vxlan"]
    assert "dc1-r2" not in read["config"]["wireguard"] and hand_key not in str(read)
    assert {s for s in config if read["config"][s] != config[s]} == {"vxlan", "wireguard"}
    assert read["drift"][:2] == [
        "- interfaces vxlan vxlan10010 description 'tenant acme segment' (applied, gone from the router)",
        "+ interfaces vxlan vxlan10010 description 'edited by hand' (on the router, not in fabric's config)",
    ]
    assert VyosConfigProvider().diff("id", read, p).changes
    VyosConfigProvider().update("id", read, p)
    repaired = VyosConfigProvider().read("id", p).outs
    assert repaired is not None and repaired["config"] == config and repaired["drift"] == []


def test_adding_or_removing_a_tenant_touches_only_that_tenants_lines(router: VyosEmulator) -> None:
    config, version = rendered_config()
    without, _ = rendered_config(without="initech")
    lines, fewer = desired_config(config), desired_config(without)
    theirs = {p for p in lines if p not in fewer or lines[p] != fewer[p]}
    full = props(router, config, version)
    smaller = props(router, without, version)
    VyosConfigProvider().create(full)
    for old, new in ((full, smaller), (smaller, full)):
        router.clear_requests()
        VyosConfigProvider().update("id", old, new)
        batches = [
            r for r in router.requests if r["endpoint"] == "/configure" and r.get("ops") and r["ops"] != ["confirm"]
        ]
        assert len(batches) == 1
        assert sum(r["wrote"] for r in router.requests) == 3
    assert "vrf name initech table" in owned_running(router)
    assert theirs and all(
        "initech" in p or any(n in p for n in ("1030", "10030", "20030", "1060", "1061")) for p in theirs
    )


def test_two_applies_to_one_router_never_overlap() -> None:
    """Two resources on one router (disjoint subtrees), applied at once from two threads."""
    with VyosEmulator(KEY, initial=bootstrap_config(KEY, "1.5"), commit_delay=0.2) as router:
        base = props(router, {}, "1.5")
        first = {
            **base,
            "owns": {"system": [["system", "host-name"]]},
            "config": {"system": "set system host-name 'r1'"},
        }
        second = {
            **base,
            "owns": {"system": [["system", "domain-name"]]},
            "config": {"system": "set system domain-name 'fabric.internal'\n"},
        }
        errors: list[Exception] = []

        def apply(p: dict[str, Any]) -> None:
            try:
                VyosConfigProvider().create(p)
            except Exception as exc:
                errors.append(exc)

        threads = [threading.Thread(target=apply, args=(p,)) for p in (first, second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert router.max_concurrent_commits == 1
        assert ("system", "host-name", "r1") in router.running()
        assert ("system", "domain-name", "fabric.internal") in router.running()


def test_a_busy_router_is_retried_with_backoff() -> None:
    """A CLI commit holds VyOS's commit lock: the router answers the lock message, the provider
    waits and tries again (the fault matrix checks the timer a locked-out attempt arms)."""
    with VyosEmulator(KEY, initial=bootstrap_config(KEY, "1.5")) as router:
        p = props(router, {"system": "set system host-name 'r1'\n"}, "1.5", owns={"system": [["system", "host-name"]]})
        router.busy_next(1)
        VyosConfigProvider().create(p)
        statuses = [r["status"] for r in router.requests if r["endpoint"] == "/configure"]
        assert 400 in statuses and statuses[-1] == 200
        assert ("system", "host-name", "r1") in router.running() and not router.confirm_pending


def test_vyos_14_applies_without_commit_confirm() -> None:
    config, version = rendered_config("dc2", 1)
    assert version == "1.4"
    with VyosEmulator(KEY, "1.4", initial=bootstrap_config(KEY, "1.4")) as router:
        outs = VyosConfigProvider().create(props(router, config, version)).outs
        assert outs is not None and outs["writes"] == 2  # configure and save: there is nothing to confirm
        assert all(r.get("confirm_time") is None for r in router.requests)
        assert owned_running(router)["system host-name"] == ["dc2-r2"]


def test_commit_confirm_turned_off_applies_without_a_timer(router: VyosEmulator) -> None:
    """``api.commit_confirm: false`` (the Router component's ``confirm`` input): the batch asks
    for no timer, so nothing is confirmed; the change is committed and saved all the same."""
    config, version = rendered_config()
    outs = VyosConfigProvider().create(props(router, config, version, confirm=False)).outs
    assert outs is not None and outs["commit_confirm"] is False and outs["writes"] == 2
    assert all(r.get("confirm_time") is None for r in router.requests)
    assert owned_running(router)["system host-name"] == ["dc1-r1"] and router.saved == router.running()


def test_delete_removes_exactly_the_owned_subtrees(router: VyosEmulator) -> None:
    config, version = rendered_config()
    p = props(router, config, version)
    VyosConfigProvider().create(p)
    VyosConfigProvider().delete("id", p)
    left = owned_running(router)
    # What reaches the API stays: its key, REST, allow-client, port, and the trunk's VLANs.
    assert {p.split(" vif ")[0] if " vif " in p else p for p in left} == {
        "service https api keys id fabric key",
        "service https api rest",
        "service https allow-client address",
        "service https port",
        "interfaces ethernet eth0",
    }
    assert not any(p.startswith(("interfaces wireguard", "vrf", "protocols", "firewall")) for p in left)
    assert ("interfaces", "ethernet", "eth0", "hw-id", "52:54:00:12:34:56") in router.running()
    assert router.saved == router.running()


def test_state_written_by_an_earlier_version_is_read_without_a_change(router: VyosEmulator) -> None:
    """The state refers to the provider by module path (``providers.vyos``), not by its code,
    so this code meets earlier state (``config`` per path, ``owns`` one list) at the next
    preview, refresh, up or destroy: nothing changes that did not change."""
    config, version = rendered_config()
    new = props(router, config, version)
    old = earlier_state(new)
    assert old["config"]["vrf name acme table"] == ["1010"] and isinstance(old["owns"], list)
    VyosConfigProvider().create(old)  # the router as the earlier version left it (the same lines)
    router.clear_requests()
    assert VyosConfigProvider().diff("id", old, new).changes is False  # preview and up: nothing to do

    # A refresh before the next up: no drift, the state kept as it is.
    read = VyosConfigProvider().read("id", old).outs
    assert read is not None and read["config"] == old["config"] and read["drift"] == []
    assert [r for r in router.requests if r["wrote"]] == []

    # Drift on such state is found, and repaired by the next up.
    router.set_by_hand(("interfaces", "vxlan", "vxlan10010", "description", "edited by hand"))
    drifted = VyosConfigProvider().read("id", old).outs
    assert drifted is not None and drifted["drift"] == [
        "- interfaces vxlan vxlan10010 description 'tenant acme segment' (applied, gone from the router)",
        "+ interfaces vxlan vxlan10010 description 'edited by hand' (on the router, not in fabric's config)",
    ]
    assert "set interfaces vxlan vxlan10010 description 'edited by hand'\n" in drifted["config"]["config"]
    assert VyosConfigProvider().diff("id", drifted, new).changes
    outs = VyosConfigProvider().update("id", drifted, new).outs
    assert outs is not None and outs["changed_lines"] == 2 and outs["config"] == config  # one delete, one set
    assert owned_running(router)["interfaces vxlan vxlan10010 description"] == ["tenant acme segment"]

    # A real change against earlier state: an update of exactly that change, one batch.
    smaller, _ = rendered_config(without="initech")
    assert VyosConfigProvider().diff("id", old, {**new, "config": smaller}).changes
    router.clear_requests()
    outs = VyosConfigProvider().update("id", old, {**new, "config": smaller}).outs
    assert outs is not None and outs["writes"] == 3
    assert "vrf name initech table" not in owned_running(router) and "vrf name acme table" in owned_running(router)
    assert (
        VyosConfigProvider().diff("id", earlier_state(new, without="initech"), {**new, "config": smaller}).changes
        is False
    )

    # A destroy of such state removes exactly the owned subtrees.
    VyosConfigProvider().delete("id", earlier_state(new, without="initech"))
    assert not any(
        p.startswith(("interfaces wireguard", "vrf", "protocols", "firewall")) for p in owned_running(router)
    )
    assert "service https api keys id fabric key" in owned_running(router)
