"""runtime-spec hooks: run each with the container's state JSON on stdin, bounded by its timeout.

Why a subprocess per hook with the state on stdin: that is the contract (config.md "POSIX-platform
Hooks"); a failing prestart/createRuntime/createContainer/startContainer/poststart hook fails the
operation (a poststart one after stopping the container), a failing poststop hook is only logged
(runtime.md "Lifecycle"). `prestart` (deprecated) runs where runc runs it, with createRuntime.
"""

from __future__ import annotations

from . import jsonfast


class HookError(Exception):
    """A hook that failed, timed out or could not be run (message names it)."""


def run(spec: dict, kind: str, state: dict, default_env: list[str] | None = None) -> None:
    """Run `spec.hooks[kind]` in order; HookError on the first failure, in runc's wording
    ("error running KIND hook #N: ...", which its callers and tests match). A hook without `env`
    gets `default_env` (startContainer: the process's, as runc has always done)."""
    import subprocess

    payload = jsonfast.dumps(state).encode()
    for i, hook in enumerate((spec.get("hooks") or {}).get(kind) or []):
        where = f"error running {kind} hook #{i}: {hook.get('path')}"
        args = hook.get("args") or [hook["path"]]
        env = dict(e.partition("=")[::2] for e in (hook["env"] if "env" in hook else default_env) or [])
        try:
            proc = subprocess.run(args, executable=hook["path"], input=payload, env=env, capture_output=True,
                                  timeout=hook.get("timeout") or None, close_fds=True)
        except subprocess.TimeoutExpired:
            raise HookError(f"{where}: did not finish within {hook.get('timeout')}s") from None
        except OSError as exc:
            raise HookError(f"{where}: {exc.strerror}") from None
        if proc.returncode != 0:
            detail = proc.stderr.decode(errors="replace").strip().splitlines()
            raise HookError(f"{where}: {_status(proc.returncode)}" + (f": {detail[-1]}" if detail else ""))


def _status(returncode: int) -> str:
    """A failed hook's status; a signal reads as Go's ExitError does ("signal: bad system call",
    which runc's seccomp.bats matches), not Python's negative returncode."""
    if returncode > 0:
        return f"exited with {returncode}"
    import _signal  # built in: importable after pivot_root (startContainer hooks), unlike signal.py

    return f"signal: {(_signal.strsignal(-returncode) or f'signal {-returncode}').lower()}"


def has(spec: dict, *kinds: str) -> bool:
    """Whether any hook of these kinds is configured."""
    hooks = spec.get("hooks") or {}
    return any(hooks.get(k) for k in kinds)
