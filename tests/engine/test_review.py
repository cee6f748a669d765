"""``python -m fabric review``: the pull-request report of ``pulumi preview --json``.

Unit tests of ``fabric/review.py`` on the preview's JSON shapes (routers, host concerns,
keys, cloud resources, the old generic type, unknowns, secrets, hostile text, GitHub's
size limit), the subcommand with a stand-in ``pulumi`` (arguments, errors, exit codes),
and the real engine: a stack brought up on emulated devices, a tenant added, and the
report checked against what the next ``up`` really changes.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from markdown_it import MarkdownIt

from fabric import review
from tests.conftest import ROOT
from tests.engine.project import Project

ROUTER = review.ROUTER_TYPE
HOST = review.HOST_TYPE
KEY = review.KEY_TYPE
U = review.UNKNOWN


def _urn(type_: str, name: str) -> str:
    return f"urn:pulumi:dc1::fabric::fabric:index:Datacenter${type_}::{name}"


def _step(
    op: str,
    type_: str,
    name: str,
    old: Mapping[str, Any] | None = None,
    new: Mapping[str, Any] | None = None,
    *,
    old_outputs: Mapping[str, Any] | None = None,
    new_outputs: Mapping[str, Any] | None = None,
    parent: str = "",
    **extra: Any,
) -> dict[str, Any]:
    step: dict[str, Any] = {"op": op, "urn": _urn(type_, name), **extra}
    if old is not None:
        step["oldState"] = {"type": type_, "inputs": dict(old), "outputs": dict(old_outputs or old), "parent": parent}
    if new is not None:
        step["newState"] = {"type": type_, "inputs": dict(new), "parent": parent}
        if new_outputs is not None:
            step["newState"]["outputs"] = dict(new_outputs)
    return step


def _preview(*steps: dict[str, Any], summary: Mapping[str, int] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"steps": [{"op": "same", "urn": "urn:pulumi:dc1::fabric::pulumi:pulumi:Stack::fabric-dc1"}]}
    out["steps"] += steps
    if summary is not None:
        out["changeSummary"] = dict(summary)
    return out


def _report(*steps: dict[str, Any], summary: Mapping[str, int] | None = None, **options: Any) -> str:
    return review.markdown([review.stack_report("dc1", _preview(*steps, summary=summary))], **options)


def _router(config: Mapping[str, Any] | str, name: str = "dc1-r1", **more: Any) -> dict[str, Any]:
    return {
        "router": name,
        "config": config,
        "endpoint": "https://192.0.2.1",
        "api_key": "[secret]",
        "secrets": "[secret]",
        **more,
    }


def _host(files: Any, actions: Any, host: str = "dc1-hv1", concern: str = "ovs", **more: Any) -> dict[str, Any]:
    return {"host": host, "concern": concern, "files": files, "actions": actions, "private_key": "[secret]", **more}


def _file(content: str, mode: int = 0o644, owner: str = "root", **more: Any) -> dict[str, Any]:
    return {"content": content, "mode": mode, "owner": owner, "reload": ["networkd-reload"], **more}


def _sections(report: str) -> dict[str, dict[str, list[str]]]:
    """Per device heading, per intro line before a fence, the fence's lines."""
    out: dict[str, dict[str, list[str]]] = {}
    device = intro = ""
    lines = iter(report.split("\n"))
    for line in lines:
        if line.startswith("#### "):
            device, intro = line[5:], ""
            out[device] = {}
        elif re.fullmatch(r"`{3,}diff", line):
            closer = line[: -len("diff")]
            body = []
            for inner in lines:
                if inner == closer:
                    break
                body.append(inner)
            out[device][intro] = body
        elif line.strip():
            intro = line
    return out


# ----------------------------------------------------------------------------- routers


def test_a_router_update_shows_each_sections_added_and_removed_lines() -> None:
    old = {
        "vrf": "set vrf name acme table '1010'\nset vrf name acme vni '20010'\n",
        "nat": "set nat source rule 1010 description 'tenant acme egress'\nset nat source rule 1010 old 'x'\n",
        "system": "set system host-name 'dc1-r1'\nset service https api keys id fabric key '<secret:vyos-api-key>'\n",
        "static": "set protocols static route 0.0.0.0/0 next-hop 5.254.54.1\n",
    }
    new = {
        # hooli added; acme's vni line only moved: no change
        "vrf": "set vrf name acme table '1010'\nset vrf name hooli table '1050'\nset vrf name acme vni '20010'\n",
        "nat": "set nat source rule 1010 description 'tenant acme egress'\n",
        "system": "set system host-name 'dc1-r1'\nset service https api keys id fabric key '<secret:vyos-api-key>'\n",
        # a line moved to another section is no change either
        "bgp": "set protocols static route 0.0.0.0/0 next-hop 5.254.54.1\n",
        "static": "",
        "wireguard": "set interfaces wireguard wg0 peer dc2-r1 public-key '<public-key:dc2-r1>'\n",
    }
    report = _report(
        _step("update", ROUTER, "dc1-r1-vyos", _router(old), _router(new)), summary={"update": 1, "same": 20}
    )
    assert "| 0 | 1 | 0 | 0 | 20 |" in report.split("\n")
    sections = _sections(report)["router `dc1-r1`"]
    assert sections == {
        "`vrf`: 1 added, 0 removed": ["+set vrf name hooli table '1050'"],
        "`nat`: 0 added, 1 removed": ["-set nat source rule 1010 old 'x'"],
        # a value known only after up, as a marker: shown as it is
        "`wireguard`: 1 added, 0 removed": [
            "+set interfaces wireguard wg0 peer dc2-r1 public-key '<public-key:dc2-r1>'"
        ],
    }
    assert "host-name" not in report and "bgp" not in report  # unchanged lines and sections stay out


