"""Bad config fails with one clear message per problem, each naming its config key.

Each ``tests/errors/*.yaml`` case patches ``_base.yaml`` (``set``/``delete`` by dotted
path) and lists the exact messages expected; nothing else may be reported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fabric import model
from fabric.errors import ConfigError
from tests.conftest import ERRORS, load_yaml, patch

CASES = sorted(p for p in ERRORS.glob("*.yaml") if not p.name.startswith("_"))


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 25


def test_base_is_valid(base_raw: dict[str, Any]) -> None:
    assert model.load(base_raw).dc.name == "dc1"


@pytest.mark.parametrize("case", CASES, ids=[p.stem for p in CASES])
def test_error_case(case: Path, base_raw: dict[str, Any]) -> None:
    spec = load_yaml(case)
    raw = patch(base_raw, spec.get("set"), spec.get("delete"))
    with pytest.raises(ConfigError) as info:
        model.load(raw)
    assert info.value.problems == spec["expected"], str(info.value)
    for line in spec["expected"]:
        assert line in str(info.value)
