"""The fault matrix: every way an apply to a real VyOS can go wrong, against the emulator.

No VyOS router runs here: ``tests/beds/vyos_emulator.py`` plays one, following VyOS's own code
(partial commits by priority subtree, either commit-confirm order, the lock message, 504s
from nginx, the API restarting, builds without commit-confirm, expiry rebooting into the
saved config; each behaviour names the vyos-1x or vyatta-cfg file it follows). Every
case runs against both confirm orders (the API server of 2024 arms the timer before it
commits, the one of 2025 after) and ends with the router's running and saved config
checked: exactly as before the apply, or as the apply wanted and saved, or reverted by
the timer to the saved config.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from providers import vyos
from providers.vyos import Router, VyosConfigProvider, VyosError
from tests.beds.test_vyos_provider import KEY, owned_running, props, rendered_config
from tests.beds.vyos_emulator import VyosEmulator
from tests.engine.project import bootstrap_config

ORDERS = ["arm-first", "commit-first"]
Tokens = tuple[str, ...]


class Case:
    """A router that fabric has applied the example dc1-r1 config to (running = saved), and
    the next apply: the same config without tenant initech (deletes and sets across many
    commit units)."""

    def __init__(self, router: VyosEmulator) -> None:
        self.router = router
        config, version = rendered_config()
        self.full = props(router, config, version)
        VyosConfigProvider().create(self.full)
        self.smaller = props(router, rendered_config(without="initech")[0], version)
        self.running: list[Tokens] = router.running()
        self.saved: list[Tokens] = router.saved
        assert self.running == self.saved
        router.clear_requests()

    def update(self) -> dict[str, Any]:
        outs = VyosConfigProvider().update("id", self.full, self.smaller).outs
        assert outs is not None
        return outs

    def assert_as_before(self, timer_left: bool = False) -> None:
        """Running and saved config as before the apply. ``timer_left``: the router armed a
        timer for the apply without saying so (it may have been anybody's, so fabric left it);
        running out, it takes the router to its saved config: the same."""
        assert self.router.running() == self.running
        assert self.router.saved == self.saved
        assert self.router.confirm_pending == timer_left
        if timer_left:
            assert self.router.expire_confirm_now()
            assert self.router.running() == self.router.saved == self.saved

    def assert_applied(self) -> None:
        outs = VyosConfigProvider().read("id", self.smaller).outs
        assert outs is not None and outs["drift"] == []
        assert self.router.saved == self.router.running()
        assert not self.router.confirm_pending


def emulator(order: str, **options: Any) -> VyosEmulator:
    return VyosEmulator(KEY, "1.5", initial=bootstrap_config(KEY, "1.5"), confirm_order=order, **options)


@pytest.fixture(params=ORDERS)
def order(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def case(order: str) -> Iterator[Case]:
    with emulator(order, time_scale=60.0) as router:
        yield Case(router)


def test_a_unit_failing_mid_batch_is_undone(case: Case, order: str) -> None:
    """The interfaces' units fail, the VRF, firewall, NAT and DHCP units commit: PARTIAL."""
    case.router.fail_next_commit("interface busy", path=["interfaces"])
    with pytest.raises(VyosError, match=r"(?s)interface busy.*\] failed.*back at its config from before"):
        case.update()
    assert case.router.partial_count == 1  # the rest of the batch had committed
    case.assert_as_before(timer_left=order == "arm-first")
    case.update()  # nothing left over: the next apply converges
    case.assert_applied()


def test_another_confirm_pending_is_left_alone(case: Case) -> None:
    """An operator's commit-confirm is running: fabric's change is refused (2024) or committed
    and then refused (2025); either way it is undone, and the operator's timer never confirmed."""
    operator = Router(case.full)
    operator.call("configure", {"op": "set", "path": ["system", "time-zone", "UTC"], "confirm_time": 10}, write=True)
    pending = case.router.running()
    with pytest.raises(VyosError, match=r"(?s)Another confirm is pending.*back at its config from before"):
        case.update()
    assert case.router.running() == pending and case.router.saved == case.saved
    assert case.router.confirm_pending
    assert case.router.expire_confirm_now()  # the operator's timer: back to the saved config
    case.assert_as_before()


@pytest.mark.parametrize("failure", ["invalid value", "failing unit"])
def test_a_foreign_timer_survives_any_failure(case: Case, failure: str) -> None:
    """Whatever fails, a commit-confirm somebody else started is never confirmed by fabric."""
    operator = Router(case.full)
    operator.call("configure", {"op": "set", "path": ["system", "time-zone", "UTC"], "confirm_time": 10}, write=True)
    pending = case.router.running()
    if failure == "invalid value":
        text = case.smaller["config"]["wireguard"]
        case.smaller["config"]["wireguard"] = text.replace("wg0 port '51820'", "wg0 port '70000'")
    else:
        case.router.fail_next_commit("interface busy", path=["interfaces"])
    with pytest.raises(VyosError, match="back at its config from before"):
        case.update()
    assert case.router.running() == pending and case.router.confirm_pending and case.router.confirmed == []
    assert case.router.expire_confirm_now()
    case.assert_as_before()


def test_a_504_after_the_commit_is_undone(order: str) -> None:
    """nginx gives up (proxy_read_timeout) while the commit goes on: the provider waits for
    the router's lock, finds the change committed, and puts it back."""
    with emulator(order, time_scale=60.0) as router:
        case = Case(router)
        router.gateway_timeout, router.commit_delay = 0.3, 0.6
        with pytest.raises(VyosError, match=r"(?s)HTTP 504.*back at its config from before"):
            case.update()
        router.gateway_timeout, router.commit_delay = None, 0.0
        case.assert_as_before(timer_left=True)  # the commit went on, and its timer with it


def test_the_api_restarting_during_the_read_back_is_waited_for(order: str) -> None:
    """A change under service https commits in the background and restarts the API (502s):
    neither the uncommitted session nor the restart is taken for the outcome."""
    with emulator(order, time_scale=60.0, background_delay=0.3, restart_seconds=0.8) as router:
        case = Case(router)
        text = case.smaller["config"]["system"]
        assert "allow-client address '172.16.1.0/24'" in text
        case.smaller["config"]["system"] = text.replace("172.16.1.0/24", "172.16.9.0/24")
        outs = case.update()
        assert outs["commit_confirm"] is True
        assert sorted(owned_running(router)["service https allow-client address"]) == ["172.16.9.0/24", "172.27.0.0/20"]
        assert router.saved == router.running() and not router.confirm_pending
        assert router.bad_gateway_count > 0  # the read-back did meet the restart


def test_a_client_timeout_is_undone(order: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with emulator(order, time_scale=60.0) as router:
        case = Case(router)
        monkeypatch.setattr(vyos, "CONFIGURE_TIMEOUT_PER_MINUTE_S", 0.05)  # 5 minutes: 0.25 s
        router.commit_delay = 0.8
        with pytest.raises(
            VyosError, match=r"(?s)lost the connection during configure.*back at its config from before"
        ):
            case.update()
        router.commit_delay = 0.0
        case.assert_as_before(timer_left=True)  # the commit went on, and its timer with it


def test_the_lock_message_twice_then_success(case: Case, order: str) -> None:
    """A CLI commit holds the lock twice. A 2024 server armed this apply's timer before each
    locked-out commit: the retry hears "Another confirm is pending" with nothing committed,
    so the timer is provably this apply's, and is stopped before the batch goes again."""
    case.router.busy_next(2)
    case.update()
    ops = [(r["ops"], r["status"]) for r in case.router.requests if r["endpoint"] == "/configure"]
    if order == "arm-first":
        # lock, pending (nothing committed: the timer is ours), confirm; again; then the batch
        assert [status for _, status in ops] == [400, 400, 200, 400, 400, 200, 200, 200]
    else:
        assert [status for _, status in ops] == [400, 400, 200, 200]  # lock, lock, batch, confirm
    case.assert_applied()


def test_a_build_without_commit_confirm(order: str) -> None:
    """confirm_time is ignored silently there: the answer has no timer, so no confirm is sent."""
    with emulator(order, supports_commit_confirm=False) as router:
        case = Case(router)
        outs = case.update()
        assert outs["commit_confirm"] is False
        assert not any(r["ops"] == ["confirm"] for r in router.requests)
        case.assert_applied()
        router.fail_next_commit("bridge refused", path=["interfaces", "bridge"])
        case.running, case.saved = router.running(), router.saved
        with pytest.raises(VyosError, match=r"(?s)bridge refused.*back at its config from before"):
            VyosConfigProvider().update("id", case.smaller, case.full)
        case.assert_as_before()  # no timer on such a build


def test_a_router_cut_off_by_the_change_is_reverted_by_its_timer(order: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vyos, "RETRIES", 2)
    monkeypatch.setattr(vyos, "RESTORE_ROUNDS", 2)
    monkeypatch.setattr(vyos, "RESTORE_PAUSE_S", 0.1)
    with emulator(order, time_scale=60.0) as router:
        case = Case(router)
        router.unreachable_after_commit(30.0)
        with pytest.raises(
            VyosError,
            match=r"(?s)putting the router back failed .*timer, if one runs, takes it back to its saved config",
        ):
            case.update()
        assert router.confirm_pending and router.running() != case.running
        assert router.expire_confirm_now()
        assert router.running() == router.saved == case.saved
