"""Bad config fails with one clear message per problem, each naming its config key.

Each ``tests/errors/*.yaml`` case patches ``_base.yaml`` (``set``/``delete`` by dotted
path), may give peer stacks' exports (``peers: {stack: [members]}``, as
``pulumi stack output mesh_members`` would print them), names the rules it exercises
(``rules``: ``module.function`` of :mod:`fabric.checks`, ``fields`` for a value no
field type accepts, ``peer_fields`` for a peer export no member field accepts), and lists the exact messages expected; nothing else may be
reported. The loader runs as ``validate`` and the Pulumi program run it: config,
peers, then the rendered configs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fabric import checks, loader, model
from fabric.errors import ConfigError
from tests.conftest import ERRORS, load_yaml, patch

CASES = sorted(p for p in ERRORS.glob("*.yaml") if not p.name.startswith("_"))
#: What a case names when no cross-field rule, but a field's own type, refuses the value.
FIELDS = "fields"
#: The same for a field of a peer stack's exported member.
PEER_FIELDS = "peer_fields"


def validate(raw: dict[str, Any], peers: dict[str, Any] | None = None) -> loader.Validated:
    return loader.validate(loader.load(raw), peers or {})


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 150


def test_base_is_valid(base_raw: dict[str, Any]) -> None:
    assert validate(base_raw).inventory.dc.name == "dc1"


def test_every_rule_has_a_case() -> None:
    named = {rule for case in CASES for rule in load_yaml(case).get("rules", [])}
    assert set(checks.rule_names()) - named == set()
    assert named - {*checks.rule_names(), FIELDS, PEER_FIELDS} == set()


@pytest.mark.parametrize("case", CASES, ids=[p.stem for p in CASES])
def test_error_case(case: Path, base_raw: dict[str, Any]) -> None:
    spec = load_yaml(case)
    raw = patch(base_raw, spec.get("set"), spec.get("delete"))
    with pytest.raises(ConfigError) as info:
        validate(raw, spec.get("peers"))
    assert info.value.problems == spec["expected"], str(info.value)
    for line in spec["expected"]:
        assert line in str(info.value)
        assert "\n" not in line and len(line) < 600  # one line each, values quoted short


@pytest.mark.parametrize("case", CASES, ids=[p.stem for p in CASES])
def test_the_named_rules_find_it(case: Path, base_raw: dict[str, Any]) -> None:
    """Each named rule, run alone, reports something on the case (so the name is not decoration)."""
    spec = load_yaml(case)
    raw = patch(base_raw, spec.get("set"), spec.get("delete"))
    for name in spec.get("rules", []):
        if name == FIELDS:
            with pytest.raises(ConfigError):
                loader.load(raw)
            continue
        inv = model.Inventory.model_validate(raw)
        if name == PEER_FIELDS:
            _, problems = loader.members_of(spec["peers"], inv.peer_stacks)
            assert problems, f"no peer field refused on {case.name}"
            continue
        local = {_name(r): r for r in checks.RULES}
        if name in local:
            found = list(local[name](inv))
        else:
            remote, _ = loader.members_of(spec.get("peers") or {}, inv.peer_stacks)
            found = list(next(r for r in checks.PEER_RULES if _name(r) == name)(inv, remote))
        assert found, f"{name} reports nothing on {case.name}"


def _name(rule: Any) -> str:
    return f"{rule.__module__.rsplit('.', 1)[-1]}.{rule.__name__}"
