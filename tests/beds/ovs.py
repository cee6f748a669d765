"""A real Open vSwitch (Debian's openvswitch-switch) with the userspace datapath, private to a test.

ovsdb-server and ovs-vswitchd run from a test directory (``OVS_RUNDIR``), so nothing
touches the machine's own switch; bridges use ``datapath_type=netdev`` because this
kernel has no Open vSwitch module.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"


class Switch:
    def __init__(self, workdir: Path) -> None:
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, "OVS_RUNDIR": str(workdir), "OVS_LOGDIR": str(workdir), "OVS_DBDIR": str(workdir)}

    def _run(self, *argv: str) -> str:
        return subprocess.run(argv, env=self.env, cwd=self.dir, check=True, capture_output=True, text=True).stdout

    def start(self) -> Switch:
        d = self.dir
        self._run("ovsdb-tool", "create", str(d / "conf.db"), SCHEMA)
        self._run("ovsdb-server", str(d / "conf.db"), f"--remote=punix:{d / 'db.sock'}", f"--pidfile={d / 'ovsdb.pid'}",
                  "--detach", f"--log-file={d / 'ovsdb.log'}")  # fmt: skip
        self._run("ovs-vsctl", "--no-wait", "init")
        self._run("ovs-vswitchd", f"unix:{d / 'db.sock'}", f"--pidfile={d / 'vswitchd.pid'}", "--detach",
                  f"--log-file={d / 'vswitchd.log'}")  # fmt: skip
        return self

    def vsctl(self, *args: str) -> str:
        return self._run("ovs-vsctl", "--timeout=10", *args)

    def stop(self) -> None:
        for pidfile in ("vswitchd.pid", "ovsdb.pid"):
            path = self.dir / pidfile
            if path.exists():
                subprocess.run(["kill", path.read_text().strip()], check=False)
