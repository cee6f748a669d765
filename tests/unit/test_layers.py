"""The layers hold: the core knows nothing of Pulumi, the network or the providers, and the
providers nothing of the core.

The core (everything in ``fabric/`` but ``fabric/components/``, ``fabric/devices/`` and the
entry point ``fabric/__main__.py``: model, checks, address plan, topology, renderers,
loader, health checks, CLI) must stay pure, so it can be tested, rendered
and validated offline, and so one rule cannot quietly come to depend on a device. The
providers only apply state: what they need of the renderer's conventions is the marker
syntax in ``markers.py``, which both sides import. Every import statement of every such
module, at any depth, is read with ``ast``.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

#: What the core never imports (top-level package or module prefix).
FORBIDDEN = ("pulumi", "pulumi_aws", "pulumi_azure_native", "pulumi_gcp", "httpx", "paramiko", "providers")
FORBIDDEN_INSIDE = ("fabric.components", "fabric.devices")


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names += [f"{node.module}.{a.name}" for a in node.names]
    return names


#: The layers outside the core: the Pulumi side, read-only device access, and the entry point
#: that wires the device commands into the CLI.
OUTSIDE = ("components", "devices", "__main__.py")


def core_modules() -> list[Path]:
    fabric = ROOT / "fabric"
    return sorted(p for p in fabric.rglob("*.py") if not set(OUTSIDE) & set(p.relative_to(fabric).parts))


def test_the_core_imports_no_pulumi_network_library_component_or_provider() -> None:
    modules = core_modules()
    assert len(modules) > 20
    offending = {
        str(path.relative_to(ROOT)): name
        for path in modules
        for name in _imports(path)
        if name.split(".")[0] in FORBIDDEN or name.startswith(FORBIDDEN_INSIDE)
    }
    assert offending == {}


def test_the_check_sees_an_offending_import(tmp_path: Path) -> None:
    """The reader finds imports at any depth, in either form."""
    module = tmp_path / "m.py"
    module.write_text(
        "def f():\n    import httpx\n    from pulumi import Output\n    from fabric.components import x\n"
    )
    assert set(_imports(module)) == {"httpx", "pulumi", "pulumi.Output", "fabric.components", "fabric.components.x"}


def test_providers_import_nothing_from_fabric() -> None:
    modules = sorted((ROOT / "providers").glob("*.py"))
    assert len(modules) >= 5
    offending = {
        str(path.relative_to(ROOT)): name
        for path in modules
        for name in _imports(path)
        if name.split(".")[0] == "fabric"
    }
    assert offending == {}
    # The shared marker syntax imports neither side.
    assert {name.split(".")[0] for name in _imports(ROOT / "markers.py")} & {"fabric", "providers", "pulumi"} == set()
