"""Metadata instructions as edits of an image's ContainerConfig.

CMD, ENTRYPOINT, ENV, LABEL, EXPOSE, USER, WORKDIR, VOLUME, STOPSIGNAL, HEALTHCHECK, SHELL and
ONBUILD change only the config, never the filesystem. One pure function applies each of them the
way docker does, for the builder's metadata steps and for `imgtool import --change` alike.
Instructions arrive already expanded (StageScope.dispatch).
"""

from __future__ import annotations

import dataclasses
import posixpath

from imgtool.dockerfile import DockerfileError, StageScope, parse
from imgtool.dockerfile.dockerignore import go_clean
from imgtool.dockerfile import instructions as ins
from imgtool.errors import ImgtoolError
from imgtool.oci.config import ContainerConfig

DEFAULT_SHELL = ("/bin/sh", "-c")

# what `docker import --change` / `docker commit --change` accept
COMMIT_INSTRUCTIONS = frozenset({
    "CMD", "ENTRYPOINT", "ENV", "EXPOSE", "HEALTHCHECK", "LABEL", "ONBUILD", "STOPSIGNAL", "USER",
    "VOLUME", "WORKDIR",
})


def command_of(instruction: ins.ShellDependent, config: ContainerConfig) -> tuple[str, ...]:
    """The argv a CMD/ENTRYPOINT/RUN means: exec form as is, shell form behind SHELL (`/bin/sh -c`)."""
    if not instruction.shell_form:
        return instruction.command
    return (*(config.shell or DEFAULT_SHELL), *instruction.command)


def _set_env(env: tuple[str, ...] | None, key: str, value: str) -> tuple[str, ...]:
    # BuildKit's addEnv: a key already set is replaced where it stands, a new one appended
    entries = list(env or ())
    for i, entry in enumerate(entries):
        if entry.split("=", 1)[0] == key:
            entries[i] = f"{key}={value}"
            return tuple(entries)
    return (*entries, f"{key}={value}")


class PortSpecError(ImgtoolError):
    """An EXPOSE value docker's port parser refuses."""


def _port_range(text: str) -> tuple[int, int]:
    # go-connections nat.ParsePortRange: N or N-M (M >= N), each a base-10 uint16
    start, _, end = text.partition("-")
    bounds = []
    for part in (start, end if "-" in text else start):
        if not (part.isascii() and part.isdigit()) or int(part) > 65535:
            raise ValueError(part)
        bounds.append(int(part))
    if bounds[1] < bounds[0]:
        raise ValueError(text)
    return bounds[0], bounds[1]


def ports(spec: str) -> tuple[str, ...]:
    """The ExposedPorts keys one EXPOSE word means, as docker's nat.ParsePortSpec reads it.

    Why not just append `/tcp`: docker expands a range (`8000-8002` is three ports), lower-cases
    the protocol, canonicalises the number (`0080` is `80/tcp`), keeps only the container side of
    `[IP:]HOST:CONTAINER`, and refuses what it cannot parse; images must carry the same keys.
    """
    parts = spec.split(":")
    ip = ":".join(parts[:-2]) if len(parts) > 2 else ""
    host = parts[-2] if len(parts) > 1 else ""
    number, _, proto = parts[-1].partition("/")
    proto = (proto.split("/")[0] or "tcp").lower() if "/" in parts[-1] else "tcp"
    if ip:
        import ipaddress  # only for the rare IP-qualified form
        try:
            ipaddress.ip_address(ip.strip("[]"))
        except ValueError:
            raise PortSpecError(f"invalid IP address: {ip}") from None
    if not number:
        raise PortSpecError(f"no port specified: {spec}<empty>")
    try:
        start, end = _port_range(number)
    except ValueError:
        raise PortSpecError(f"invalid containerPort: {number}") from None
    if host:
        try:
            host_start, host_end = _port_range(host)
        except ValueError:
            raise PortSpecError(f"invalid hostPort: {host}") from None
        if host_end != host_start and host_end - host_start != end - start:
            raise PortSpecError(f"invalid ranges specified for container and host Ports: {number} and {host}")
    if proto not in ("tcp", "udp", "sctp"):
        raise PortSpecError(f"invalid proto: {proto}")
    return tuple(f"{n}/{proto}" for n in range(start, end + 1))


def apply(config: ContainerConfig, instruction: ins.Instruction) -> ContainerConfig:
    """The config after one metadata instruction (other instructions are an error here)."""
    replace = dataclasses.replace
    match instruction:
        case ins.Env(pairs=pairs):
            env = config.env
            for pair in pairs:
                env = _set_env(env, pair.key, pair.value)
            return replace(config, env=env)
        case ins.Label(pairs=pairs):
            return replace(config, labels={**(config.labels or {}), **{p.key: p.value for p in pairs}})
        case ins.Cmd():
            return replace(config, cmd=command_of(instruction, config))
        case ins.Entrypoint():
            # docker: a new ENTRYPOINT drops the CMD it inherited
            return replace(config, entrypoint=command_of(instruction, config), cmd=None)
        case ins.Expose(ports=words):
            return replace(config, exposed_ports={**(config.exposed_ports or {}), **{k: {} for w in words for k in ports(w)}})
        case ins.User(value=value):
            return replace(config, user=value)
        case ins.Workdir(value=value):
            # BuildKit keeps an absolute path as written (`/a/../b/` stays so in the config and the
            # history) and cleans a relative one joined to the current directory (Go's path.Join)
            if value.startswith("/"):
                return replace(config, working_dir=value)
            return replace(config, working_dir=go_clean(posixpath.join("/", config.working_dir or "/", value)))
        case ins.Volume(paths=paths):
            return replace(config, volumes={**(config.volumes or {}), **{p: {} for p in paths}})
        case ins.StopSignal(value=value):
            return replace(config, stop_signal=value)
        case ins.Shell(shell=shell):
            return replace(config, shell=shell)
        case ins.Onbuild(expression=expression):
            return replace(config, on_build=(*(config.on_build or ()), expression))
        case ins.Healthcheck():
            return replace(config, healthcheck=_healthcheck(instruction))
    raise ImgtoolError(f"{instruction.keyword} does not change the image config")


def _healthcheck(h: ins.Healthcheck) -> dict:
    check: dict = {"Test": list(h.test)}
    for key, value in (("Interval", h.interval), ("Timeout", h.timeout), ("StartPeriod", h.start_period),
                       ("StartInterval", h.start_interval), ("Retries", h.retries)):
        if value:
            check[key] = value
    return check


def apply_changes(config: ContainerConfig, changes: list[str]) -> ContainerConfig:
    """Apply `--change` instructions (docker import/commit): each one Dockerfile line."""
    for change in changes:
        try:
            stage = parse(f"FROM scratch\n{change}\n", "--change").stages[0]
            if len(stage.instructions) != 1:
                raise ImgtoolError("expected exactly one instruction")
            [instruction] = stage.instructions
            if instruction.keyword not in COMMIT_INSTRUCTIONS:
                raise ImgtoolError(f"{instruction.keyword} is not allowed "
                                   f"(allowed: {', '.join(sorted(COMMIT_INSTRUCTIONS))})")
            env = dict(e.split("=", 1) for e in config.env or () if "=" in e)
            expanded = StageScope({}, {}, env).dispatch(instruction)
        except DockerfileError as exc:
            raise ImgtoolError(f"--change {change!r}: {exc.message}") from None
        except ImgtoolError as exc:
            raise ImgtoolError(f"--change {change!r}: {exc}") from None
        config = apply(config, expanded)
    return config
