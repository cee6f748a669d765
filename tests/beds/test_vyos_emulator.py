"""The VyOS API emulator against real HTTPS requests (httpx, TLS verified against the
emulator's own certificate).

The VyOS provider's tests are only as good as the router they run against, so these
tests pin the emulator to the behaviour of vyos-http-api-server: request forms, status
codes and error texts, atomic commits checked by the schema, commit-confirm, the global
lock, and the faults the provider must survive.
"""

from __future__ import annotations

import hashlib
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.beds.vyos_emulator import (
    API_KEY_ERROR,
    EMPTY_PATH_ERROR,
    INVALID_PATH_ERROR,
    SELF_REF_MSG,
    VyosEmulator,
    make_self_signed_cert,
)

KEY = "emulator-test-key"
WG_PRIVATE = "gMRVLo7DbhSMctN0p1Ywp3hKKBwlutmR+7YG12+b82g="
WG_PEER = "9miewjV1pzq8SGF0LLFRUUEUj4X10ENq4R6yL6iwPiQ="

BASE: list[tuple[str, ...]] = [
    tuple(line.split())
    for line in f"""
system host-name r1
system name-server 192.0.2.53
system name-server 192.0.2.54
interfaces loopback lo address 10.255.0.1/32
interfaces ethernet eth0 address 192.0.2.1/24
interfaces ethernet eth0 description uplink
interfaces ethernet eth2 address 198.51.100.1/24
interfaces ethernet eth10 disable
vrf name RED table 100
vrf name RED vni 10010
interfaces dummy dum0 address 10.10.0.1/24
interfaces dummy dum0 vrf RED
interfaces vxlan vxlan10010 vni 10010
interfaces vxlan vxlan10010 source-address 10.255.0.1
interfaces vxlan vxlan10010 parameters nolearning
interfaces wireguard wg0 address 10.99.0.1/24
interfaces wireguard wg0 private-key {WG_PRIVATE}
interfaces wireguard wg0 port 51820
interfaces wireguard wg0 peer site2 public-key {WG_PEER}
interfaces wireguard wg0 peer site2 allowed-ips 10.99.0.2/32
interfaces wireguard wg0 peer site2 address 203.0.113.2
interfaces wireguard wg0 peer site2 port 51820
protocols bgp system-as 65001
protocols bgp neighbor 10.99.0.2 remote-as 65002
protocols bgp neighbor 10.99.0.2 description site2
vrf name RED protocols bgp system-as 65001
protocols static route 0.0.0.0/0 next-hop 192.0.2.254
vrf name RED protocols static route 10.20.0.0/16 next-hop 10.10.0.254
""".strip().splitlines()
]

SET_NTP: dict[str, Any] = {"op": "set", "path": ["service", "ntp", "server", "time.example.net"]}


class Api:
    """A client of one emulated router that verifies its certificate."""

    def __init__(self, emulator: VyosEmulator, key: str = KEY) -> None:
        self.emulator = emulator
        self.key = key
        self.client = httpx.Client(
            base_url=emulator.url, verify=ssl.create_default_context(cadata=emulator.cert_pem), timeout=10
        )

    def post(self, endpoint: str, **body: Any) -> httpx.Response:
        return self.client.post(endpoint, json={"key": self.key, **body})

    def ok(self, endpoint: str, **body: Any) -> Any:
        """POST and insist on success; returns ``data``."""
        response = self.post(endpoint, **body)
        reply = response.json()
        assert response.status_code == 200, reply
        assert reply["success"] is True and reply["error"] is None, reply
        return reply["data"]

    def fails(self, endpoint: str, status: int = 400, **body: Any) -> str:
        """POST and insist on the failure reply; returns ``error``."""
        response = self.post(endpoint, **body)
        reply = response.json()
        assert response.status_code == status, reply
        assert reply == {"success": False, "data": None, "error": reply["error"]}
        assert isinstance(reply["error"], str)
        return reply["error"]

    def show_config(self, *path: str) -> Any:
        return self.ok("/retrieve", op="showConfig", path=list(path))


@pytest.fixture
def emu() -> Iterator[VyosEmulator]:
    with VyosEmulator(KEY, initial=BASE, time_scale=0.05, restart_seconds=0.0) as emulator:
        yield emulator


@pytest.fixture
def api(emu: VyosEmulator) -> Iterator[Api]:
    client = Api(emu)
    yield client
    client.client.close()


