"""The offline reader sees exactly the config values the Pulumi CLI gives the program.

Each case is a stack file written with a YAML trap (octal-looking numbers, YAML 1.1
booleans, floats, nulls, tags, anchors and merges, dates, several documents); the real
CLI (``pulumi config --json``, what the engine hands the program) and
:func:`fabric.stackfile.config_values` must agree on every value, and refuse the same
files (duplicate keys).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from fabric import stackfile
from fabric.errors import ConfigError
from tests.engine.project import Project

#: Stack file bodies under ``config:`` (indented two spaces), each a trap for a YAML 1.1 reader.
CASES = {
    "numbers": """
  fabric:a: 0100
  fabric:b: -0100
  fabric:c: 0o17
  fabric:d: 0x10
  fabric:e: 0b101
  fabric:f: 08
  fabric:g: +12
  fabric:h: 1_000
  fabric:i: 1e3
  fabric:j: 1.0
  fabric:k: 1.5
  fabric:l: 99999999999999999999
  fabric:m: "0100"
""",
    "words": """
  fabric:a: yes
  fabric:b: no
  fabric:c: on
  fabric:d: off
  fabric:e: True
  fabric:f: FALSE
  fabric:g: ~
  fabric:h: null
  fabric:i:
  fabric:j: 2024-01-02
  fabric:k: "  padded  "
  fabric:l: |
    line1
    line2
""",
    "nested": """
  fabric:tenants:
    - {vlan: 0100, asn: true, x: yes, y: 0x10, z: 1_000, f: 1.0, e: 1e3, n: ~, q: "0100", o: 0o17, s: "a<b&c>"}
  fabric:o: {1: x, true: y, null: z, 1.5: w, 0x10: v}
""",
    "tags_and_anchors": """
  fabric:a: !!str 0100
  fabric:b: !!str true
  fabric:c: {a: !!str 0100, b: !!str yes, c: !!str 1.0}
  fabric:d: !!int "42"
  fabric:e: !!float 1
  fabric:f: !!binary aGVsbG8=
  fabric:g: !custom bar
  fabric:base: &b {mtu: 1500, asn: 0100}
  fabric:copy: *b
  fabric:merged: {<<: *b, asn: 2, extra: x}
  fabric:list: [*b, *b]
""",
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    p = Project(tmp_path_factory.mktemp("yaml"))
    yield p
    p.close()


def _cli_values(project: Project, stack: str) -> dict[str, str]:
    shown = json.loads(project.run("config", "--json", "-s", stack).stdout)
    return {key: entry["value"] for key, entry in shown.items() if key.startswith("fabric:") and "value" in entry}


def _decoded(values: dict[str, str]) -> dict[str, object]:
    """Structured values compared as data (the CLI's JSON text escapes differently), scalars as text."""
    out: dict[str, object] = {}
    for key, value in values.items():
        try:
            data = json.loads(value)
        except json.JSONDecodeError:
            data = value
        out[key] = data if isinstance(data, dict | list) else value
    return out


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_offline_reader_reads_as_the_cli(project: Project, case: str) -> None:
    stack = f"yaml-{case.replace('_', '-')}"
    project.run("stack", "init", stack)
    path = project.dir / f"Pulumi.{stack}.yaml"
    path.write_text(f"config:{CASES[case]}")
    offline, _ = stackfile.config_values(project.dir, stack)
    theirs = _cli_values(project, stack)
    # Every value the CLI gives (project values included) is the offline reader's too.
    assert set(theirs) == {k for k in offline if k.startswith("fabric:")}
    assert _decoded(offline) == _decoded(theirs)


def test_only_the_first_document_counts(project: Project) -> None:
    project.run("stack", "init", "yaml-docs")
    (project.dir / "Pulumi.yaml-docs.yaml").write_text("config:\n  fabric:asn: 1\n---\nconfig:\n  fabric:asn: 2\n")
    offline, _ = stackfile.config_values(project.dir, "yaml-docs")
    assert offline["fabric:asn"] == _cli_values(project, "yaml-docs")["fabric:asn"] == "1"


@pytest.mark.parametrize(
    "body", ["  fabric:asn: 1\n  fabric:asn: 2\n", "  fabric:t:\n    a: 1\n    a: 2\n", "  fabric:t: [{a: 1, a: 2}]\n"]
)
def test_duplicate_keys_are_refused_as_the_cli_refuses_them(project: Project, body: str) -> None:
    stack = f"yaml-dup-{abs(hash(body)) % 10000}"
    project.run("stack", "init", stack)
    (project.dir / f"Pulumi.{stack}.yaml").write_text(f"config:\n{body}")
    cli = project.run("config", "--json", "-s", stack, check=False)
    assert cli.returncode != 0 and "already defined" in cli.stdout + cli.stderr
    with pytest.raises(ConfigError, match=r'mapping key "(fabric:asn|a)" already defined at line'):
        stackfile.config_values(project.dir, stack)


def test_the_example_stacks_read_alike(project: Project) -> None:
    for stack in ("dc1", "dc2", "lab"):
        project.run("stack", "init", stack)
        offline, secret = stackfile.config_values(project.dir, stack)
        theirs = _cli_values(project, stack)
        assert _decoded({k: v for k, v in offline.items() if k not in secret}) == _decoded(
            {k: v for k, v in theirs.items() if k not in secret}
        )
        shown = json.loads(project.run("config", "--json", "-s", stack).stdout)
        assert secret == {k for k, entry in shown.items() if k.startswith("fabric:") and entry["secret"]}


def test_a_project_mapping_without_value_is_refused_like_the_cli(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text(
        "name: fabric\nruntime: python\nconfig:\n  fabric:asn: {value: 1, default: 2}\n"
    )
    (tmp_path / "Pulumi.s.yaml").write_text("config: {}\n")
    with pytest.raises(ConfigError, match="cannot have both a 'default' and 'value' attribute"):
        stackfile.config_values(tmp_path, "s")


def test_numbers_pulumi_reads_as_octal_are_refused(tmp_path: Path) -> None:
    """The CLI reads ``0100`` as 64 without a word; fabric refuses it where it reads the files."""
    (tmp_path / "Pulumi.yaml").write_text("name: fabric\nruntime: python\n")
    (tmp_path / "Pulumi.s.yaml").write_text("config:\n  fabric:tenants: [{vlan: 0100, vni: 07, id: 0o17, b: -010}]\n")
    offline, _ = stackfile.config_values(tmp_path, "s")
    assert offline["fabric:tenants"] == '[{"b":-8,"id":15,"vlan":64,"vni":7}]'  # what the CLI hands over
    with pytest.raises(ConfigError) as info:
        stackfile.raw_config(tmp_path, "s")
    assert info.value.problems == [
        "Pulumi.s.yaml line 2: 0100 has a leading zero, so Pulumi reads it as octal 64; write 100 (or 0o100 to mean octal)",
        "Pulumi.s.yaml line 2: -010 has a leading zero, so Pulumi reads it as octal -8; write -10 (or 0o10 to mean octal)",
    ]
