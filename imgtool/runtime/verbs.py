"""The runc verbs behind `imgtool-runc` (parsed by `runc.py`), each importing only what it uses.

Signature of every verb: (options, positional args, global options, log) -> exit status or None.
Behaviour and wording follow runc where callers depend on it (research orchestrator.md §3).
"""

from __future__ import annotations

import os
import sys

from imgtool.errors import NotFoundError

from . import jsonfast
from .state import Container, RuntimeError_


def _load(container_id: str) -> Container:
    try:
        return Container.load(container_id)
    except NotFoundError:
        raise RuntimeError_("container does not exist", 1) from None


def create(opts: dict, args: list[str], gopts: dict, log) -> None:
    """runc create: everything up to exec; the process waits for `start`; pid file written."""
    from .lifecycle import create as do_create

    _refuse_unsupported(opts, gopts)
    do_create(args[0], _bundle(opts), opts.get("pid-file"), opts.get("console-socket"),
              systemd=bool(gopts.get("systemd-cgroup")), preserve_fds=opts.get("preserve-fds", 0))


def run(opts: dict, args: list[str], gopts: dict, log) -> int:
    """runc run: create + start; in the foreground (default) waits and exits with the status."""
    from . import lifecycle

    _refuse_unsupported(opts, gopts)
    if opts.get("detach"):
        lifecycle.create(args[0], _bundle(opts), opts.get("pid-file"), opts.get("console-socket"),
                         systemd=bool(gopts.get("systemd-cgroup")), preserve_fds=opts.get("preserve-fds", 0))
        start({}, args, gopts, log)
        return 0
    return lifecycle.run(args[0], _bundle(opts), opts.get("pid-file"), systemd=bool(gopts.get("systemd-cgroup")),
                         preserve_fds=opts.get("preserve-fds", 0), keep=bool(opts.get("keep")), warn=log.warning).code


def _bundle(opts: dict) -> str:
    return os.path.abspath(opts.get("bundle") or ".")


def _refuse_unsupported(opts: dict, gopts: dict) -> None:
    if opts.get("pidfd-socket"):
        raise RuntimeError_("--pidfd-socket is not supported by imgtool's runtime", 1)
    if gopts.get("systemd-cgroup") and not os.path.isdir("/run/systemd/system"):
        raise RuntimeError_("--systemd-cgroup: systemd is not running on this host (no /run/systemd/system); "
                            "use the cgroupfs driver", 1)


def start(opts: dict, args: list[str], gopts: dict, log) -> None:
    """runc start: release the created container, then the poststart hooks (a failing one stops
    and destroys the container and fails `start`: `lifecycle.poststart`)."""
    container = _load(args[0])
    container.start()
    spec = container.saved_spec()
    if spec.get("hooks", {}).get("poststart"):
        from .lifecycle import poststart

        poststart(container, spec, log.warning)


def state(opts: dict, args: list[str], gopts: dict, log) -> None:
    """runc state: the runtime-spec state, indented as runc prints it."""
    sys.stdout.write(jsonfast.dumps(_load(args[0]).state(), indent=2) + "\n")


def kill(opts: dict, args: list[str], gopts: dict, log) -> None:
    """runc kill ID [SIGNAL]: number, NAME or SIGNAME (default TERM); --all signals the cgroup."""
    all_processes = bool(opts.get("all"))
    rest = args[1:]
    if rest and rest[0] in ("-a", "--all"):  # CRI-O's `kill -a ID N` arrives with the flag after the id here
        all_processes, rest = True, rest[1:]
    from .signals import parse_signal

    sig = parse_signal(rest[0] if rest else "TERM")
    _load(args[0]).kill(sig, all_processes)


def delete(opts: dict, args: list[str], gopts: dict, log) -> None:
    """runc delete [--force]: a stopped/created container, any with --force; an unknown id with
    --force is not an error (a stale directory is removed)."""
    try:
        Container.load(args[0]).delete(bool(opts.get("force")), warn=log.warning)
    except NotFoundError:
        if opts.get("force"):
            _remove_stale(args[0])
            return
        raise RuntimeError_("container does not exist", 1) from None


def _remove_stale(container_id: str) -> None:
    from . import state as st

    if st.valid_id(container_id):
        st.remove_state_dir(f"{st.STATE_ROOT}/{container_id}")


