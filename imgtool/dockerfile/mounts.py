"""`RUN --mount=type=...,key=value,...`: the mount specification of a RUN step.

The value is CSV (quotes allowed), each field `key=value` or a bare boolean key (`ro`, `rw`,
`required`). Values may use `$VAR`; the builder expands them at dispatch with `expand`, and
`from=` names a stage, an image or a context the step depends on.
"""

from __future__ import annotations

import csv
from collections.abc import Callable

from imgtool.frozen import frozen

from .errors import DockerfileError

TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")
_ALIASES = {
    "src": "source",
    "dst": "target",
    "destination": "target",
    "ro": "readonly",
    "rw": "readwrite",
}
_VALUE_KEYS = frozenset({"type", "from", "source", "target", "id", "sharing", "mode", "uid", "gid", "size", "env"})
_BOOL_KEYS = frozenset({"readonly", "readwrite", "required"})
_SHARING = ("shared", "private", "locked")
_NUMBER_KEYS = {"mode": 8, "uid": 10, "gid": 10}


def _is_number(value: str, base: int) -> bool:
    """Whether Go's strconv.ParseUint(value, base, 32) takes `value`."""
    digits = "01234567" if base == 8 else "0123456789"
    return bool(value) and all(c in digits for c in value) and int(value, base) < 1 << 32


@frozen
class Mount:
    """One `--mount`: its type and options with canonical key names (`dst` -> `target`, ...)."""

    type: str
    options: tuple[tuple[str, str], ...]
    spec: str

    def get(self, key: str) -> str | None:
        """The value of option `key` (canonical name), None if not given."""
        for name, value in self.options:
            if name == key:
                return value
        return None

    @property
    def from_(self) -> str | None:
        """The stage, image or context named by `from=`."""
        return self.get("from")

    @property
    def target(self) -> str | None:
        """Where the mount appears; secrets default to /run/secrets/<id>."""
        target = self.get("target")
        if target is None and self.type == "secret" and self.get("id"):
            return "/run/secrets/" + (self.get("id") or "")
        return target

    @property
    def readonly(self) -> bool:
        """Bind mounts are read-only unless `rw`; other types are writable unless `ro`."""
        if self.get("readwrite") in ("", "true"):
            return False
        if self.get("readonly") in ("", "true"):
            return True
        return self.type == "bind"

    def expand(self, expand_word: Callable[[str], str]) -> Mount:
        """The same mount with every option value expanded (at dispatch, with the stage env)."""
        return parse_mount(self.spec, expand_word)


def _fields(spec: str) -> list[str]:
    try:
        rows = list(csv.reader([spec], skipinitialspace=False))
    except csv.Error as exc:
        raise DockerfileError(f"failed to parse mount {spec!r}: {exc}") from None
    return rows[0] if rows else []


def parse_mount(spec: str, expand_word: Callable[[str], str] | None = None) -> Mount:
    """Parse one `--mount` value; `expand_word` expands option values when given."""
    mount_type = "bind"
    options: list[tuple[str, str]] = []
    for field in _fields(spec):
        key, has_value, value = field.partition("=")
        key = _ALIASES.get(key.strip().lower(), key.strip().lower())
        if not has_value:
            if key not in _BOOL_KEYS:
                raise DockerfileError(f"invalid field '{field}' must be a key=value pair")
            options.append((key, ""))
            continue
        if key not in _VALUE_KEYS and key not in _BOOL_KEYS:
            raise DockerfileError(f"unexpected key '{key}' in '{field}'")
        if expand_word is not None:
            value = expand_word(value)
        if key == "type":
            if value not in TYPES:
                raise DockerfileError(f"unsupported mount type {value!r}")
            mount_type = value
        elif key == "sharing" and value not in _SHARING:
            raise DockerfileError(f"unsupported sharing value {value!r}")
        elif key in _NUMBER_KEYS and "$" not in value and not _is_number(value, _NUMBER_KEYS[key]):
            # BuildKit's parseMount: strconv.ParseUint, octal for mode, decimal for uid and gid
            raise DockerfileError(f"invalid value {value} for {key}")
        else:
            options.append((key, value))
    mount = Mount(mount_type, tuple(options), spec)
    if mount_type in ("bind", "cache", "tmpfs") and not mount.get("target"):
        raise DockerfileError(f"mount type {mount_type} requires a target (target=, dst= or destination=)")
    if mount_type == "secret" and not mount.get("id") and not mount.get("target") and not mount.get("env"):
        raise DockerfileError("secret mount requires an id, a target or an env")
    return mount