def test_a_created_router_shows_every_line_added_and_a_deleted_one_every_line_removed() -> None:
    config = {"vrf": "set vrf name acme table '1010'\n", "system": "set system host-name 'dc1-r9'\n"}
    report = _report(
        _step("create", ROUTER, "dc1-r9-vyos", new=_router(config, name="dc1-r9")),
        _step("delete", ROUTER, "dc1-r8-vyos", old=_router(config, name="dc1-r8")),
        summary={"create": 1, "delete": 1},
    )
    sections = _sections(report)
    assert sections["router `dc1-r9`"] == {
        "`vrf`: 1 added, 0 removed": ["+set vrf name acme table '1010'"],
        "`system`: 1 added, 0 removed": ["+set system host-name 'dc1-r9'"],
    }
    assert sections["router `dc1-r8`"] == {
        "`vrf`: 0 added, 1 removed": ["-set vrf name acme table '1010'"],
        "`system`: 0 added, 1 removed": ["-set system host-name 'dc1-r9'"],
    }
    assert "- **create** router config `dc1-r9-vyos`" in report
    assert "- **delete** router config `dc1-r8-vyos`" in report
    assert "| 1 | 0 | 0 | 1 | 0 |" in report


def test_values_known_only_after_up() -> None:
    report = _report(
        _step("create", ROUTER, "dc1-r1-vyos", new=_router(U)),
        _step("update", ROUTER, "dc1-r2-vyos", _router({"vrf": "set vrf a"}, "dc1-r2"), _router({"vrf": U}, "dc1-r2")),
        _step("create", HOST, "dc1-hv1-ovs", new=_host({"/etc/a": _file(U)}, U)),
        _step("replace", KEY, "dc1-r1-wg-key", {"rotation": "0.0"}, {"rotation": "1.0"}, replaceReasons=["rotation"]),
    )
    assert "- the new config: (known after up)" in report
    assert "- `vrf`: (known after up)" in report
    assert "- `/etc/a`: content (known after up)" in report
    assert "- actions: (known after up)" in report
    assert (
        "- **replace** key `dc1-r1-wg-key`: `rotation` `0.0` → `1.0` (forces replacement); public key (known after up)"
        in report
    )
    assert U not in report


def test_values_known_after_up_are_named_by_their_markers() -> None:
    """A peer's new public key changes no rendered line (the config holds its marker): the
    ``late`` input's change is what shows, per marker; a file's slots are bookkeeping."""
    wg = {"wireguard": "set interfaces wireguard wg0 peer dc2-r1 public-key '<public-key:dc2-r1>'\n"}
    late_old = {"public-key": {"dc2-r1": "KVjpDsQhsSnIUAHu+bsSmARW3T20i6Tbj+ZmlV7yPyY=", "dc2-r2": "same="}}
    late_new = {"public-key": {"dc2-r1": U, "dc2-r2": "same="}, "endpoint": {"aws-n1": "198.51.100.7"}}
    paths = {"interfaces wireguard wg0 peer dc2-r1 public-key": [["public-key", "dc2-r1"]]}
    content = "[Peer]\nPublicKey=<public-key:dc2-r1>\n"
    report = _report(
        _step(
            "update",
            ROUTER,
            "dc1-r1-vyos",
            _router(wg, late=late_old, late_paths=paths),
            _router(wg, late=late_new, late_paths={**paths, "x": []}),
        ),
        _step(
            "update",
            HOST,
            "n1-wg",
            _host({"/etc/wg": _file(content, late=[[19, "public-key", "dc2-r1"]])}, [], "n1", late=late_old),
            _host({"/etc/wg": _file("#\n" + content, late=[[21, "public-key", "dc2-r1"]])}, [], "n1", late=late_new),
        ),
    )
    router = "- `<public-key:dc2-r1>` `KVjpDsQhsSnIUAHu+bsSmARW3T20i6Tbj+ZmlV7yPyY=` → (known after up)"
    endpoint = "- `<endpoint:aws-n1>` (none) → `198.51.100.7`"
    assert report.count(router) == 2 and report.count(endpoint) == 2
    assert "dc2-r2" not in report and "late_paths" not in report and "`late`" not in report
    assert _sections(report)["host `n1`"]["`ovs` (**update** `n1-wg`): 1 file"] == [
        "--- /etc/wg",
        "+++ /etc/wg",
        "@@ -1,2 +1,3 @@",
        "+#",
        " [Peer]",
        " PublicKey=<public-key:dc2-r1>",
    ]


