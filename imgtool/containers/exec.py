"""docker exec: the container's own process (env, caps, seccomp, as saved by the runtime) with the
caller's overrides, run by `imgtool.runtime.execute.exec_in` inside its namespaces and cgroup.

What docker adds over runc's exec: USER names resolved in the container's /etc/passwd (in-root,
through /proc/PID/root), HOME for that user, and exit codes 126/127 when the command cannot run.
"""

from __future__ import annotations

from imgtool.runtime import container as rt
from imgtool.runtime import users
from imgtool.runtime.execute import ExecError, exec_in, process_from_flags

from .lifecycle import StateError
from .record import Record


def run(rec: Record, argv: list[str], env: list[str], user: str | None, workdir: str | None, tty: bool) -> int:
    """Run argv in the running container; its exit code."""
    status = rec.live_status()
    if status == "restarting":
        raise StateError(f"Container {rec.id} is restarting, wait until the container is running")
    if status != "running":
        raise StateError(f"container {rec.id} is not running")
    ctr = rt.Container.load(rec.id)
    proc = process_from_flags(ctr, {"env": [e for e in env if "=" in e], "cwd": workdir, "tty": tty}, argv)
    found = users.lookup(f"/proc/{ctr.pid}/root", user if user is not None else (rec.config.user or "0"))
    proc["user"] = {"uid": found.uid, "gid": found.gid, "additionalGids": list(users.docker_groups(found))}
    proc["env"] = [e for e in proc.get("env") or [] if not e.startswith("HOME=")] + [f"HOME={found.home}"]
    try:
        return exec_in(ctr, proc)
    except ExecError as exc:
        text = str(exc)
        exc.exit_code = 127 if "not found" in text or "no such file" in text.lower() else 126
        raise
