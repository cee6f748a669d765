"""Run the real Pulumi CLI on a copy of the project, with a local file backend.

Engine tests and benchmarks use this: a throwaway project directory (the program,
the stack files, the venv by symlink), a backend in a temp folder, the example
passphrase, no update checks and no plugin downloads. The CLI is the one the set-up
step installed; it is never skipped for: a missing CLI fails with the fix.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PULUMI_BIN = ROOT / ".tools" / "pulumi" / "bin"
PASSPHRASE = "fabric-example"
PROJECT_FILES = ("Pulumi.yaml", "Pulumi.dc1.yaml", "Pulumi.dc2.yaml", "__main__.py", "requirements.txt")
PROJECT_DIRS = ("fabric", "providers")


class PulumiError(AssertionError):
    """A pulumi command failed; the message carries its output."""


class Project:
    """A copy of the project with its own backend: ``run("up", "-s", "dc1", "--yes")``."""

    def __init__(self, workdir: Path) -> None:
        if not (PULUMI_BIN / "pulumi").exists():
            raise PulumiError(f"no Pulumi CLI in {PULUMI_BIN}: run ./scripts/setup.sh first")
        self.dir = workdir / "project"
        self.state = workdir / "state"
        self.dir.mkdir()
        self.state.mkdir()
        for name in PROJECT_FILES:
            shutil.copy2(ROOT / name, self.dir / name)
        for name in PROJECT_DIRS:
            shutil.copytree(ROOT / name, self.dir / name, ignore=shutil.ignore_patterns("__pycache__"))
        (self.dir / "venv").symlink_to(ROOT / "venv")
        self.env = {
            **os.environ,
            "PATH": f"{PULUMI_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "PULUMI_BACKEND_URL": f"file://{self.state}",
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "PULUMI_HOME": str(workdir / "pulumi-home"),
            "NO_COLOR": "1",
        }
        self.env.pop("PULUMI_ACCESS_TOKEN", None)

    def run(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["pulumi", *args, "--non-interactive"],
            cwd=self.dir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise PulumiError(
                f"pulumi {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        return result

    def init(self, *stacks: str) -> None:
        for stack in stacks:
            self.run("stack", "init", stack)

    def up(self, stack: str) -> dict[str, Any]:
        """``pulumi up`` and its change summary (``{"create": 12, ...}``)."""
        self.run("up", "-s", stack, "--yes", "--skip-preview")
        history = json.loads(self.run("stack", "history", "-s", stack, "--json").stdout)
        summary: dict[str, Any] = history[0]["resourceChanges"]
        return summary

    def outputs(self, stack: str, show_secrets: bool = False) -> dict[str, Any]:
        args = ["stack", "output", "-s", stack, "--json", *(["--show-secrets"] if show_secrets else [])]
        outputs: dict[str, Any] = json.loads(self.run(*args).stdout)
        return outputs

    def export(self, stack: str, show_secrets: bool = False) -> str:
        return self.run("stack", "export", "-s", stack, *(["--show-secrets"] if show_secrets else [])).stdout

    def preview_json(self, stack: str) -> dict[str, Any]:
        preview: dict[str, Any] = json.loads(self.run("preview", "-s", stack, "--json").stdout)
        return preview