def test_drift_the_last_refresh_found_is_listed() -> None:
    config = {"vxlan": "set interfaces vxlan vxlan10010 description 'tenant acme segment'\n"}
    drift = [
        "- interfaces vxlan vxlan10010 description 'tenant acme segment' (applied, gone from the router)",
        "+ interfaces vxlan vxlan10010 description 'edited by hand' (on the router, not in fabric's config)",
    ]
    outputs = {**_router(config), "drift": drift}
    report = _report(_step("update", ROUTER, "dc1-r1-vyos", _router(config), _router(config), old_outputs=outputs))
    assert _sections(report)["router `dc1-r1`"] == {"drift found by the last refresh (`up` puts it back):": drift}


def test_drift_shows_no_digest_of_a_secret() -> None:
    """The provider's drift names a changed secret by a digest; the report shows neither value nor digest."""
    config = {"system": "set system login user vyos authentication plaintext-password <secret:admin>\n"}
    drift = [
        "+ system login user vyos authentication encrypted-password <redacted sha256:0123456789ab> (on the router)"
    ]
    outputs = {**_router(config), "drift": drift}
    report = _report(_step("update", ROUTER, "dc1-r1-vyos", _router(config), _router(config), old_outputs=outputs))
    shown = _sections(report)["router `dc1-r1`"]["drift found by the last refresh (`up` puts it back):"]
    assert shown == ["+ system login user vyos authentication encrypted-password <redacted> (on the router)"]
    assert "0123456789ab" not in report


def test_state_from_before_sections_compares_by_line() -> None:
    """``config`` as ``{"<path words>": [values]}`` (old state) against sections: only real changes."""
    old = {"vrf name acme table": ["1010"], "protocols static route 0.0.0.0/0 next-hop 5.254.54.1": []}
    new = {
        "vrf": "set vrf name acme table '1010'\nset vrf name hooli table '1050'\n",
        "static": "set protocols static route 0.0.0.0/0 next-hop 5.254.54.1\n",
    }
    report = _report(_step("update", ROUTER, "dc1-r1-vyos", _router(old), _router(new)))
    assert _sections(report)["router `dc1-r1`"] == {"`vrf`: 1 added, 0 removed": ["+set vrf name hooli table '1050'"]}


def test_the_old_generic_type_is_told_apart_by_its_inputs() -> None:
    generic = review.GENERIC_TYPE
    report = _report(
        _step("update", generic, "dc1-r1-vyos", _router({"vrf": ""}), _router({"vrf": "set vrf name x table '1'"})),
        _step(
            "update", generic, "dc1-hv1-ovs", _host({"/etc/a": _file("a\n")}, []), _host({"/etc/a": _file("b\n")}, [])
        ),
        _step("replace", generic, "dc1-r1-wg-key", {"rotation": "0.0"}, {"rotation": "1.0"}),
    )
    sections = _sections(report)
    assert sections["router `dc1-r1`"] == {"`vrf`: 1 added, 0 removed": ["+set vrf name x table '1'"]}
    assert sections["host `dc1-hv1`"]["`ovs` (**update** `dc1-hv1-ovs`): 1 file"] == [
        "--- /etc/a",
        "+++ /etc/a",
        "@@ -1 +1 @@",
        "-a",
        "+b",
    ]
    assert "- **replace** key `dc1-r1-wg-key`: `rotation` `0.0` → `1.0`" in report
    assert "other resources" not in report


# ----------------------------------------------------------------------------- hosts


