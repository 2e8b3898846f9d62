"""Restart policies (`--restart no|on-failure[:N]|always|unless-stopped`), docker's semantics.

docker's daemon keeps a restart manager per container; without a daemon the container's monitor
is the one process that sees it exit, so it keeps the policy: it decides after each exit, waits the
back-off (100 ms doubling to 1 min, back to 100 ms after a run of 10 s or more, moby's
restartmanager) and starts the container again with the same writable layer. `stop`, and `kill`
with SIGKILL or the stop signal, mark the container manually stopped first, which cancels any
further restart (moby's ExitOnNext). What a daemon adds and we cannot: `always` and `unless-stopped`
containers are not started again after a host reboot (no process survives it to do so).
"""

from __future__ import annotations

from dataclasses import dataclass

from imgtool.errors import ImgtoolError

POLICIES = ("no", "always", "on-failure", "unless-stopped")
_FIRST_DELAY = 0.1
_MAX_DELAY = 60.0
_LONG_RUN = 10.0


def parse_policy(text: str) -> tuple[str, int]:
    """`--restart` as (name, maximum retry count), with docker's messages."""
    name, sep, count = text.partition(":")
    if sep:
        try:
            retries = int(count)
        except ValueError:
            raise ImgtoolError("invalid restart policy format: maximum retry count must be an integer") from None
    else:
        retries = 0
    if name not in POLICIES:
        raise ImgtoolError(f"invalid restart policy: unknown policy '{name}'; "
                           "use one of 'no', 'always', 'on-failure', or 'unless-stopped'")
    if sep and name != "on-failure":
        raise ImgtoolError("invalid restart policy: maximum retry count can only be used with 'on-failure'")
    if retries < 0:
        raise ImgtoolError("invalid restart policy: maximum retry count cannot be negative")
    return name, retries


@dataclass
class Manager:
    """One container's policy and back-off, alive as long as its monitor."""

    policy: str
    max_retries: int = 0
    delay: float = 0.0  # the wait before the next restart, 0 before the first

    def should_restart(self, exit_code: int, restart_count: int, stopped: bool, ran_for: float) -> bool:
        """After an exit: restart? (then `delay` is the wait) — moby's ShouldRestart, minus a daemon."""
        if stopped or self.policy == "no":
            return False
        if ran_for >= _LONG_RUN:
            self.delay = 0.0
        self.delay = _FIRST_DELAY if self.delay == 0 else min(self.delay * 2, _MAX_DELAY)
        if self.policy == "on-failure":
            return exit_code != 0 and (self.max_retries == 0 or restart_count < self.max_retries)
        return True  # always, unless-stopped (a manual stop was handled above)
