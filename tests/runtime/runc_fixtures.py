"""imgtool-runc driven as a test: the launcher binary, a `Runc` caller with a private --root, and a
busybox bundle whose config.json each test rewrites (shared by the runc CLI and user namespace tests)."""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from imgtool.runtime import launcher
from imgtool.runtime.unpack import unpack_image


@pytest.fixture(scope="session")
def runc_bin(tmp_path_factory) -> str:
    """The -IS launcher for this checkout (what `command -v imgtool-runc` would be, minus site)."""
    return launcher.write(str(tmp_path_factory.mktemp("bin") / "imgtool-runc"))


class Runc:
    """imgtool-runc with a private --root (and optionally --log FILE --log-format json)."""

    def __init__(self, binary: str, root: Path, log: Path | None = None):
        self.binary, self.root, self.log = binary, root, log

    def argv(self, *args: str) -> list[str]:
        extra = ["--log", str(self.log), "--log-format", "json"] if self.log else []
        return [self.binary, "--root", str(self.root), *extra, *map(str, args)]

    def __call__(self, *args: str, input: bytes | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
        """Output goes to files, not pipes: a created container keeps the caller's stdio (runc's
        detached mode), so a pipe would not see EOF until the container exits."""
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            proc = subprocess.run(self.argv(*args), input=input, stdout=out, stderr=err, timeout=timeout,
                                  stdin=None if input is not None else subprocess.DEVNULL)
            out.seek(0)
            err.seek(0)
            proc.stdout, proc.stderr = out.read(), err.read()
        return proc

    def ok(self, *args: str, **kw) -> str:
        proc = self(*args, **kw)
        assert proc.returncode == 0, (args, proc.returncode, proc.stderr.decode())
        return proc.stdout.decode()

    def state(self, cid: str) -> dict:
        return json.loads(self.ok("state", cid))

    def wait_status(self, cid: str, status: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while self.state(cid)["status"] != status:
            assert time.monotonic() < deadline, f"{cid} never became {status}: {self.state(cid)}"
            time.sleep(0.02)


@pytest.fixture
def runc(runc_bin, tmp_path) -> Runc:
    r = Runc(runc_bin, tmp_path / "state")
    yield r
    for cid in (r.root.iterdir() if r.root.exists() else []):
        r("delete", "--force", cid.name)


@pytest.fixture
def bundle(busybox_store, tmp_path):
    """A busybox bundle; `make(args, **spec changes)` rewrites its config.json."""
    path = tmp_path / "bundle"
    unpack_image(busybox_store, "busybox", path)
    pristine = (path / "config.json").read_text()

    def make(args: list[str], edit=None) -> Path:
        spec = json.loads(pristine)
        spec["process"]["args"] = args
        if edit:
            edit(spec)
        (path / "config.json").write_text(json.dumps(spec))
        return path

    return make


def cid() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


SLEEPER = ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.05; done"]


def wait_catching(pid: int, sig: int, timeout: float = 20) -> None:
    """Wait until process `pid` has a handler for `sig` (the SigCgt mask in its /proc status).

    "running" means the init has exec'd its shell, not that the shell has run its `trap` yet, and
    PID 1 of a PID namespace drops a signal it has no handler for: a test that signals SLEEPER and
    expects the trap's exit waits for this first.
    """
    deadline = time.monotonic() + timeout
    while True:
        with open(f"/proc/{pid}/status") as f:
            caught = int(next(line for line in f if line.startswith("SigCgt:")).split()[1], 16)
        if caught >> (sig - 1) & 1:
            return
        assert time.monotonic() < deadline, f"process {pid} never caught signal {sig}"
        time.sleep(0.02)