def test_a_host_concern_shows_file_diffs_mode_owner_and_actions() -> None:
    old_files = {
        "/etc/systemd/network/10-bond0.netdev": _file("[NetDev]\nName=bond0\nMTUBytes=1500\n"),
        "/etc/fabric/ovs/br0.sh": _file("#!/bin/sh\nold\n", mode=0o644),
        "/etc/gone.conf": _file("bye\n"),
        "/etc/same.conf": _file("same\n"),
    }
    new_files = {
        "/etc/systemd/network/10-bond0.netdev": _file("[NetDev]\nName=bond0\nMTUBytes=9000\n"),
        "/etc/fabric/ovs/br0.sh": _file("#!/bin/sh\nold\n", mode=0o755, owner="fabric"),
        "/etc/new.conf": _file("hello\n"),
        "/etc/same.conf": _file("same\n"),
    }
    old_actions = [
        {"name": "networkd-reload", "commands": [["networkctl", "reload"]]},
        {"name": "ovs-bridge", "commands": [["ovs-vsctl", "add-port", "br0", "vt-dc1-r1"]]},
    ]
    new_actions = [
        {"name": "networkd-reload", "commands": [["networkctl", "reload"]]},
        {"name": "ovs-bridge", "commands": [["ovs-vsctl", "add-port", "br0", "vt-dc1-r1"], ["sh", "-c", "echo 'a b'"]]},
    ]
    report = _report(
        _step("update", HOST, "dc1-hv1-ovs", _host(old_files, old_actions), _host(new_files, new_actions, port=2222))
    )
    host = _sections(report)["host `dc1-hv1`"]
    assert host["`ovs` (**update** `dc1-hv1-ovs`): 4 files, actions 1 added, 1 removed"] == [
        "--- /etc/systemd/network/10-bond0.netdev",
        "+++ /etc/systemd/network/10-bond0.netdev",
        "@@ -1,3 +1,3 @@",
        " [NetDev]",
        " Name=bond0",
        "-MTUBytes=1500",
        "+MTUBytes=9000",
        "--- /dev/null",
        "+++ /etc/new.conf",
        "@@ -0,0 +1 @@",
        "+hello",
        "--- /etc/gone.conf",
        "+++ /dev/null",
        "@@ -1 +0,0 @@",
        "-bye",
    ]
    assert host["`ovs` actions:"] == [
        "-ovs-bridge: ovs-vsctl add-port br0 vt-dc1-r1",
        "+ovs-bridge: ovs-vsctl add-port br0 vt-dc1-r1 && sh -c 'echo '\"'\"'a b'\"'\"''",
    ]
    assert "- `/etc/fabric/ovs/br0.sh`: `mode` `0644` → `0755`" in report
    assert "- `/etc/fabric/ovs/br0.sh`: `owner` `root` → `fabric`" in report
    assert "- `port` (none) → `2222`" in report
    assert "same.conf" not in report


def test_actions_as_readable_strings() -> None:
    """The actions' coming shape: one readable line each."""
    old = _host({}, ["reload systemd-networkd", "add port vt-dc1-r1 to br0"])
    new = _host({}, ["reload systemd-networkd", "add port vt-dc1-r2 to br0"])
    report = _report(
        _step("update", HOST, "dc1-hv1-ovs", old, new),
        _step(
            "create",
            HOST,
            "dc1-hv2-vms",
            new=_host({"/etc/u": _file("")}, ["start fabric-vm@dc1-r2"], "dc1-hv2", "vms"),
        ),
    )
    sections = _sections(report)
    assert sections["host `dc1-hv1`"]["`ovs` actions:"] == ["-add port vt-dc1-r1 to br0", "+add port vt-dc1-r2 to br0"]
    assert sections["host `dc1-hv2`"] == {
        "`vms` (**create** `dc1-hv2-vms`): 1 file, actions 1 added, 0 removed": ["--- /dev/null", "+++ /etc/u"],
        "`vms` actions:": ["+start fabric-vm@dc1-r2"],
    }


# ----------------------------------------------------------------------------- keys, clouds, others


def test_keys_cloud_resources_and_components_are_one_line_each() -> None:
    instance = "aws:ec2/instance:Instance"
    report = _report(
        _step("create", KEY, "dc1-r3-wg-key", new={"rotation": "0.0"}, new_outputs={"public_key": U}),
        _step(
            "update",
            instance,
            "aws-node",
            {"instanceType": "t3.small", "userData": "[secret]", "tags": {"Name": "aws-node"}},
            {"instanceType": "t3.medium", "userData": "[secret]", "tags": {"Name": "aws-node"}},
            parent="urn:pulumi:dc1::fabric::fabric:cloud:AwsExtension::aws",
            diffReasons=["instanceType", "userData"],
        ),
        _step(
            "replace",
            "gcp:compute/instance:Instance",
            "gcp-node",
            {"zone": "europe-west3-a"},
            {"zone": "europe-west3-b"},
            parent="urn:pulumi:dc1::fabric::fabric:cloud:GcpExtension::gcp",
            replaceReasons=["zone"],
        ),
        _step("create", "fabric:index:Tenant", "dc1-hooli", new={}),
    )
    sections = _sections(report)
    assert "mesh member `dc1-r3`" in sections
    assert "- **create** key `dc1-r3-wg-key`: public key (known after up)" in report
    assert (
        "- **update** `aws:ec2/instance:Instance` `aws-node`: `instanceType` `t3.small` → `t3.medium`; "
        "`userData` changed (value not shown)"
    ) in report
    assert (
        "- **replace** `gcp:compute/instance:Instance` `gcp-node`: `zone` `europe-west3-a` → `europe-west3-b` "
        "(forces replacement)"
    ) in report
    assert "cloud `aws`" in sections and "cloud `gcp`" in sections
    assert "- **create** `dc1-hooli` (`fabric:index:Tenant`)" in report
    assert "tags" not in report  # unchanged properties stay out