def pause(opts: dict, args: list[str], gopts: dict, log) -> None:
    """runc pause: freeze every process of a running container."""
    container = _load(args[0])
    if container.status() != "running":
        raise RuntimeError_("container not running", 1)
    container.cgroup.freeze(True)


def resume(opts: dict, args: list[str], gopts: dict, log) -> None:
    """runc resume: thaw a paused container."""
    container = _load(args[0])
    if container.status() != "paused":
        raise RuntimeError_("container not paused", 1)
    container.cgroup.freeze(False)


def ps(opts: dict, args: list[str], gopts: dict, log) -> None:
    """runc ps: `--format json` is the array of host pids; table runs ps(1) and keeps the
    container's rows (extra args go to ps, default -ef)."""
    container = _load(args[0])
    pids = container.cgroup.pids()
    if opts.get("format", "table") == "json":
        sys.stdout.write(jsonfast.dumps(pids) + "\n")
        return
    if opts.get("format", "table") != "table":
        raise RuntimeError_(f"invalid format option {opts['format']!r}", 1)
    import subprocess

    out = subprocess.run(["ps", *(args[1:] or ["-ef"])], capture_output=True, text=True, check=False).stdout
    lines = out.splitlines()
    if not lines:
        return
    col = lines[0].split().index("PID")
    wanted = {str(p) for p in pids}
    sys.stdout.write("\n".join([lines[0]] + [ln for ln in lines[1:] if ln.split()[col] in wanted]) + "\n")


def update(opts: dict, args: list[str], gopts: dict, log) -> None:
    """runc update: linux.resources JSON from --resources FILE or - (stdin), or the flags."""
    from .cgroups import CgroupError, Resources, update as apply_update

    container = _load(args[0])
    if container.status() == "stopped":
        raise RuntimeError_("container not running", 1)
    if opts.get("resources"):
        src = opts["resources"]
        try:
            text = sys.stdin.read() if src == "-" else open(src).read()
            doc = jsonfast.loads(text)
        except (OSError, ValueError) as exc:
            raise RuntimeError_(f"--resources {src}: {exc}", 1) from None
    else:
        doc = {"memory": {k: _bytes(opts[f]) for k, f in (("limit", "memory"), ("swap", "memory-swap"),
                                                                 ("reservation", "memory-reservation")) if f in opts},
               "cpu": {k: opts[f] for k, f in (("shares", "cpu-share"), ("quota", "cpu-quota"), ("period", "cpu-period"),
                                                ("burst", "cpu-burst"), ("realtimePeriod", "cpu-rt-period"),
                                                ("realtimeRuntime", "cpu-rt-runtime"), ("idle", "cpu-idle"),
                                                ("cpus", "cpuset-cpus"), ("mems", "cpuset-mems")) if f in opts},
               "pids": {"limit": opts["pids-limit"]} if "pids-limit" in opts else {},
               "blockIO": {"weight": opts["blkio-weight"]} if "blkio-weight" in opts else {}}
    try:
        res = Resources.from_spec(doc)
        if res.memory_swap is None and res.memory == -1:
            res = Resources.from_spec(dict(doc, memory=dict(doc.get("memory") or {}, swap=-1)))
        apply_update(container.cgroup, res)
    except CgroupError as exc:
        raise RuntimeError_(str(exc), 1) from None


def _bytes(text: str) -> int:
    """runc's --memory values (go-units RAMInBytes): 512, 512k, 64m, 1g (binary units); -1 = unlimited."""
    scale = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    t = text.strip().lower().removesuffix("b").removesuffix("i")
    try:
        if t and t[-1] in scale:
            return int(float(t[:-1]) * scale[t[-1]])
        return int(t)
    except ValueError:
        raise RuntimeError_(f"invalid size {text!r}", 1) from None


def events(opts: dict, args: list[str], gopts: dict, log) -> None:
    """runc events: --stats prints one stats event; otherwise one every --interval (default 5s)
    plus an `oom` event when the OOM killer fires, until the container stops."""
    from .stats import stream

    container = _load(args[0])
    if container.status() == "stopped":
        raise RuntimeError_("container not running", 1)
    stream(container, once=bool(opts.get("stats")), interval=_seconds(opts.get("interval", "5s")))


