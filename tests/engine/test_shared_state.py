"""Shared state: two stacks in one S3-compatible bucket, and the backend's lock on a stack.

Real: the Pulumi CLI and engine from the set-up step, with its diy backend in an S3
bucket (the Go CDK's s3blob and the AWS SDK, as ``pulumi login 's3://…?endpoint=…'``
uses them), and an S3 server: moto's server mode (``moto[server]``, pinned in
requirements-dev.txt) as a subprocess on 127.0.0.1, spoken to over plain HTTP with
path-style addressing, as a MinIO or other S3-compatible store is. The AWS credentials
are dummies and every AWS setting from the environment is dropped, so nothing leaves
loopback. Stood in for, as in tests/engine/test_engine.py: the routers by the project's VyOS
API emulator (tests/beds/vyos_emulator.py), the hypervisors by real sshd on loopback with
logging stand-ins for the tools a container cannot run (tests/beds/sshd.py).

To hold an update while it holds the lock, one host's ``systemctl`` stand-in waits for
a file the test creates: the first ``up`` is provably still running when the second
starts, whatever the machine's speed.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.beds.sshd import Sshd
from tests.engine.project import Project

BUCKET = "fabric-state"
LOCKS = ".pulumi/locks/"
FIX = "run ./scripts/setup.sh (it installs requirements-dev.txt, which pins moto[server])"


class S3Server:
    """moto's S3 server on a loopback port the OS picks; ``client`` is a boto3 S3 client for it."""

    def __init__(self, workdir: Path) -> None:
        for module in ("moto", "flask", "boto3"):  # moto[server]: moto, its server's Flask, boto3
            if importlib.util.find_spec(module) is None:
                pytest.fail(f"{module} is missing: {FIX}")
        self.log = workdir / "moto.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.client: Any = None

    def start(self) -> S3Server:
        with self.log.open("wb") as log:  # a file, not a pipe: moto logs every request
            self.process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"], stdout=log, stderr=log
            )
        deadline = time.monotonic() + 30
        while self.port == 0:
            found = re.search(r"Running on http://127\.0\.0\.1:(\d+)", self.log.read_text(errors="replace"))
            if found:
                self.port = int(found.group(1))
            elif self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"moto's server did not start ({FIX}):\n{self.log.read_text(errors='replace')}")
            else:
                time.sleep(0.05)
        import boto3  # type: ignore[import-untyped]

        self.client = boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{self.port}",
            region_name="us-east-1",
            aws_access_key_id="fabric-test",
            aws_secret_access_key="fabric-test-secret",
        )
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def backend_url(self, bucket: str) -> str:
        """What a team passes to ``pulumi login`` for a bucket on an S3-compatible server."""
        return f"s3://{bucket}?endpoint=127.0.0.1:{self.port}&disableSSL=true&s3ForcePathStyle=true"

    def keys(self, prefix: str = "") -> list[str]:
        listing = self.client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
        return sorted(str(o["Key"]) for o in listing.get("Contents", []))

    def read(self, key: str) -> Any:
        return json.loads(self.client.get_object(Bucket=BUCKET, Key=key)["Body"].read())


@pytest.fixture
def s3(tmp_path: Path) -> Iterator[S3Server]:
    server = S3Server(tmp_path)
    try:
        server.start()
        server.client.create_bucket(Bucket=BUCKET)
        yield server
    finally:
        server.stop()