def test_counts_without_a_change_summary_come_from_the_steps() -> None:
    report = _report(
        _step("create", KEY, "a-wg-key", new={"rotation": "0"}),
        _step("delete-replaced", KEY, "b-wg-key", old={"rotation": "0"}),
        _step("create-replacement", KEY, "b-wg-key", new={"rotation": "1"}),
        _step("read", "pulumi:pulumi:StackReference", "dc2", new={}),
    )
    assert "| 1 | 0 | 1 | 0 | 0 |" in report
    assert "- **replace** key `b-wg-key`: `rotation` `0` → `1`" in report
    assert "StackReference" not in report


def test_no_change() -> None:
    report = _report(summary={"same": 24})
    assert "| 0 | 0 | 0 | 0 | 24 |" in report and "No changes." in report


# ----------------------------------------------------------------------------- secrets and hostile text


def test_secret_values_are_never_printed() -> None:
    """Whatever the JSON holds (a preview run with --show-secrets, an envelope, a nested
    key), values of ``secrets``, ``api_key`` and ``private_key`` never appear; markers do."""
    envelope = {review.SECRET_SIG: "1b47061264138c4ac30d75fd1eb44270", "plaintext": '"envelope-plaintext"'}
    old = _router(
        {"system": "set service https api keys id fabric key '<secret:vyos-api-key>'\n"},
        api_key="old-api-key-plain",
        secrets={"vyos-api-key": "old-api-key-plain", "wireguard-private-key": "old-wg-private"},
    )
    new = _router(
        {
            "system": "set service https api keys id fabric key '<secret:vyos-api-key>'\nset system x\n",
            "wireguard": "set interfaces wireguard wg0 private-key '<secret:wireguard-private-key>'\n",
        },
        api_key="new-api-key-plain",
        secrets={"vyos-api-key": "new-api-key-plain", "wireguard-private-key": "new-wg-private"},
        tls={"ca": "x", "private_key": "tls-private-plain"},
    )
    host_old = _host(
        {"/etc/wg": _file("PrivateKey=<secret:wg>\n", secrets=[[11, "wg"]])}, [], concern="wg", private_key="ssh-old"
    )
    host_new = _host(
        {"/etc/wg": _file("PrivateKey=<secret:wg>\nListenPort=1\n", secrets=[[11, "wg"]])},
        [{"name": "a", "commands": [["true"]], "private_key": "action-private"}],
        concern="wg",
        private_key="ssh-new",
        secrets={"wg": "host-wg-private"},
    )
    report = _report(
        _step("update", ROUTER, "dc1-r1-vyos", old, new),
        _step("update", HOST, "dc1-hv1-wg", host_old, host_new),
        _step("replace", KEY, "dc1-r1-wg-key", {"rotation": "0"}, {"rotation": "1", "private_key": "key-plain"}),
        _step("update", "azure-native:compute:VirtualMachine", "vm", {"customData": "a"}, {"customData": envelope}),
    )
    for value in (
        "api-key-plain",
        "wg-private",
        "tls-private-plain",
        "ssh-old",
        "ssh-new",
        "host-wg-private",
        "action-private",
        "key-plain",
        "envelope-plaintext",
        "1b47061264138c4ac30d75fd1eb44270",
    ):
        assert value not in report
    assert _sections(report)["router `dc1-r1`"] == {
        "`system`: 1 added, 0 removed": ["+set system x"],
        "`wireguard`: 1 added, 0 removed": [
            "+set interfaces wireguard wg0 private-key '<secret:wireguard-private-key>'"
        ],
    }
    assert "`api_key` changed (value not shown)" in report
    assert "`private_key` changed (value not shown)" in report
    assert "`customData` changed (value not shown)" in report
    assert (
        " PrivateKey=<secret:wg>"
        in _sections(report)["host `dc1-hv1`"]["`wg` (**update** `dc1-hv1-wg`): 1 file, actions 1 added, 0 removed"]
    )


def _fences_and_spans(report: str) -> tuple[list[str], list[str], list[str]]:
    """What a CommonMark reader makes of the report: fence contents, code spans, raw HTML."""
    tokens = MarkdownIt("commonmark").parse(report)
    fences = [t.content for t in tokens if t.type == "fence"]
    spans = [c.content for t in tokens if t.children for c in t.children if c.type == "code_inline"]
    html = [t.content for t in tokens if t.type == "html_block"]
    html += [c.content for t in tokens if t.children for c in t.children if c.type == "html_inline"]
    return fences, spans, html


