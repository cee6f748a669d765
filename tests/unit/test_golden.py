"""Golden files: the rendered configs of the example stacks are committed.

A change to rendering must come with regenerated golden files, so every change to
any device's config is visible in review. Regenerate with:

    venv/bin/python -m fabric render --out tests/golden
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fabric import stackfile
from fabric.cli import write_render
from tests.conftest import ROOT

GOLDEN = ROOT / "tests" / "golden"


@pytest.mark.parametrize("stack", ["dc1", "dc2", "lab"])
def test_rendering_matches_golden_files(stack: str, tmp_path: Path) -> None:
    write_render(stackfile.load_stack(ROOT, stack).plan, tmp_path)
    rendered = {p.relative_to(tmp_path): p.read_text() for p in sorted(tmp_path.rglob("*")) if p.is_file()}
    golden = {p.relative_to(GOLDEN / stack): p.read_text() for p in sorted((GOLDEN / stack).rglob("*")) if p.is_file()}
    assert sorted(rendered) == sorted(golden), (
        "files differ: regenerate with `python -m fabric render --out tests/golden`"
    )
    for path, text in rendered.items():
        assert text == golden[path], (
            f"{stack}/{path} changed: regenerate with `python -m fabric render --out tests/golden`"
        )
    assert any(p.suffix == ".vyos" or p.name == "frr.conf" for p in rendered)
