"""docker's resource flags (--memory, --memory-swap, --cpus, --cpu-shares, --pids-limit) as runtime
resources, validated with docker's rules and messages; shared by `imgtool run` and `imgtool build`.

Pure: text in, `cgroups.Resources` out, one `InvalidResourceError` line for anything docker refuses.
The rules are the docker CLI's parsers (units.RAMInBytes, NanoCPUs as a rational) plus the daemon's
checks (verifyPlatformContainerResources): memory at least 6MB or 0 (unset), memory-swap at least
memory or -1 (unlimited) and only with memory, cpus from 0.01 to the host's CPU count, cpu-shares
2..262144, pids-limit positive, or 0/-1 for unlimited. Unset memory-swap with a memory limit gives
twice the memory, as docker does.
"""

from __future__ import annotations

import os
import re

from imgtool.errors import InvalidResourceError

from .cgroups import Resources

MIN_MEMORY = 6 << 20  # docker's linuxMinMemory
MIN_CPU_SHARES, MAX_CPU_SHARES = 2, 262144  # the kernel's (and docker's) bounds on cpu.shares
CPU_PERIOD = 100_000  # µs; docker's default CFS period for --cpus

_SIZE = re.compile(r"^(\d+(?:\.\d+)*) ?([kmgtp])?i?b?$", re.I)  # go-units' RAMInBytes
_UNITS = {None: 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def _flag_error(flag: str, value: str, why: str) -> InvalidResourceError:
    return InvalidResourceError(f'invalid argument "{value}" for "{flag}" flag: {why}')


def parse_size(text: str, flag: str = "--memory") -> int:
    """A docker memory size (`512k`, `200m`, `1.5g`, `1gb`, bytes) in bytes."""
    m = _SIZE.match(text.strip())
    if not m:
        raise _flag_error(flag, text, f"invalid size: '{text}'")
    from decimal import Decimal  # only once a flag is given: `imgtool build` parses none by default

    return int(Decimal(m.group(1)) * _UNITS[m.group(2) and m.group(2).lower()])


def _swap(text: str) -> int:
    return -1 if text.strip() == "-1" else parse_size(text, "--memory-swap")


def _whole(text: str, flag: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise _flag_error(flag, text, f'strconv.ParseInt: parsing "{text}": invalid syntax') from None


def _nano_cpus(text: str) -> int:
    """--cpus as docker's NanoCPUs: a finite rational number (so `nan`, `inf`, `1e400` are refused)."""
    from decimal import Decimal, InvalidOperation

    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        value = Decimal("nan")
    if not value.is_finite() or abs(value) > 1 << 40:
        raise _flag_error("--cpus", text, f"failed to parse {text} as a rational number")
    return int(value * 1_000_000_000)


def from_flags(memory: str | None = None, memory_swap: str | None = None, cpus: str | None = None,
               cpu_shares: str | int | None = None, pids_limit: str | int | None = None,
               host_cpus: int | None = None) -> Resources:
    """The Resources docker would apply for these flags (None = flag not given)."""
    mem = parse_size(memory) if memory is not None else 0
    if 0 < mem < MIN_MEMORY:
        raise InvalidResourceError("Minimum memory limit allowed is 6MB")
    swap = _swap(memory_swap) if memory_swap is not None else 0
    if swap > 0 and mem == 0:
        raise InvalidResourceError("You should always set the Memory limit when using Memoryswap limit, see usage")
    if swap > 0 and swap < mem:
        raise InvalidResourceError("Minimum memoryswap limit should be larger than memory limit, see usage")
    if not mem:
        swap = 0  # -1 without a memory limit changes nothing
    elif not swap:
        swap = 2 * mem

    nano = _nano_cpus(cpus) if cpus is not None else 0
    available = host_cpus or os.cpu_count() or 1
    if nano and not 10_000_000 <= nano <= available * 1_000_000_000:
        raise InvalidResourceError(f"Range of CPUs is from 0.01 to {available}.00, as there are only "
                                   f"{available} CPUs available")

    shares = _whole(str(cpu_shares), "--cpu-shares") if cpu_shares is not None else 0
    if shares and not MIN_CPU_SHARES <= shares <= MAX_CPU_SHARES:
        raise InvalidResourceError(f"invalid --cpu-shares {shares}: must be between {MIN_CPU_SHARES} and "
                                   f"{MAX_CPU_SHARES} (0 keeps the default)")

    pids = _whole(str(pids_limit), "--pids-limit") if pids_limit is not None else 0
    if pids < -1:
        raise InvalidResourceError(f"invalid --pids-limit {pids}: must be positive, or 0 or -1 for unlimited")

    return Resources(
        memory=mem or None,
        memory_swap=swap or None,
        cpu_shares=shares or None,
        cpu_quota=nano * CPU_PERIOD // 1_000_000_000 if nano else None,
        cpu_period=CPU_PERIOD if nano else None,
        pids=None if pids_limit is None else (pids if pids > 0 else -1),
    )