def test_hostile_text_cannot_break_the_markdown() -> None:
    name = "r`1 <!-- x --> **b** \n# h\u202e"
    content = "ok\n```\n````\n# not a heading\n<script>x</script>\n\u202etxt\x00\n"
    report = _report(
        _step("create", ROUTER, "x-vyos", new=_router({"vrf": "set vrf name a description '```'\n"}, name=name)),
        _step("create", HOST, "h-ovs", new=_host({"/etc/`x`": _file(content)}, ["run ```"], host=name + "h")),
    )
    fences, spans, html = _fences_and_spans(report)
    assert html == [f"{review.MARKER}\n"]  # the marker, and no other HTML
    assert "+set vrf name a description '```'\n" in fences
    file_fence = next(f for f in fences if "/etc/`x`" in f)
    assert "+```\n+````\n+# not a heading\n+<script>x</script>\n+\\u202etxt\\x00\n" in file_fence
    assert "r`1 <!-- x --> **b** \\n# h\\u202e" in spans  # the name, whole, as code
    assert "\u202e" not in report and "\x00" not in report
    headings = [line for line in report.split("\n") if line.startswith("#")]
    assert all(h.startswith(("## ", "### ", "#### ")) for h in headings)


def test_code_and_fence_are_longer_than_any_backtick_run() -> None:
    assert review.code("a``b") == "```a``b```"
    assert review.code("`x") == "`` `x ``"
    assert review.fence(["+a ```` b"]) == ["`````diff", "+a ```` b", "`````"]
    assert review.fence(["+plain"]) == ["```diff", "+plain", "```"]


# ----------------------------------------------------------------------------- GitHub's limit


def _big_router(name: str, lines: int) -> dict[str, Any]:
    config = {
        "vrf": "".join(
            f"set vrf name t{i} description 'tenant {i} of {name} padded {'x' * 40}'\n" for i in range(lines)
        )
    }
    return _step("create", ROUTER, f"{name}-vyos", new=_router(config, name=name))


def test_a_long_report_is_shortened_per_device_with_notes() -> None:
    steps = [_big_router("dc1-r1", 900), _big_router("dc1-r2", 900), _big_router("dc1-r3", 5)]
    full = _report(*steps, max_chars=None)
    assert len(full.encode()) > review.GITHUB_LIMIT
    short = _report(*steps, full_report="the full report is the `fabric-review` artifact")
    assert len(short.encode()) <= review.GITHUB_LIMIT
    sections = _sections(short)
    shown = {d: sum(len(lines) for lines in s.values()) for d, s in sections.items()}
    assert shown["router `dc1-r3`"] == 5  # a small device is whole
    assert shown["router `dc1-r1`"] == shown["router `dc1-r2`"] < 900
    left = 2 * (900 - shown["router `dc1-r1`"])
    assert f"{left} lines of 2 devices left out. The full report is the `fabric-review` artifact." in short
    for router in ("dc1-r1", "dc1-r2"):
        note = f"> ✂ {900 - shown['router `dc1-r1`']} more lines of `{router}` left out: the full report is the `fabric-review` artifact."
        assert note in short
    assert "✂" not in full and "shortened" not in full
    # What is shown is the full report's beginning, line for line.
    full_lines = _sections(full)["router `dc1-r1`"]["`vrf`: 900 added, 0 removed"]
    assert sections["router `dc1-r1`"]["`vrf`: 900 added, 0 removed"] == full_lines[: shown["router `dc1-r1`"]]
    fences, _, _ = _fences_and_spans(short)
    assert len(fences) == 3  # every fence closed


def test_too_many_devices_leaves_whole_devices_out_saying_how_many() -> None:
    steps = [_big_router(f"r{i:04d}", 1) for i in range(1500)]
    short = _report(*steps)
    assert len(short.encode()) <= review.GITHUB_LIMIT
    shown = len([line for line in short.split("\n") if line.startswith("#### router")])
    assert 0 < shown < 1500
    # Each shown device keeps its heading; its 2 lines (the create, the added line) are counted.
    assert f"{2 * shown} lines of {shown} devices and {1500 - shown} whole devices left out. Run" in short
    assert f"> ✂ {1500 - shown} more devices with changes in stack `dc1` left out" in short


def test_a_long_line_is_cut_saying_so_when_shortening() -> None:
    huge = "x" * 100_000
    steps = [_step("create", HOST, "h-ovs", new=_host({"/etc/big": _file(huge + "\n")}, []))]
    short = _report(*steps)
    assert len(short.encode()) <= review.GITHUB_LIMIT
    assert f"+{'x' * 999} … ({100_001 - 1_000} more characters)" in short
    assert huge in _report(*steps, max_chars=None)


def test_several_stacks_make_one_report() -> None:
    reports = [
        review.stack_report(s, _preview(_step("create", KEY, f"{s}-r1-wg-key", new={"rotation": "0"})))
        for s in ("dc1", "dc2")
    ]
    text = review.markdown(reports)
    assert text.startswith(review.MARKER + "\n")
    assert text.index("### Stack `dc1`") < text.index("`dc1-r1-wg-key`") < text.index("### Stack `dc2`")
    assert text.index("### Stack `dc2`") < text.index("`dc2-r1-wg-key`")


