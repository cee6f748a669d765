"""The Linux VTEP reader (``fabric.devices.read.read_host``) over a real OpenSSH server.

The connection, the host-key pinning, the one script and its shell are real (Debian's
sshd on loopback, ``tests/beds/sshd.py``, running ``sh``, ``timeout`` and ``head``); the
tools it asks (``vtysh``, ``wg``, ``bridge``) are stand-ins in the session's ``PATH`` that
print what FRR, ``wg`` and ``iproute2`` print (their real answers are read in the lab
tests). What is tested here is the reader's own work: the answers split by question, the
private key of ``wg show dump`` cut on the host, a hung command stopped by ``timeout``, an
oversized answer cut, a script that never ran, and a host key that is not the pinned one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fabric.devices import read
from fabric.health import expect
from tests.beds.sshd import Sshd

PRIVATE_KEY = "cHJpdmF0ZS1rZXktbmV2ZXItdG8tbGVhdmUtdGhlLWhvc3Q="
SUMMARY = {"peers": {"172.27.1.1": {"state": "Established", "peerUptimeMsec": 61000, "pfxRcd": 4, "desc": "a1"}}}
VNIS = {
    "10010": {
        "vni": 10010,
        "type": "L2",
        "originatorIp": "172.27.1.2",
        "importRTs": ["65000:10010"],
        "exportRTs": ["65000:10010"],
    }
}
ROUTES = {
    "172.27.1.1:2": {
        "rd": "172.27.1.1:2",
        "[3]:[0]:[32]:[172.27.1.1]": {
            "paths": [
                {"valid": True, "routeType": 3, "ip": "172.27.1.1", "extendedCommunity": {"string": "RT:65000:10010"}}
            ]
        },
    }
}
FDB = [{"mac": "00:00:00:00:00:00", "ifname": "vxlan10010", "dst": "172.27.1.1", "flags": ["self"]}]


def tool(sshd: Sshd, name: str, body: str) -> None:
    path = sshd.bin / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Sshd]:
    server = Sshd(tmp_path / "sshd")
    answers = {
        "'show bgp l2vpn evpn summary json'": SUMMARY,
        "'show bgp l2vpn evpn vni json'": VNIS,
        "'show bgp l2vpn evpn json'": ROUTES,
    }
    cases = "\n".join(f"  {pattern}) echo '{json.dumps(answer)}' ;;" for pattern, answer in answers.items())
    tool(server, "vtysh", f'case "$2" in\n{cases}\nesac\n')
    now = "$(date +%s)"
    tool(
        server,
        "wg",
        f"printf '{PRIVATE_KEY}\\tpublic=\\t51820\\toff\\n'\n"
        f"printf 'peerkey=\\tpresharedsecret=\\t10.254.0.11:51820\\t172.27.1.1/32\\t%s\\t100\\t200\\t25\\n' {now}\n",
    )
    tool(server, "bridge", f"echo '{json.dumps(FDB)}'\n")
    with server:
        yield server


def target(sshd: Sshd, **changes: object) -> read.Target:
    props = {"host": "n2", "address": "127.0.0.1", "port": sshd.port, "user": "root", "host_key": sshd.host_key_line}
    return read.Target("n2", expect.NODE, {**props, **changes})


def creds(sshd: Sshd) -> read.Credentials:
    return read.Credentials(None, sshd.user_key)


def test_every_answer_is_read_and_no_secret_leaves_the_host(host: Sshd) -> None:
    facts = read.read_host(target(host), creds(host))
    assert facts.errors == ()
    assert facts.bgp is not None and [(s.peer, s.state, s.uptime_s) for s in facts.bgp] == [
        ("172.27.1.1", "Established", 61)
    ]
    assert facts.wireguard is not None and len(facts.wireguard) == 1
    peer = facts.wireguard[0]
    assert peer.mesh_addresses == ("172.27.1.1",) and peer.handshake_age_s is not None and peer.handshake_age_s < 60
    assert facts.vnis is not None and facts.vnis[0].remote_vteps == ("172.27.1.1",)
    assert facts.flood == {"vxlan10010": ("172.27.1.1",)}
    text = json.dumps(facts.to_json())
    assert PRIVATE_KEY not in text and "presharedsecret" not in text


def test_the_interface_line_and_preshared_keys_are_cut_on_the_host(host: Sshd) -> None:
    from providers.host import Host

    session = Host({**target(host).props, "private_key": host.user_key})
    try:
        _code, output = session.run(read.script(5))
    finally:
        session.close()
    assert PRIVATE_KEY not in output and "presharedsecret" not in output
    assert "peerkey=\t-\t10.254.0.11:51820" in output


def test_a_hung_command_is_stopped_and_named_and_the_rest_still_read(host: Sshd) -> None:
    tool(host, "bridge", "sleep 30\n")
    facts = read.read_host(target(host), creds(host), timeout=1)
    assert facts.bgp is not None and facts.wireguard is not None and facts.vnis is not None
    assert facts.flood is None
    assert facts.errors == ("flood: not `bridge -j fdb` JSON: (exit 124)",)


def test_an_oversized_answer_is_cut_and_does_not_parse(host: Sshd) -> None:
    tool(host, "bridge", f"head -c {read.ANSWER_BYTES + 4096} /dev/zero | tr '\\\\0' '['\n")
    facts = read.read_host(target(host), creds(host))
    assert facts.flood is None and facts.errors[0].startswith("flood: not `bridge -j fdb` JSON")
    assert facts.bgp is not None  # the answers after it are whole


def test_a_script_that_never_ran_says_why(host: Sshd, monkeypatch: pytest.MonkeyPatch) -> None:
    """A login user other than root reads through ``sudo -n``; when sudo refuses, the reason
    is the device's one error (not six empty answers)."""
    from providers.host import Host

    class SudoHost(Host):
        def __init__(self, props: Any, timeout: float, retries: int) -> None:
            super().__init__(props, timeout, retries)
            self.sudo = True  # sshd here only lets root in; the sudo path is the same

    tool(host, "sudo", "echo 'sudo: a password is required' >&2\nexit 1\n")
    monkeypatch.setattr(read, "Host", SudoHost)
    facts = read.read_host(target(host), creds(host))
    assert facts.errors == ("ssh: the read script did not run (exit code 1): sudo: a password is required",)


def test_a_host_key_that_is_not_the_pinned_one_is_refused(host: Sshd, tmp_path: Path) -> None:
    other = Sshd(tmp_path / "other")
    facts = read.read_host(target(host, host_key=other.host_key_line), creds(host))
    assert not facts.reached
    assert facts.errors[0].startswith("ssh: host n2 (127.0.0.1") and "not the pinned key" in facts.errors[0]
