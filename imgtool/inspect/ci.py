"""dive's CI rules (`lowest-efficiency`, `highest-wasted-bytes`, `highest-user-wasted-percent`).

Values are parsed as dive parses them (go-humanize ParseBytes: "MB" is 10^6, "MiB" 2^20; a rule can
be "disabled"), and a rule fails on a strict crossing, as dive's code does (its README says "met or
crossed"; the code uses `>`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from imgtool.errors import ImgtoolError

from .waste import DiveFigures

_DISABLED = ("", "disabled", "off", "false")
_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "ki": 2**10, "kib": 2**10, "m": 10**6, "mb": 10**6,
          "mi": 2**20, "mib": 2**20, "g": 10**9, "gb": 10**9, "gi": 2**30, "gib": 2**30,
          "t": 10**12, "tb": 10**12, "ti": 2**40, "tib": 2**40}
_BYTES = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$")


def parse_bytes(text: str, flag: str) -> int:
    """go-humanize's ParseBytes: `42MB`, `1.5 GiB`, `1024`."""
    m = _BYTES.match(text.replace(",", ""))
    if not m or m.group(2).lower() not in _UNITS:
        raise ImgtoolError(f"{flag} {text!r}: expected a size such as 20MB or 1.5GiB")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def parse_ratio(text: str, flag: str) -> float:
    """A 0..1 ratio, as dive's rules take them."""
    try:
        value = float(text)
    except ValueError:
        raise ImgtoolError(f"{flag} {text!r}: expected a number between 0 and 1") from None
    if not 0 <= value <= 1:
        raise ImgtoolError(f"{flag} {text!r}: expected a number between 0 and 1")
    return value


@dataclass(frozen=True)
class Rules:
    """The thresholds in force (None: rule disabled)."""

    lowest_efficiency: float | None = None
    highest_wasted_bytes: int | None = None
    highest_user_wasted_percent: float | None = None

    @classmethod
    def parse(cls, efficiency: str | None, wasted: str | None, user_percent: str | None) -> "Rules":
        """From the command-line strings; "disabled"/"off" turn a rule off, as in `.dive-ci`."""
        def on(v: str | None) -> bool:
            return v is not None and v.strip().lower() not in _DISABLED
        return cls(
            parse_ratio(efficiency, "--lowest-efficiency") if on(efficiency) else None,  # type: ignore[arg-type]
            parse_bytes(wasted, "--highest-wasted-bytes") if on(wasted) else None,  # type: ignore[arg-type]
            parse_ratio(user_percent, "--highest-user-wasted-percent") if on(user_percent) else None,  # type: ignore[arg-type]
        )

    @property
    def any(self) -> bool:
        """True if at least one rule is set."""
        return any(v is not None for v in (self.lowest_efficiency, self.highest_wasted_bytes,
                                           self.highest_user_wasted_percent))


def evaluate(rules: Rules, figures: DiveFigures) -> list[tuple[str, bool, str]]:
    """(rule, passed, message) for each enabled rule, in dive's order."""
    out = []
    if rules.lowest_efficiency is not None:
        ok = not rules.lowest_efficiency > figures.efficiency
        out.append(("lowest-efficiency", ok,
                    f"image efficiency {figures.efficiency:.4f}, threshold {rules.lowest_efficiency}"))
    if rules.highest_wasted_bytes is not None:
        ok = not figures.wasted_bytes > rules.highest_wasted_bytes
        out.append(("highest-wasted-bytes", ok,
                    f"wasted {figures.wasted_bytes} bytes, threshold {rules.highest_wasted_bytes}"))
    if rules.highest_user_wasted_percent is not None:
        ok = not figures.user_wasted_percent > rules.highest_user_wasted_percent
        out.append(("highest-user-wasted-percent", ok,
                    f"user wasted {figures.user_wasted_percent:.4f}, threshold {rules.highest_user_wasted_percent}"))
    return out