def test_not_a_preview() -> None:
    with pytest.raises(review.PreviewError):
        review.stack_report("dc1", ["not", "a", "preview"])
    with pytest.raises(review.PreviewError):
        review.stack_report("dc1", {"steps": "nope"})


# ----------------------------------------------------------------------------- the subcommand


def _fabric(
    *args: str, cwd: Path = ROOT, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fabric", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        env=env or {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        timeout=600,
    )


PREVIEW = _preview(_step("update", ROUTER, "dc1-r1-vyos", _router({"vrf": ""}), _router({"vrf": "set vrf name a"})))


def test_review_reads_preview_json_from_a_file_or_stdin(tmp_path: Path) -> None:
    (tmp_path / "dc1.json").write_text(json.dumps(PREVIEW))
    out, full = tmp_path / "comment.md", tmp_path / "full.md"
    result = _fabric(
        "review",
        "--stack",
        "dc1",
        "--preview-json",
        str(tmp_path / "dc1.json"),
        "--out",
        str(out),
        "--full-out",
        str(full),
    )
    assert result.returncode == 0, result.stderr
    assert "+set vrf name a" in out.read_text() and out.read_text() == full.read_text()
    result = _fabric("review", "--stack", "dc2", "--preview-json", "-", stdin=json.dumps(PREVIEW))
    assert result.returncode == 0, result.stderr
    assert "### Stack `dc2`" in result.stdout and "+set vrf name a" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["review"], "the following arguments are required: --stack"),
        (["review", "--stack", "dc1", "--stack", "dc2", "--preview-json", "-"], "give one per --stack"),
        (
            ["review", "--stack", "a", "--stack", "b", "--preview-json", "-", "--preview-json", "-"],
            "stdin) can be given once",
        ),
        (["review", "--stack", "dc1", "--preview-json", "/nonexistent.json"], "No such file or directory"),
        (["review", "--stack", "dc1", "--preview-json", "-", "--max-chars", "100"], "at least 4096"),
        (
            ["review", "--stack", "dc1", "--preview-json", "-", "--policy-pack", "policy"],
            "cannot check a --preview-json",
        ),
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str) -> None:
    result = _fabric(*args, stdin="{}")
    assert result.returncode == 2 and message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_broken_preview_json_exits_1() -> None:
    result = _fabric("review", "--stack", "dc1", "--preview-json", "-", stdin='{"steps": [')
    assert result.returncode == 1 and "stack dc1: not a `pulumi preview --json` result" in result.stderr


def _stand_in_pulumi(bin_dir: Path, stdout: str, code: int, stderr: str = "") -> Path:
    """A ``pulumi`` that logs its arguments and working directory and answers as told."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    (bin_dir / "answer.json").write_text(stdout)
    log = bin_dir / "calls.log"
    script = bin_dir / "pulumi"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$PWD $*" >> {log}\n'
        f"cat {bin_dir / 'answer.json'}\n"
        f"printf '%s' '{stderr}' >&2\n"
        f"exit {code}\n"
    )
    script.chmod(0o755)
    return log


def test_review_runs_the_preview_in_the_project_directory(tmp_path: Path) -> None:
    """The CLI on PATH, else the project's .tools/pulumi/bin: ``preview --stack S --json --diff``."""
    project = tmp_path / "project"
    log = _stand_in_pulumi(project / ".tools/pulumi/bin", json.dumps(PREVIEW), 0)
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    result = _fabric("--project", str(project), "review", "--stack", "dc1", "--stack", "dc2", env=env)
    assert result.returncode == 0, result.stderr
    assert log.read_text().splitlines() == [
        f"{project} preview --stack dc1 --json --diff",
        f"{project} preview --stack dc2 --json --diff",
    ]
    assert result.stdout.count("+set vrf name a") == 2
    on_path = _stand_in_pulumi(tmp_path / "bin", json.dumps(PREVIEW), 0)
    result = _fabric("review", "--stack", "dc1", cwd=project, env={**env, "PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin"})
    assert result.returncode == 0 and on_path.read_text() == f"{project} preview --stack dc1 --json --diff\n"