def _seconds(text: str) -> float:
    units = (("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0))
    for suffix, scale in units:
        if text.endswith(suffix):
            try:
                return float(text[: -len(suffix)]) * scale
            except ValueError:
                break
    raise RuntimeError_(f"invalid --interval {text!r} (e.g. 5s, 500ms)", 1)


def features(opts: dict, args: list[str], gopts: dict, log) -> None:
    """runc features: the runtime-spec features document, and nothing else on stdout."""
    from .features import document

    sys.stdout.write(jsonfast.dumps(document(), indent=4) + "\n")


def spec(opts: dict, args: list[str], gopts: dict, log) -> None:
    """runc spec: write a starter config.json into the bundle (never over an existing one)."""
    from .features import starter_spec

    path = os.path.join(opts.get("bundle") or ".", "config.json")
    if os.path.exists(path):
        raise RuntimeError_("File config.json exists. Remove it first.", 1)
    with open(path, "w") as f:
        f.write(jsonfast.dumps(starter_spec(), indent=4) + "\n")


def list_(opts: dict, args: list[str], gopts: dict, log) -> None:
    """runc list: a table (ID PID STATUS BUNDLE CREATED OWNER), ids with -q, or --format json.

    A missing default root means no container yet; a missing `--root` given by the caller is an
    error (runc's), so a mistyped root is not reported as an empty host.
    """
    from .state import STATE_ROOT, list_containers

    if gopts.get("root") and not os.path.isdir(STATE_ROOT):
        raise RuntimeError_(f"open {STATE_ROOT}: no such file or directory", 1)

    states = [c.state() for c in list_containers()]
    if opts.get("quiet"):
        sys.stdout.write("".join(s["id"] + "\n" for s in states))
    elif opts.get("format", "table") == "json":
        sys.stdout.write(jsonfast.dumps(states or None) + "\n")
    else:
        rows = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")] + [
            (s["id"], str(s["pid"]), s["status"], s["bundle"], s["created"], s["owner"]) for s in states]
        widths = [max(len(r[i]) for r in rows) for i in range(6)]
        sys.stdout.write("".join("   ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() + "\n" for r in rows))


def _sub_cgroups(args: list[str]) -> dict[str, str]:
    """runc exec's --cgroup values: `ctrl[,ctrl...]:path` (v1, repeatable) or one bare `path`."""
    paths: dict[str, str] = {}
    for arg in args:
        ctrls, sep, path = arg.partition(":")
        if not sep:
            if len(args) != 1:
                raise RuntimeError_(f"invalid --cgroup argument: {arg} (missing <controller>: prefix)", 1)
            return {"": arg}
        for ctrl in ctrls.split(","):
            if not ctrl:
                raise RuntimeError_(f"invalid --cgroup argument: {arg} (empty <controller> prefix)", 1)
            if ctrl in paths:
                raise RuntimeError_(f"invalid --cgroup argument(s): controller {ctrl} specified multiple times", 1)
            paths[ctrl] = path
    return paths


def exec_(opts: dict, args: list[str], gopts: dict, log) -> int:
    """runc exec: another process in a running container (detached: exit 0 once it runs)."""
    from .execute import ExecError, exec_in, process_from_flags

    try:
        container = _load(args[0])
        if opts.get("process"):
            try:
                with open(opts["process"], "rb") as f:
                    proc = jsonfast.loads(f.read())
            except (OSError, ValueError) as exc:
                raise RuntimeError_(f"--process {opts['process']}: {exc}", 1) from None
        else:
            if len(args) < 2:
                raise RuntimeError_("exec needs a command (or --process FILE)", 1)
            proc = process_from_flags(container, opts, args[1:])
        return exec_in(container, proc, pid_file=opts.get("pid-file"), detach=bool(opts.get("detach")),
                       console_socket=opts.get("console-socket"), preserve_fds=opts.get("preserve-fds", 0),
                       ignore_paused=bool(opts.get("ignore-paused")), clear_onlcr=True,
                       sub_cgroups=_sub_cgroups(opts.get("cgroup") or []))
    except (ExecError, RuntimeError_) as exc:
        raise ExecError(str(exc)) from None
