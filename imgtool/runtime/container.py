"""Container lifecycle (runtime-spec runtime.md): create, start, state, kill, delete, and run.

The parent side of imgtool's own runtime. `spawn` makes the cgroup (limits set before anything
joins), forks the init as PID 1 of a new PID namespace, moves it into the cgroup, then lets it enter
its other namespaces and set up; the init reports "ready" (or a one-line error) on a pipe. With an exec FIFO the init then blocks until
`start` opens the FIFO, which is runc's create/start split, so a runc-style orchestrator can drive it.

State (`state.py`) lives in `<root>/<id>/state.json`, with a copy of config.json for `exec`.
Cleanup (`Container.destroy`) kills whatever is left in the cgroup, removes the cgroup, the
container's writable layer and the state; it is idempotent, so a later `delete` finishes what a
killed monitor could not.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from collections import namedtuple

from . import hooks, jsonfast, namespaces, speccheck, state, syscalls
from . import cgroups
from .init import EXIT_SETUP, Plan, close_inherited, run_init
from .state import Container, RuntimeError_, list_containers  # noqa: F401  (the names callers know)



class ExitStatus(namedtuple("ExitStatus", "code oom_killed signal cpu_ns", defaults=(False, None, 0))):
    """How the container's process ended: docker's exit code (128+signal when killed), whether the
    OOM killer fired, the signal, CPU used. (A namedtuple: `create` must not import dataclasses.)"""

    __slots__ = ()


def spawn(container_id: str, spec: dict, plan: Plan, bundle: str = "",
          upper_root: str | None = None, stdio: tuple[int, int, int] | None = None, name: str | None = None,
          systemd: bool = False) -> Container:
    """Create the container up to (not including) exec; returns once the init reported ready.

    `stdio` becomes the init's 0, 1, 2 (else it inherits ours); with process.terminal the init
    replaces them with its pty slave and sends the master over `plan.console_socket`. Every
    config field is checked first (`speccheck`), so nothing is made for a config that cannot run.
    """
    if not state.valid_id(container_id):
        raise RuntimeError_("invalid container ID format", 1)
    try:
        speccheck.check(spec)
        ns = namespaces.from_spec(spec.get("linux") or {})
    except (speccheck.Unsupported, namespaces.NamespaceError) as exc:
        raise RuntimeError_(str(exc), 1) from None
    os.makedirs(state.STATE_ROOT, mode=0o700, exist_ok=True)
    state_dir = f"{state.STATE_ROOT}/{container_id}"
    try:
        os.mkdir(state_dir, 0o711)
    except FileExistsError:
        ns.close()
        raise RuntimeError_("container with given ID already exists", 1) from None
    cgroup = None
    try:
        if plan.exec_fifo:
            os.mkfifo(plan.exec_fifo, 0o622)
            os.chmod(plan.exec_fifo, 0o622)  # whatever the umask: a user-namespaced init is not its owner
        with open(f"{state_dir}/config.json", "w") as f:  # `exec` takes its defaults from here
            f.write(jsonfast.dumps(spec))
        linux = spec.get("linux") or {}
        cgroup = cgroups.create(cgroups.resolve_path(linux.get("cgroupsPath") or "", container_id, systemd),
                                 cgroups.Resources.from_spec(linux.get("resources") or {}))
        plan.hook_sync = hooks.has(spec, "prestart", "createRuntime")
        plan.state = {"ociVersion": state.OCI_VERSION, "id": container_id, "bundle": bundle,
                      "annotations": dict(spec.get("annotations") or {})}
        go_r, go_w = os.pipe()
        rep_r, rep_w = os.pipe()
        if not ns.has_user and (ns.new & syscalls.CLONE_NEWPID or ns.pid_fd is not None):
            pid = syscalls.fork_in_pid_namespace(ns.pid_fd)
        else:  # with a user namespace the init makes its PID namespace itself (namespaces.py)
            pid = os.fork()
        if pid == 0:
            _child(spec, plan, go_r, go_w, rep_r, rep_w, ns, stdio)
        ns.close()
        os.close(go_r)
        os.close(rep_w)
        container = Container(container_id, pid, bundle, cgroup.to_dict(), dict(spec.get("annotations") or {}),
                              time.time(), state.proc_stat(pid)[19], upper_root, plan.upper, [], name,
                              rootfs=plan.rootfs, namespaces=ns.kinds, systemd=systemd)
        report = os.fdopen(rep_r, "rb")
        try:
            cgroup.add(pid)
            try:
                os.write(go_w, b"1")
            except BrokenPipeError:  # the child is gone already; its report says why
                pass
            if ns.has_user:
                _await(container, report, "init", lambda p: _map_user_namespace(p, ns.user_maps, go_w))
            pid = container.pid
            if plan.hook_sync:
                _await(container, report, "namespaces")
                _run_hooks(spec, ("prestart", "createRuntime"), dict(plan.state, status="creating", pid=pid))
                os.write(go_w, b"2")
        finally:
            os.close(go_w)
        _await(container, report, "ready")
        container.save()
        container.report = report  # type: ignore[attr-defined]  # kept open: exec success is its EOF
        return container
    except BaseException:
        import shutil

        ns.close()
        if cgroup is not None:
            cgroup.destroy()
        if upper_root:
            shutil.rmtree(upper_root, ignore_errors=True)
        shutil.rmtree(state_dir, ignore_errors=True)
        raise


def _child(spec: dict, plan: Plan, go_r: int, go_w: int, rep_r: int, rep_w: int, ns, stdio) -> None:
    """The forked child up to `run_init` (which never returns). Any exception here ends the child
    with EXIT_SETUP: it must never unwind into the caller's stack, which would then run on in two
    processes (the parent's except/finally clauses, a test runner, the CLI)."""
    try:
        os.close(go_w)
        os.close(rep_r)
        if stdio is not None:
            for i, fd in enumerate(stdio):
                os.dup2(fd, i)
        keep = {go_r, rep_w, *(fd for _, fd in ns.joins)}
        close_inherited(keep | ({plan.console_socket} if plan.console_socket is not None else set()),
                        plan.preserve_fds)
    except BaseException as exc:
        try:
            os.write(rep_w, (jsonfast.dumps({"error": f"container init: {exc}"}) + "\n").encode())
        finally:
            os._exit(EXIT_SETUP)
    run_init(spec, plan, go_r, rep_w, ns)
    os._exit(EXIT_SETUP)  # not reached: run_init execs or exits


def _map_user_namespace(pid: int, maps, go_w: int) -> None:
    """The init asked for its uid/gid maps (userns.py): write them, then let it go on."""
    from . import userns

    try:
        userns.write_maps(pid, maps)
    except userns.MappingError as exc:
        raise RuntimeError_(str(exc), 1) from None
    os.write(go_w, b"u")


def _run_hooks(spec: dict, kinds: tuple[str, ...], doc: dict) -> None:
    try:
        for kind in kinds:
            hooks.run(spec, kind, doc)
    except hooks.HookError as exc:
        raise RuntimeError_(str(exc), 1) from None


def _await(container: Container, report, until: str, on_userns=None) -> None:
    """Read the init's reports up to `until`; an error (or silent death) becomes RuntimeError_.

    With a user namespace the first stage asks for its maps ("userns", answered by `on_userns`)
    and names the real init ("init": its host pid), which the container then tracks."""
    for line in report:
        msg = jsonfast.loads(line)
        if "stubs" in msg:
            container.stubs = msg["stubs"]
        elif "userns" in msg and on_userns is not None:
            on_userns(msg["userns"])
        elif "init" in msg and msg["init"] != container.pid:
            os.waitpid(container.pid, 0)  # the first stage, which exits once it has named the init
            container.pid, container.start_time = msg["init"], state.proc_stat(msg["init"])[19]
        if until in msg:
            return
        elif "error" in msg:
            _, status = os.waitpid(container.pid, 0)
            raise RuntimeError_(msg["error"], os.waitstatus_to_exitcode(status))
    _, status = os.waitpid(container.pid, 0)
    raise RuntimeError_(f"container init exited ({os.waitstatus_to_exitcode(status)}) before it was ready", EXIT_SETUP)


def confirm_exec(container: Container) -> None:
    """After start: EOF on the report pipe means exec succeeded; a line means it failed."""
    report = container.report  # type: ignore[attr-defined]
    try:
        for line in report:
            msg = jsonfast.loads(line)
            if "error" in msg:
                _, status = os.waitpid(container.pid, 0)
                raise RuntimeError_(msg["error"], os.waitstatus_to_exitcode(status))
    finally:
        report.close()


def wait(container: Container, relay: Callable[[int], None] | None = None) -> ExitStatus:
    """Wait for the init (forwarding our signals to it), then read OOM and CPU from the cgroup.

    `relay(pid)` (copying the container's stdio, `tty.Streams.relay`) runs first, under the same
    forwarding, and returns once the container has exited and its outputs are closed.
    """
    import signal

    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2,
                signal.SIGWINCH):
        previous[sig] = signal.signal(sig, lambda s, _f: _signal(container.pid, s))
    try:
        if relay is not None:
            relay(container.pid)
        _, status = os.waitpid(container.pid, 0)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    code = os.waitstatus_to_exitcode(status)
    killed_by = -code if code < 0 else None
    cgroup = container.cgroup
    return ExitStatus(128 + killed_by if killed_by else code, cgroup.oom_killed(), killed_by, cgroup.cpu_usage_ns())


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def __getattr__(name: str):
    """`parse_signal` lives in signals.py (importing it here would cost `create` the signal/enum
    import); callers that import it from here still get it."""
    if name == "parse_signal":
        from .signals import parse_signal

        return parse_signal
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
