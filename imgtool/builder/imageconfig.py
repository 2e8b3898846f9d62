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
    kept = [e for e in env or () if e.split("=", 1)[0] != key]
    return (*kept, f"{key}={value}")


def port(spec: str) -> str:
    """`80` -> `80/tcp`, `53/UDP` -> `53/udp` (the ExposedPorts key docker writes)."""
    return spec.lower() if "/" in spec else f"{spec}/tcp"


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
        case ins.Expose(ports=ports):
            return replace(config, exposed_ports={**(config.exposed_ports or {}), **{port(p): {} for p in ports}})
        case ins.User(value=value):
            return replace(config, user=value)
        case ins.Workdir(value=value):
            base = config.working_dir or "/"
            return replace(config, working_dir=posixpath.normpath(posixpath.join(base, value)))
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