def wait_until(predicate: Callable[[], bool], timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


# ------------------------------------------------------------------------------- TLS, life cycle


def test_certificate_is_what_the_server_presents(emu: VyosEmulator) -> None:
    assert emu.url == f"https://127.0.0.1:{emu.port}"
    context = ssl.create_default_context(cafile=str(emu.cert_path))
    with (
        socket.create_connection(("127.0.0.1", emu.port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    assert emu.fingerprint_sha256 == hashlib.sha256(der).hexdigest()
    assert emu.fingerprint_sha256 == emu.fingerprint_sha256.lower() and len(emu.fingerprint_sha256) == 64
    assert emu.cert_path.read_text() == emu.cert_pem
    # "localhost" is in the SAN too; an unrelated trust store refuses the certificate.
    with httpx.Client(verify=ssl.create_default_context(cadata=emu.cert_pem)) as client:
        assert client.post(f"https://localhost:{emu.port}/retrieve", json={}).status_code == 400
    stranger = ssl.create_default_context(cadata=make_self_signed_cert()[0])
    with (
        httpx.Client(verify=stranger) as client,
        pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        client.post(f"{emu.url}/retrieve", json={})


def test_stopped_router_is_unreachable() -> None:
    emulator = VyosEmulator(KEY).start()
    api = Api(emulator)
    assert api.ok("/retrieve", op="exists", path=[]) is True
    emulator.stop()
    with pytest.raises(httpx.TransportError):
        api.post("/retrieve", op="exists", path=[])


def test_initial_config_must_pass_the_schema() -> None:
    with pytest.raises(ValueError, match="no 'bogus' here"):
        VyosEmulator(KEY, initial=[("interfaces", "bogus")])
    with pytest.raises(ValueError, match="refers to 'vrf name BLUE'"):
        VyosEmulator(KEY, initial=[("interfaces", "dummy", "dum1", "vrf", "BLUE")])


# ------------------------------------------------------------------------------- request forms, auth


def test_wrong_key_is_401_in_every_form(emu: VyosEmulator, api: Api) -> None:
    bad = Api(emu, key="wrong")
    for endpoint, body in [
        ("/configure", SET_NTP),
        ("/retrieve", {"op": "showConfig", "path": []}),
        ("/config-file", {"op": "save"}),
        ("/show", {"op": "show", "path": ["version"]}),
    ]:
        assert bad.fails(endpoint, 401, **body) == API_KEY_ERROR
    form = api.client.post("/configure", data={"key": "wrong", "data": json.dumps(SET_NTP)})
    assert form.status_code == 401 and form.json()["error"] == API_KEY_ERROR
    missing = api.client.post("/configure", data={"data": json.dumps(SET_NTP)})
    assert missing.status_code == 401 and missing.json()["error"] == API_KEY_ERROR
    # A JSON body without "key" fails validation first, as on the router.
    no_key = api.client.post("/configure", json=SET_NTP)
    assert no_key.status_code == 400 and "'key'" in no_key.json()["error"]
    assert ("service", "ntp", "server", "time.example.net") not in emu.running()
    assert emu.write_count == 0


def test_json_single_command_with_value_field_or_value_in_path(emu: VyosEmulator, api: Api) -> None:
    response = api.post("/configure", op="set", path=["interfaces", "dummy", "dum1", "address"], value="10.1.0.1/24")
    assert response.headers["content-type"].startswith("text/html")  # HTMLResponse, like the router
    assert response.json() == {"success": True, "data": "", "error": None}
    api.ok("/configure", op="set", path=["interfaces", "dummy", "dum1", "address", "10.1.1.1/24"])
    assert api.show_config("interfaces", "dummy", "dum1") == {"address": ["10.1.0.1/24", "10.1.1.1/24"]}


def test_form_encoded_and_multipart_requests(emu: VyosEmulator, api: Api) -> None:
    # url-encoded, one command
    one = api.client.post("/configure", data={"key": KEY, "data": json.dumps(SET_NTP)})
    assert one.status_code == 200 and one.json()["success"]
    # url-encoded, a JSON list as data: one batch
    batch = [
        {"op": "set", "path": ["interfaces", "dummy", "dum5", "address", "10.5.0.1/24"]},
        {"op": "set", "path": ["interfaces", "dummy", "dum5", "description", "five"]},
    ]
    two = api.client.post("/configure", data={"key": KEY, "data": json.dumps(batch)})
    assert two.status_code == 200 and two.json()["success"]
    # multipart/form-data, as curl -F sends it
    files = {"key": (None, KEY), "data": (None, json.dumps({"op": "showConfig", "path": ["interfaces", "dummy"]}))}
    three = api.client.post("/retrieve", files=files)
    assert three.status_code == 200
    assert three.json()["data"] == {
        "dummy": {
            "dum0": {"address": ["10.10.0.1/24"], "vrf": "RED"},
            "dum5": {"address": ["10.5.0.1/24"], "description": "five"},
        }
    }
    assert ("service", "ntp", "server", "time.example.net") in emu.running()
    assert [r["form"] for r in emu.requests] == [
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ]
    assert [r["ops"] for r in emu.requests] == [["set"], ["set", "set"], ["showConfig"]]


def test_malformed_requests(emu: VyosEmulator, api: Api) -> None:
    raw = api.client.post("/configure", content=b"{not json", headers={"Content-Type": "application/json"})
    assert raw.status_code == 400 and "JSON decode error" in raw.json()["error"]
    form = api.client.post("/configure", data={"key": KEY, "data": "{not json"})
    assert form.status_code == 400 and form.json()["error"].startswith("Failed to parse JSON:")
    no_data = api.client.post("/configure", data={"key": KEY})
    assert no_data.status_code == 422 and no_data.json()["error"] == "Non-empty data field is required"
    no_path = api.client.post("/retrieve", data={"key": KEY, "data": json.dumps({"op": "showConfig"})})
    assert no_path.status_code == 400 and "missing 'path' field" in no_path.json()["error"]
    # On 1.5 a body that is no ConfigureModel but has an "op" is a ConfirmModel (FastAPI's Union).
    assert api.fails("/configure", op="set", path=[]) == "'set' is not a valid operation"
    with VyosEmulator(KEY, version="1.4") as old:
        assert "path must be non-empty" in Api(old).fails("/configure", op="set", path=[])
    assert "Input should be a valid list" in api.fails("/retrieve", op="exists", path="system")
    assert "Input should be a valid string" in api.fails("/retrieve", op="exists", path=["system", 5])
    assert api.fails("/configure", op="frobnicate", path=["system"]) == "'frobnicate' is not a valid operation"
    assert api.fails("/retrieve", op="frobnicate", path=[]) == "'frobnicate' is not a valid operation"
    assert api.fails("/config-file", op="frobnicate") == "'frobnicate' is not a valid operation"
    assert api.fails("/show", op="frobnicate", path=[]) == "'frobnicate' is not a valid operation"
    unknown = api.post("/nowhere")
    assert unknown.status_code == 404 and unknown.json() == {"detail": "Not Found"}
    wrong_method = api.client.get("/configure")
    assert wrong_method.status_code == 405 and wrong_method.json() == {"detail": "Method Not Allowed"}
    assert emu.write_count == 0


# ------------------------------------------------------------------------------- /configure


def test_batch_is_atomic_and_names_the_bad_path(emu: VyosEmulator, api: Api) -> None:
    before = emu.running()
    error = api.fails(
        "/configure",
        commands=[
            {"op": "set", "path": ["interfaces", "dummy", "dum7", "address", "10.7.0.1/24"]},
            {"op": "delete", "path": ["system", "name-server", "192.0.2.54"]},
            {"op": "set", "path": ["interfaces", "ethernet", "eth0", "adress", "10.0.0.1/24"]},
        ],
    )
    assert "[interfaces ethernet eth0 adress 10.0.0.1/24]" in error
    assert "no 'adress' here" in error and "Set failed" in error
    bad_value = api.fails(
        "/configure",
        commands=[SET_NTP, {"op": "set", "path": ["interfaces", "ethernet", "eth0", "mtu"], "value": "99999"}],
    )
    assert "[interfaces ethernet eth0 mtu 99999]" in bad_value
    assert "value '99999' is invalid" in bad_value and "Value validation failed" in bad_value
    missing_value = api.fails("/configure", op="set", path=["interfaces", "ethernet", "eth0", "mtu"])
    assert "missing value" in missing_value
    assert emu.running() == before
    assert emu.write_count == 0


def test_commit_checks_references_across_the_whole_config(emu: VyosEmulator, api: Api) -> None:
    dangling = api.fails("/configure", op="set", path=["interfaces", "dummy", "dum1", "vrf", "BLUE"])
    assert "[ interfaces dummy dum1 vrf BLUE ]" in dangling
    assert "'BLUE' refers to 'vrf name BLUE'" in dangling and "Commit failed" in dangling
    assert ("interfaces", "dummy", "dum1", "vrf", "BLUE") not in emu.running()
    api.ok(
        "/configure",
        commands=[
            {"op": "set", "path": ["vrf", "name", "BLUE", "table", "200"]},
            {"op": "set", "path": ["interfaces", "dummy", "dum1", "vrf", "BLUE"]},
        ],
    )
    # Deleting a VRF that an unchanged interface still names breaks that interface's line.
    in_use = api.fails("/configure", op="delete", path=["vrf", "name", "RED"])
    assert "interfaces dummy dum0 vrf: 'RED' refers to 'vrf name RED'" in in_use
    assert ("vrf", "name", "RED", "table", "100") in emu.running()


def test_delete_semantics_and_strict_mode(emu: VyosEmulator, api: Api) -> None:
    missing = api.fails("/configure", op="delete", path=["interfaces", "ethernet", "eth9"])
    assert missing == "Cannot delete [interfaces ethernet eth9]: path/value does not exist"
    invalid = api.fails("/configure", op="delete", path=["interfaces", "ethernet", "eth0", "nonsense"])
    assert "[interfaces ethernet eth0 nonsense] is not valid" in invalid and "Delete failed" in invalid
    # one value of a multi-valued leaf; the leaf goes with its last value
    api.ok("/configure", op="delete", path=["system", "name-server"], value="192.0.2.53")
    assert api.show_config("system", "name-server") == {"name-server": ["192.0.2.54"]}
    # the last tag value takes its tag node with it; a typeless parent stays
    api.ok("/configure", op="delete", path=["interfaces", "wireguard", "wg0", "peer", "site2"])
    assert "peer" not in api.show_config("interfaces", "wireguard", "wg0")
    api.ok("/configure", op="delete", path=["protocols", "static"])
    assert api.fails("/retrieve", op="showConfig", path=["protocols", "static"]) == EMPTY_PATH_ERROR
    with VyosEmulator(KEY, initial=BASE, strict=False) as lenient:
        # without "service https api strict" the router says "Nothing to delete" and succeeds
        assert Api(lenient).ok("/configure", op="delete", path=["interfaces", "ethernet", "eth9"]) == ""
        assert lenient.running() == VyosEmulator(KEY, initial=BASE).running()


def test_set_of_what_exists_changes_nothing(emu: VyosEmulator, api: Api) -> None:
    api.ok("/configure", op="set", path=["system", "host-name", "r1"])
    assert emu.requests[-1]["wrote"] is False
    assert emu.write_count == 0 and emu.write_requests == 1
    api.ok("/configure", op="set", path=["system", "host-name", "r2"])  # a single-value leaf is replaced
    assert api.ok("/retrieve", op="returnValue", path=["system", "host-name"]) == "r2"
    assert emu.write_count == 1 and emu.write_requests == 2
    emu.clear_requests()
    assert emu.requests == [] and emu.write_count == 0 and emu.write_requests == 0


def test_comment(emu: VyosEmulator, api: Api) -> None:
    api.ok("/configure", op="comment", path=["interfaces", "ethernet", "eth0"], value="the uplink")
    raw = api.ok("/retrieve", op="showConfig", path=["interfaces"], configFormat="raw")
    assert "/* the uplink */\nethernet eth0 {" in raw
    missing = api.fails("/configure", op="comment", path=["interfaces", "ethernet", "eth7"], value="x")
    assert missing == "The specified config node does not exist\n"


def test_changes_to_the_api_service_commit_in_the_background(emu: VyosEmulator, api: Api) -> None:
    key_path = ["service", "https", "api", "keys", "id", "fabric", "key", "secret"]
    assert api.ok("/configure", op="set", path=key_path) == SELF_REF_MSG
    assert tuple(key_path) not in emu.running()  # answered first, committed after
    assert wait_until(lambda: tuple(key_path) in emu.running())
    # The router answers before its background commit, so a failing unit is silent; the
    # other units of the same commit go through (a commit is partial, not atomic).
    quiet = api.ok(
        "/configure",
        commands=[
            {"op": "set", "path": ["service", "https", "api", "rest"]},
            {"op": "set", "path": ["interfaces", "dummy", "dum1", "vrf", "BLUE"]},
        ],
    )
    assert quiet == SELF_REF_MSG
    assert ("service", "https", "api", "rest") not in emu.running()  # not yet
    # until the background commit, reads show the API's session: the candidate
    assert api.ok("/retrieve", op="exists", path=["interfaces", "dummy", "dum1", "vrf"]) is True
    assert wait_until(lambda: ("service", "https", "api", "rest") in emu.running())
    assert ("interfaces", "dummy", "dum1", "vrf", "BLUE") not in emu.running()
    assert api.ok("/retrieve", op="exists", path=["interfaces", "dummy", "dum1", "vrf"]) is False


def test_the_api_restarts_after_a_background_commit() -> None:
    """service_https.py restarts vyos-http-api after the commit: nginx answers 502 meanwhile."""
    with VyosEmulator(KEY, initial=BASE, background_delay=0.05, restart_seconds=0.5) as emulator:
        api = Api(emulator)
        api.ok("/configure", op="set", path=["service", "https", "api", "rest"])
        assert wait_until(lambda: api.post("/retrieve", op="exists", path=["system"]).status_code == 502)
        gone = api.post("/retrieve", op="exists", path=["system"])
        assert "502 Bad Gateway" in gone.text and gone.headers["content-type"].startswith("text/html")
        assert wait_until(lambda: api.post("/retrieve", op="exists", path=["system"]).status_code == 200)


# ------------------------------------------------------------------------------- commit-confirm


def test_unconfirmed_commit_rolls_back_when_the_timer_expires(emu: VyosEmulator, api: Api) -> None:
    before = emu.running()
    data = api.ok("/configure", commands=[SET_NTP], confirm_time=1)  # 1 minute = 0.05 s here
    assert data == "Initialized commit-confirm; 1 minutes to confirm before reboot\n"
    assert emu.requests[-1]["confirm_time"] == 1
    assert wait_until(lambda: not emu.confirm_pending)
    assert emu.running() == before
    assert emu.rollback_count == 1
    # Confirming too late is not an error on the router: there is just nothing to confirm.
    assert api.ok("/configure", op="confirm") == "No confirm pending\n"


def test_confirmed_commit_stays() -> None:
    with VyosEmulator(KEY, initial=BASE, time_scale=0.1) as emulator:
        api = Api(emulator)
        api.ok("/configure", commands=[SET_NTP], confirm_time=2)
        assert emulator.confirm_pending
        assert api.ok("/retrieve", op="exists", path=SET_NTP["path"]) is True
        assert api.ok("/configure", op="confirm") == "Reboot timer stopped\n"
        assert emulator.requests[-1]["wrote"] is True
        time.sleep(0.3)
        assert ("service", "ntp", "server", "time.example.net") in emulator.running()
        assert emulator.rollback_count == 0 and not emulator.confirm_pending
        # /config-file also confirms (1.5)
        api.ok("/configure", op="delete", path=SET_NTP["path"], confirm_time=5)
        assert api.ok("/config-file", op="confirm") == "Reboot timer stopped\n"
        assert emulator.expire_confirm_now() is False
        assert ("service", "ntp", "server", "time.example.net") not in emulator.running()


def test_one_confirm_at_a_time_and_the_timer_survives_a_failed_commit() -> None:
    with VyosEmulator(KEY, initial=BASE, time_scale=60, strict_confirm=True) as emulator:
        api = Api(emulator)
        assert api.fails("/configure", op="confirm") == "No confirm pending\n"
        api.ok("/configure", commands=[SET_NTP], confirm_time=10)
        assert api.fails("/configure", op="set", path=["system", "host-name", "r9"], confirm_time=10) == (
            "Another confirm is pending\n"
        )
        assert emulator.expire_confirm_now() is True
        assert ("service", "ntp", "server", "time.example.net") not in emulator.running()
        # The router starts the timer before it commits, so a refused commit leaves one.
        api.fails("/configure", op="set", path=["interfaces", "dummy", "dum1", "vrf", "BLUE"], confirm_time=10)
        assert emulator.confirm_pending
        before = emulator.running()
        assert emulator.expire_confirm_now() is True
        assert emulator.running() == before


def test_vyos_1_4_has_no_commit_confirm_and_no_rest_node() -> None:
    with VyosEmulator(KEY, version="1.4", initial=BASE) as old:
        assert not old.supports_commit_confirm
        api = Api(old)
        # pydantic ignores the unknown field: the change commits with no timer at all
        assert api.ok("/configure", commands=[SET_NTP], confirm_time=1) is None
        assert not old.confirm_pending and ("service", "ntp", "server", "time.example.net") in old.running()
        refused = api.fails("/configure", op="confirm")
        assert "'path'" in refused and "field required" in refused
        assert api.fails("/config-file", op="confirm") == "'confirm' is not a valid operation"
        rest = api.fails("/configure", op="set", path=["service", "https", "api", "rest"])
        assert "[service https api rest] is not valid" in rest and "no 'rest' here" in rest
    with VyosEmulator(KEY, version="1.5", initial=BASE) as new:
        assert new.supports_commit_confirm
        assert Api(new).ok("/configure", op="set", path=["service", "https", "api", "rest"]) == SELF_REF_MSG


# ------------------------------------------------------------------------------- lock and faults


def test_global_lock_serialises_concurrent_writes() -> None:
    with VyosEmulator(KEY, initial=BASE, commit_delay=0.15) as emulator:
        results: list[int] = []

        def write(n: int) -> None:
            api = Api(emulator)
            response = api.post("/configure", op="set", path=["interfaces", "dummy", f"dum{n}", "description", "x"])
            results.append(response.status_code)

        start = time.monotonic()
        threads = [threading.Thread(target=write, args=(n,)) for n in (1, 2, 3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == [200, 200, 200]
        assert emulator.max_concurrent_commits == 1
        assert time.monotonic() - start >= 0.45  # three commits, one after another
        assert {("interfaces", "dummy", f"dum{n}", "description", "x") for n in (1, 2, 3)} <= set(emulator.running())


def test_a_cli_commits_lock_fails_the_commit_with_its_message() -> None:
    """vyatta-cfg doCommit's message, a 400 like any failed commit; a 2024 server armed the timer first."""
    with VyosEmulator(KEY, initial=BASE, time_scale=60) as emulator:
        emulator.busy_next(2)
        error = Api(emulator).fails("/configure", op="set", path=["system", "host-name", "r9"], confirm_time=5)
        assert error == "Configuration system temporarily locked due to another commit in progress\n"
        assert emulator.confirm_pending and ("system", "host-name", "r9") not in emulator.running()
        assert Api(emulator).ok("/configure", op="confirm") == "Reboot timer stopped\n"
        assert "temporarily locked" in Api(emulator).fails("/configure", op="set", path=["system", "host-name", "r9"])
        Api(emulator).ok("/config-file", op="save")  # not a commit: no lock message
        Api(emulator).ok("/configure", op="set", path=["system", "host-name", "r9"])
    with VyosEmulator(KEY, initial=BASE, time_scale=60, confirm_order="commit-first") as later:
        later.busy_next(1)
        Api(later).fails("/configure", op="set", path=["system", "host-name", "r9"], confirm_time=5)
        assert not later.confirm_pending


def test_reads_during_a_commit_show_the_session() -> None:
    """showConfig reads the API's session: while a commit runs, the candidate (routers.py retrieve_op)."""
    with VyosEmulator(KEY, initial=BASE, commit_delay=0.4) as emulator:
        writer = threading.Thread(target=lambda: Api(emulator).post("/configure", **SET_NTP))
        writer.start()
        assert wait_until(lambda: emulator.commit_in_progress)
        assert Api(emulator).ok("/retrieve", op="exists", path=SET_NTP["path"]) is True
        assert ("service", "ntp", "server", "time.example.net") not in emulator.running()
        writer.join()


def test_nginx_answers_504_while_a_slow_commit_goes_on() -> None:
    with VyosEmulator(KEY, initial=BASE, commit_delay=0.6, gateway_timeout=0.2) as emulator:
        reply = Api(emulator).post("/configure", **SET_NTP)
        assert reply.status_code == 504 and "504 Gateway Time-out" in reply.text
        assert ("service", "ntp", "server", "time.example.net") not in emulator.running()
        assert wait_until(lambda: ("service", "ntp", "server", "time.example.net") in emulator.running())


def test_dropped_connection_after_commit_then_rollback(emu: VyosEmulator, api: Api) -> None:
    emu.drop_connection_after_commit()
    with pytest.raises(httpx.TransportError):
        api.post("/configure", commands=[SET_NTP], confirm_time=1)
    assert emu.requests[-1]["dropped"] is True
    # the change was committed and its timer runs; nobody confirms it
    assert wait_until(lambda: emu.rollback_count == 1)
    assert ("service", "ntp", "server", "time.example.net") not in emu.running()
    # the next request gets an answer again
    api.ok("/configure", commands=[SET_NTP])
    assert ("service", "ntp", "server", "time.example.net") in emu.running()


def test_dropped_connection_without_confirm_keeps_the_change(emu: VyosEmulator, api: Api) -> None:
    emu.drop_connection_after_commit()
    api.fails("/configure", op="set", path=["system", "host-name", "bad name"])  # no commit: a reply
    with pytest.raises(httpx.TransportError):
        api.post("/configure", **SET_NTP)
    assert ("service", "ntp", "server", "time.example.net") in emu.running()


def test_fail_next_commit(emu: VyosEmulator, api: Api) -> None:
    before = emu.running()
    emu.fail_next_commit("ntp: <server> unreachable")
    assert api.fails("/configure", commands=[SET_NTP]) == (
        "ntp: &lt;server&gt; unreachable\n[[service ntp]] failed\nCommit failed\n"  # HTML-escaped, as models.py error()
    )
    assert emu.running() == before
    api.ok("/configure", commands=[SET_NTP])
    assert ("service", "ntp", "server", "time.example.net") in emu.running()


def test_a_commit_is_partial_unit_by_unit(emu: VyosEmulator, api: Api) -> None:
    """vyatta-cfg commit-algorithm.cpp: a failing priority subtree leaves the others committed."""
    emu.fail_next_commit("bgp refused", path=["protocols", "bgp"])
    error = api.fails(
        "/configure",
        commands=[SET_NTP, {"op": "set", "path": ["protocols", "bgp", "system-as", "65003"]}],
    )
    assert error == "bgp refused\n[[protocols bgp]] failed\nCommit failed\n"
    running = emu.running()
    assert ("service", "ntp", "server", "time.example.net") in running
    assert ("protocols", "bgp", "system-as", "65003") not in running and (
        "protocols",
        "bgp",
        "system-as",
        "65001",
    ) in running


def test_commit_first_order_arms_no_timer_for_a_failed_commit_and_commits_despite_a_pending_one() -> None:
    with VyosEmulator(KEY, initial=BASE, time_scale=60, confirm_order="commit-first") as emulator:
        api = Api(emulator)
        api.fails("/configure", op="set", path=["interfaces", "dummy", "dum1", "vrf", "BLUE"], confirm_time=10)
        assert not emulator.confirm_pending
        api.ok("/configure", commands=[SET_NTP], confirm_time=10)
        assert emulator.confirm_pending
        refused = api.fails("/configure", op="set", path=["system", "host-name", "r9"], confirm_time=10)
        assert refused == "Another confirm is pending\n"
        assert ("system", "host-name", "r9") in emulator.running()  # committed all the same


def test_expiry_reboots_into_the_saved_config() -> None:
    """config_mgmt.py revert: a reboot; the router boots its saved config, unreachable meanwhile."""
    with VyosEmulator(KEY, initial=BASE, time_scale=60, reboot_seconds=0.5) as emulator:
        api = Api(emulator)
        api.ok("/configure", op="set", path=["system", "host-name", "r2"])
        api.ok("/config-file", op="save")
        api.ok("/configure", commands=[SET_NTP], confirm_time=10)
        assert emulator.expire_confirm_now()
        with pytest.raises(httpx.TransportError):
            api.post("/retrieve", op="exists", path=["system"])
        assert wait_until(lambda: not emulator.is_down)
        running = emulator.running()
        assert ("system", "host-name", "r2") in running
        assert ("service", "ntp", "server", "time.example.net") not in running


def test_unreachable_after_commit() -> None:
    with VyosEmulator(KEY, initial=BASE, time_scale=60) as emulator:
        emulator.unreachable_after_commit(0.5)
        with pytest.raises(httpx.TransportError):
            Api(emulator).post("/configure", commands=[SET_NTP], confirm_time=10)
        assert emulator.is_down and emulator.confirm_pending
        assert wait_until(lambda: not emulator.is_down)
        assert ("service", "ntp", "server", "time.example.net") in emulator.running()


def test_hand_made_drift(emu: VyosEmulator, api: Api) -> None:
    emu.set_by_hand(["interfaces", "ethernet", "eth0", "description", "changed by hand"])
    emu.delete_by_hand(["interfaces", "ethernet", "eth2"])
    assert api.show_config("interfaces", "ethernet", "eth0")["description"] == "changed by hand"
    assert api.ok("/retrieve", op="exists", path=["interfaces", "ethernet", "eth2"]) is False
    with pytest.raises(ValueError, match="not valid"):
        emu.set_by_hand(["interfaces", "ethernet", "eth0", "speed", "fast"])
    with pytest.raises(ValueError, match="Nothing to delete"):
        emu.delete_by_hand(["interfaces", "ethernet", "eth2"])
    with pytest.raises(ValueError, match="refers to 'vrf name GREEN'"):
        emu.set_by_hand(["interfaces", "dummy", "dum0", "vrf", "GREEN"])
    assert emu.write_count == 0 and emu.write_requests == 0  # hand edits are not API writes
    assert emu.saved != emu.running()  # nor are they saved


# ------------------------------------------------------------------------------- /config-file


def test_save_and_load(emu: VyosEmulator, api: Api) -> None:
    assert emu.saved == emu.running()
    api.ok("/configure", commands=[SET_NTP])
    assert emu.saved != emu.running()
    assert api.ok("/config-file", op="save") == "Saving configuration to '/config/config.boot'...\nDone\n"
    assert emu.saved == emu.running() and emu.requests[-1]["wrote"] is True
    api.ok("/config-file", op="save")  # nothing new to save
    assert emu.requests[-1]["wrote"] is False
    saved = emu.running()
    assert api.ok("/config-file", op="save", file="/config/before.config").startswith("Saving configuration to")
    api.ok("/configure", op="delete", path=["protocols", "bgp"])
    api.ok("/config-file", op="load", file="/config/config.boot")
    assert emu.running() == saved
    assert set(emu.saved_files) == {"/config/config.boot", "/config/before.config"}
    assert api.fails("/config-file", op="load") == 'Missing required field "file | string"'
    assert "No such file" in api.fails("/config-file", op="load", file="/config/nowhere.config")


# ------------------------------------------------------------------------------- /retrieve


def test_show_config_shapes(emu: VyosEmulator, api: Api) -> None:
    whole = api.show_config()
    assert list(whole) == ["interfaces", "protocols", "system", "vrf"]
    assert whole == emu.config_tree()
    # a node: its children; valueless leaves are {}
    assert api.show_config("interfaces", "vxlan", "vxlan10010") == {
        "parameters": {"nolearning": {}},
        "source-address": "10.255.0.1",
        "vni": "10010",
    }
    # a tag node: {tag: {value: {...}}}, values in config order (eth2 before eth10)
    ethernet = api.show_config("interfaces", "ethernet")
    assert list(ethernet) == ["ethernet"]
    assert list(ethernet["ethernet"]) == ["eth0", "eth2", "eth10"]
    assert ethernet["ethernet"]["eth10"] == {"disable": {}}
    # a leaf: {leaf: value}; a multi-valued leaf: {leaf: [values]}
    assert api.show_config("system", "host-name") == {"host-name": "r1"}
    assert api.show_config("system", "name-server") == {"name-server": ["192.0.2.53", "192.0.2.54"]}
    # a valueless leaf asked for directly is a childless typeless node to the router
    assert api.fails("/retrieve", op="showConfig", path=["interfaces", "ethernet", "eth10", "disable"]) == (
        EMPTY_PATH_ERROR
    )
    assert api.fails("/retrieve", op="showConfig", path=["interfaces", "bridge"]) == EMPTY_PATH_ERROR
    assert api.fails("/retrieve", op="showConfig", path=["interfaces", "ethernet", "eth7"]) == EMPTY_PATH_ERROR
    assert api.fails("/retrieve", op="showConfig", path=["interfaces", "nonsense"]) == INVALID_PATH_ERROR
    raw = api.ok("/retrieve", op="showConfig", path=["interfaces", "vxlan"], configFormat="raw")
    assert raw == (
        "vxlan vxlan10010 {\n    parameters {\n        nolearning\n    }\n"
        "    source-address 10.255.0.1\n    vni 10010\n}\n"
    )
    assert emu.running()[0] == ("interfaces", "dummy", "dum0", "address", "10.10.0.1/24")
    assert emu.running().index(("interfaces", "ethernet", "eth2", "address", "198.51.100.1/24")) < (
        emu.running().index(("interfaces", "ethernet", "eth10", "disable"))
    )


def test_exists_and_return_values(api: Api) -> None:
    def retrieve(op: str, *path: str) -> Any:
        return api.ok("/retrieve", op=op, path=list(path))

    assert retrieve("exists", "interfaces", "ethernet", "eth0") is True
    assert retrieve("exists", "interfaces", "ethernet", "eth10", "disable") is True
    assert retrieve("exists", "system", "name-server", "192.0.2.54") is True
    assert retrieve("exists", "system", "name-server", "192.0.2.99") is False
    assert retrieve("exists", "interfaces", "ethernet", "eth7") is False
    assert retrieve("exists", "interfaces", "nonsense") is False
    assert retrieve("returnValue", "system", "host-name") == "r1"
    assert retrieve("returnValue", "system", "domain-name") is None
    assert retrieve("returnValues", "system", "name-server") == ["192.0.2.53", "192.0.2.54"]
    assert retrieve("returnValues", "system", "host-name") == ["r1"]
    assert retrieve("returnValues", "interfaces", "ethernet") == []


# ------------------------------------------------------------------------------- /show


def test_show_is_derived_from_the_running_config(api: Api) -> None:
    def show(*path: str) -> str:
        text = api.ok("/show", op="show", path=list(path))
        assert isinstance(text, str)
        return text

    vxlan = show("interfaces", "vxlan")
    assert "vxlan10010" in vxlan and "10010" in vxlan.split("vxlan10010", 1)[1]
    assert "vxlan id 10010 local 10.255.0.1" in show("interfaces", "vxlan", "vxlan10010")
    wireguard = show("interfaces", "wireguard", "wg0", "summary")
    assert f"public key: {WG_PEER}" in wireguard and "allowed ips: 10.99.0.2/32" in wireguard
    assert "endpoint: 203.0.113.2:51820" in wireguard and "latest handshake" not in wireguard
    bgp = show("bgp", "summary")
    assert "local AS number 65001" in bgp and "10.99.0.2" in bgp and "65002" in bgp
    assert "VRF RED" in show("bgp", "vrf", "all", "summary")
    routes = show("ip", "route", "vrf", "all")
    assert "VRF default:" in routes and "S>* 0.0.0.0/0 [1/0] via 192.0.2.254" in routes
    assert "VRF RED:" in routes and "C>* 10.10.0.0/24 is directly connected, dum0" in routes
    assert "S>* 10.20.0.0/16 [1/0] via 10.10.0.254" in routes.split("VRF RED:", 1)[1]
    assert "set system host-name 'r1'" in show("configuration", "commands")
    assert "RED" in show("vrf")
    assert "VyOS 1.5" in show("version")
    invalid = api.fails("/show", op="show", path=["nonsense"])
    assert "Invalid command: show [nonsense]" in invalid