def test_a_failed_preview_exits_1_with_the_clis_error(tmp_path: Path) -> None:
    failed = {
        "steps": [],
        "diagnostics": [
            {"message": "dc1: 1 problem in the fabric config:\n\n", "severity": "info#err"},
            {
                "message": "  - datacenter.routers[dc1-r2].hypervisor: unknown hypervisor 'dc1-hv9'\n",
                "severity": "info#err",
            },
            {"message": "warning: ignored", "severity": "warning"},
        ],
    }
    _stand_in_pulumi(tmp_path / "bin", json.dumps(failed), 255, stderr="error: preview failed")
    env = {"PYTHONPATH": str(ROOT), "PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin"}
    result = _fabric("review", "--stack", "dc1", cwd=tmp_path, env=env)
    assert result.returncode == 1 and result.stdout == ""
    assert "stack dc1: pulumi preview failed (exit code 255)" in result.stderr
    assert "unknown hypervisor 'dc1-hv9'" in result.stderr and "error: preview failed" in result.stderr
    result = _fabric("review", "--stack", "dc1", cwd=tmp_path, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 1 and "no pulumi CLI on PATH nor in .tools/pulumi/bin" in result.stderr


# ----------------------------------------------------------------------------- the real engine

API_KEY = "review-test-api-key-5f1c"


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    p = Project(tmp_path)
    p.init("dc1")
    p.emulate_routers("dc1", api_key=API_KEY)
    p.emulate_hosts("dc1")
    yield p
    p.close()


def _applied(project: Project) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, dict[str, str]]]]:
    """Per router its config sections, per host and concern its files' contents, from the state."""
    state = json.loads(project.export("dc1"))
    routers: dict[str, dict[str, str]] = {}
    hosts: dict[str, dict[str, dict[str, str]]] = {}
    for r in state["deployment"]["resources"]:
        if r["type"] == ROUTER:
            routers[r["inputs"]["router"]] = r["inputs"]["config"]
        elif r["type"] == HOST:
            files = {path: spec["content"] for path, spec in r["inputs"]["files"].items()}
            hosts.setdefault(r["inputs"]["host"], {})[r["inputs"]["concern"]] = files
    return routers, hosts


def _lines(config: Mapping[str, str]) -> set[str]:
    return {line for text in config.values() for line in text.split("\n") if line.strip()}


def test_review_of_a_real_preview_names_every_added_line_and_file(project: Project, tmp_path: Path) -> None:
    project.up("dc1")
    routers_before, hosts_before = _applied(project)
    path = project.dir / "Pulumi.yaml"
    data = yaml.safe_load(path.read_text())
    data["config"]["fabric:tenants"]["value"].append({"name": "hooli", "id": 50, "sites": ["dc1", "dc2"]})
    path.write_text(yaml.safe_dump(data, sort_keys=False))

    out = tmp_path / "review.md"
    result = subprocess.run(
        [sys.executable, "-m", "fabric", "review", "--stack", "dc1", "--out", str(out)],
        cwd=project.dir,
        env=project.env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    report = out.read_text()

    # What the report says is what the next up does.
    summary = project.up("dc1")
    routers_after, hosts_after = _applied(project)
    counts = [summary.get(op, 0) for op in ("create", "update", "replace", "delete", "same")]
    assert "| " + " | ".join(str(n) for n in counts) + " |" in report.split("\n")
    # The tenant; 2 routers; per hypervisor its segment, filter and DHCP server for the tenant.
    assert summary.get("create") == 1 and summary.get("update") == 8

    sections = _sections(report)
    assert set(routers_after) == {"dc1-r1", "dc1-r2"}
    for router, after in routers_after.items():
        before = routers_before[router]
        shown = sections[f"router `{router}`"]
        expected = {}
        for section, text in after.items():
            added = [f"+{line}" for line in text.split("\n") if line.strip() and line not in _lines(before)]
            if added:
                expected[f"`{section}`: {len(added)} added, 0 removed"] = added
        assert shown == expected  # exactly the added lines, per section, in order; nothing removed
        assert "+set vrf name hooli table '1050'" in shown["`vrf`: 11 added, 0 removed"]
        assert _lines(before) <= _lines(after)

    for host, concerns in hosts_after.items():
        shown_files = {
            line[4:]
            for lines in sections[f"host `{host}`"].values()
            for line in lines
            if line.startswith("+++ ") and line != "+++ /dev/null"
        }
        changed = {
            path
            for concern, files in concerns.items()
            for path, content in files.items()
            if hosts_before[host][concern].get(path) != content
        }
        assert changed and shown_files == changed
        assert {"/etc/systemd/network/60-hooli.netdev", "/etc/systemd/network/60-br10050.netdev"} <= changed

    secrets = [API_KEY, project.user_key.read_text().strip()]
    full_state = json.loads(project.export("dc1", show_secrets=True))
    for r in full_state["deployment"]["resources"]:
        if r["type"] == KEY:
            secrets.append(json.loads(r["outputs"]["private_key"]["plaintext"]))
    assert len(secrets) == 6  # the API key, the SSH key, two routers' and two hypervisors' WireGuard keys
    for secret in secrets:
        assert secret not in report
        for line in secret.splitlines():
            assert not line.strip() or line not in report


def test_review_of_a_stack_that_does_not_exist_exits_1(tmp_path: Path) -> None:
    p = Project(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "fabric", "review", "--stack", "nope"],
        cwd=p.dir,
        env=p.env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 1 and result.stdout == ""
    assert "stack nope: pulumi preview failed" in result.stderr and "no stack named 'nope' found" in result.stderr
