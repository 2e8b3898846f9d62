"""runc's error output as orchestrators read it: logrus lines on stderr (or in --log, with the
bare message on stderr), `runc create failed: ` before create/run errors, Go's quoting of a
missing executable, and an execve failure after setup printed by the container's init alone.
Written from runc's utils.go `fatalWithCode`, create.go/run.go, and libcontainer's init."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time

import pytest

from imgtool.runtime.cgroups import is_unified

from .runc_fixtures import Runc, bundle, cid, runc, runc_bin  # noqa: F401  (fixtures)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, cgroups)")

_LOGRUS_TEXT = re.compile(r'^time="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z" level=error msg=(.*)\n$')


def test_without_log_stderr_is_one_logrus_text_line(runc):
    proc = runc("state", "nosuch")
    m = _LOGRUS_TEXT.match(proc.stderr.decode())
    assert proc.returncode == 1 and m, proc.stderr
    assert m.group(1) == '"container does not exist"'  # logrus quotes a value with spaces


def test_with_log_file_stderr_has_the_bare_message(runc_bin, tmp_path):
    r = Runc(runc_bin, tmp_path / "state", log=tmp_path / "log.json")
    proc = r("kill", "nosuch")
    assert proc.returncode == 1 and proc.stderr == b"container does not exist\n"
    assert json.loads((tmp_path / "log.json").read_text())["msg"] == "container does not exist"


def test_create_errors_carry_runcs_prefix_and_go_quoting(runc_bin, bundle, tmp_path):
    r = Runc(runc_bin, tmp_path / "state", log=tmp_path / "log.json")
    c = cid()
    proc = r("create", "--bundle", bundle(["nosuch-binary"]), c)
    want = 'runc create failed: exec: "nosuch-binary": executable file not found in $PATH'
    assert proc.returncode == 1 and proc.stderr.decode() == want + "\n"
    assert json.loads((tmp_path / "log.json").read_text().splitlines()[-1])["msg"] == want
    proc = r("run", "--bundle", bundle(["/no/such"]), cid())
    assert proc.stderr.decode() == 'runc run failed: exec: "/no/such": stat /no/such: no such file or directory\n'


def _missing_interpreter(b) -> None:
    script = b / "rootfs" / "bad.sh"
    script.write_text("#!/no/such/interpreter\n")
    script.chmod(0o755)


def test_execve_failure_in_run_is_the_inits_one_line(runc, bundle):
    b = bundle(["/bad.sh"])
    _missing_interpreter(b)
    proc = runc("run", "--bundle", b, cid())
    assert proc.returncode != 0 and proc.stderr == b"exec /bad.sh: no such file or directory\n"


def test_execve_failure_after_start_goes_to_the_containers_stderr(runc, bundle, tmp_path):
    b = bundle(["/bad.sh"])
    _missing_interpreter(b)
    c = cid()
    with open(tmp_path / "ctr.err", "wb") as err:  # the container's stderr, as the shim's pipe would be
        subprocess.run(runc.argv("create", "--bundle", b, c), stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                       check=True, timeout=60)
    runc.ok("start", c)
    deadline = time.monotonic() + 10
    while b"exec /bad.sh" not in (tmp_path / "ctr.err").read_bytes():
        assert time.monotonic() < deadline, (tmp_path / "ctr.err").read_bytes()
        time.sleep(0.02)
    assert (tmp_path / "ctr.err").read_bytes() == b"exec /bad.sh: no such file or directory\n"


@pytest.mark.skipif(is_unified(), reason="device rules are enforced on cgroup v1 only")
@pytest.mark.parametrize("access, outcome", [("rwa", "open"), ("a", "denied")])
def test_device_access_letters_beyond_rwm_are_ignored(runc, bundle, access, outcome):
    """runc's Permissions set keeps r, w and m only: "rwa" grants rw, "a" grants nothing."""
    def edit(spec):
        spec["linux"]["devices"] = [{"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11}]
        spec["linux"]["resources"] = {"devices": [
            {"allow": False, "access": "rwm"},
            {"allow": True, "type": "c", "major": 1, "minor": 11, "access": access}]}

    b = bundle(["sh", "-c", "if true 2>/dev/null >/dev/kmsg; then echo open; else echo denied; fi"], edit)
    assert runc.ok("run", "--bundle", b, cid()).strip() == outcome