def use_bucket(project: Project, s3: S3Server) -> None:
    """Point the project's CLI at the bucket, with dummy credentials and no other AWS setting."""
    for name in [n for n in project.env if n.startswith("AWS_")]:
        del project.env[name]
    project.env.update(
        PULUMI_BACKEND_URL=s3.backend_url(BUCKET),
        AWS_ACCESS_KEY_ID="fabric-test",
        AWS_SECRET_ACCESS_KEY="fabric-test-secret",
        AWS_REGION="us-east-1",
        AWS_CONFIG_FILE=str(project.workdir / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(project.workdir / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
    )


@contextlib.contextmanager
def on_bucket(tmp_path: Path, s3: S3Server, *stacks: str) -> Iterator[Project]:
    """A copy of the project on the bucket, its ``stacks`` created there, every device emulated."""
    project = Project(tmp_path)
    try:
        use_bucket(project, s3)
        project.init(*stacks)
        for stack in stacks:
            project.emulate_devices(stack)
        yield project
    finally:
        project.close()


def _changed(summary: dict[str, int]) -> dict[str, int]:
    """What an update did to resources, less reads and unchanged ones."""
    return {op: n for op, n in summary.items() if op not in ("same", "read")}


def _history(project: Project, stack: str) -> list[dict[str, Any]]:
    history: list[dict[str, Any]] = json.loads(project.run("stack", "history", "-s", stack, "--json").stdout)
    return history


def _wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")
        time.sleep(0.05)


def hold(host: Sshd, tool: str, reached: Path, release: Path) -> None:
    """Make the host's ``tool`` stand-in a slow step: it creates ``reached``, waits until
    ``release`` exists (at most 120 s), then logs its call as before."""
    path = host.bin / tool
    shebang, body = path.read_text().split("\n", 1)
    wait = (
        f"touch {shlex.quote(str(reached))}\n"
        f"i=0; while [ ! -e {shlex.quote(str(release))} ] && [ $i -lt 2400 ]; do sleep 0.05; i=$((i+1)); done\n"
    )
    path.write_text(f"{shebang}\n{wait}{body}")


def test_two_stacks_share_one_bucket_and_its_lock_refuses_a_concurrent_up(tmp_path: Path, s3: S3Server) -> None:
    reached, release = tmp_path / "systemctl-reached", tmp_path / "systemctl-release"
    with on_bucket(tmp_path, s3, "dc1", "dc2") as project:
        # dc1's first up, held on dc1-hv1's systemctl while a second up of dc1 starts.
        hold(project.hosts["dc1-hv1"], "systemctl", reached, release)
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(project.run, "up", "-s", "dc1", "--yes", "--skip-preview", check=False)
            try:
                _wait_for(lambda: reached.exists() or first.done(), 120, "the first up to reach dc1-hv1's systemctl")
                assert not first.done(), f"the first up ended early:\n{first.result().stdout}\n{first.result().stderr}"
                # The first up holds the stack's lock: one object under .pulumi/locks/ in the bucket.
                locks = s3.keys(LOCKS)
                assert len(locks) == 1 and re.fullmatch(
                    r"\.pulumi/locks/organization/fabric/dc1/[-0-9a-f]+\.json", locks[0]
                )
                holder = s3.read(locks[0])  # who holds it: the first up's pulumi process
                assert Path(f"/proc/{holder['pid']}/cmdline").read_bytes().split(b"\0")[1:4] == [b"up", b"-s", b"dc1"]
                second = project.run("up", "-s", "dc1", "--yes", "--skip-preview", check=False)
            finally:
                release.touch()
            done = first.result(timeout=300)

        assert second.returncode != 0
        refusal = second.stdout + second.stderr
        assert (
            "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end "
            "or delete the lock file with `pulumi cancel`." in refusal
        )
        # It names the lock object and who holds it.
        assert f"s3://{BUCKET}/{locks[0]}" in refusal
        assert f"created by {holder['username']}@{holder['hostname']} (pid {holder['pid']})" in refusal
        assert "Updating (dc1)" not in refusal  # refused before the program ran

        # The first up completes; it alone is in the history, and it released its lock.
        assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
        history = _history(project, "dc1")
        assert [(h["kind"], h["result"]) for h in history] == [("update", "succeeded")]
        assert _changed(history[0]["resourceChanges"]) == {"create": 34}
        assert "systemctl daemon-reload" in (tmp_path / "hosts/dc1-hv1/calls.log").read_text()
        assert s3.keys(LOCKS) == []
        assert project.outputs("dc1")["mesh_peers"] == []

        # dc2's program reads dc1's exported members from the bucket; then dc1 reads dc2's.
        project.up("dc2")
        assert project.outputs("dc2")["mesh_peers"] == ["dc1-r1", "dc1-r2", "dc1-hv1", "dc1-hv2"]
        # The held up left a consistent state: the next one changes only what dc2 brings,
        # both dc1 routers and both dc1 hypervisors' tunnels gaining the dc2 peers.
        assert _changed(project.up("dc1")) == {"update": 4}
        assert project.outputs("dc1")["mesh_peers"] == ["dc2-r1", "dc2-r2", "dc2-hv1", "dc2-hv2"]
        dc2_members = {m["name"]: m["public_key"] for m in project.outputs("dc2")["mesh_members"]}
        state = json.loads(project.export("dc1"))
        r1 = next(r for r in state["deployment"]["resources"] if r["urn"].endswith("Router::dc1-r1"))
        line = f"set interfaces wireguard wg0 peer dc2-r1 public-key '{dc2_members['dc2-r1']}'"
        assert line in r1["outputs"]["config"]["wireguard"]

        # Both stacks are in the bucket (nothing in the local backend folder), `pulumi stack ls`
        # on the bucket lists both, and no lock is left.
        listed = json.loads(project.run("stack", "ls", "--json").stdout)
        assert sorted(s["name"] for s in listed) == ["dc1", "dc2"]
        assert all(s["resourceCount"] > 0 for s in listed)
        keys = s3.keys(".pulumi/stacks/")
        assert ".pulumi/stacks/fabric/dc1.json" in keys and ".pulumi/stacks/fabric/dc2.json" in keys
        assert list(project.state.iterdir()) == []
        assert [h["result"] for h in _history(project, "dc1")] == ["succeeded", "succeeded"]
        assert s3.keys(LOCKS) == []
