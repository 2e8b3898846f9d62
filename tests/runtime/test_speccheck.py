"""Every field the runtime-spec defines is either applied by imgtool's runtime or refused by name at
create: walked from the JSON examples in the spec's own config.md and config-linux.md."""

from __future__ import annotations

import json
import re

import pytest

from imgtool.runtime import speccheck
from tests.conftest import SHARED

SPEC_DIR = SHARED / "specs" / "runtime-spec"
_TOP = ("ociVersion", "root", "mounts", "process", "hostname", "domainname", "annotations", "hooks", "linux",
        "solaris", "windows", "vm", "zos")
_RESOURCES = {"memory", "cpu", "blockIO", "hugepageLimits", "network", "pids", "rdma", "unified", "devices"}


def _fragments(name: str) -> list[dict]:
    """The ```json blocks of a spec document as objects (fragments wrapped, trailing commas dropped;
    config-linux.md's bare fragments are members of `linux`)."""
    out = []
    for block in re.findall(r"```json\n(.*?)```", (SPEC_DIR / name).read_text(), re.S):
        text = re.sub(r",(\s*[}\]])", r"\1", block.strip().rstrip(","))
        try:
            doc = json.loads(text if text.startswith("{") else "{" + text + "}")
        except ValueError:
            continue
        if name == "config-linux.md" and not set(doc) & set(_TOP):
            devices = doc.get("devices") or [{}]
            resources = set(doc) <= _RESOURCES and (set(doc) != {"devices"} or "allow" in devices[0])
            doc = {"linux": {"resources": doc} if resources else doc}
        if set(doc) <= set(_TOP):  # not e.g. the seccomp agent's containerProcessState example
            out.append(doc)
    return out


def _paths(value: object, path: str = "") -> set[str]:
    out = {path} if path else set()
    if isinstance(value, dict):
        for k, v in value.items():
            out |= _paths(v, f"{path}.{k}" if path else k)
    elif isinstance(value, list):
        for v in value:
            out |= _paths(v, path + "[]")
    return out


def _covered(path: str) -> bool:
    """Applied (SUPPORTED down to a leaf or free-form map) or refused (REFUSED, or below it)."""
    parts = re.findall(r"[^.\[\]]+|\[\]", path)
    prefix = ""
    node: object = speccheck.SUPPORTED
    for part in parts:
        prefix = prefix + part if part == "[]" or not prefix else f"{prefix}.{part}"
        if prefix in speccheck.REFUSED:
            return True
        if node in (speccheck.LEAF, speccheck.MAP):
            return True
        if part == "[]":
            if not isinstance(node, list):
                return False
            node = node[0]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return False
    return True


@pytest.mark.skipif(not SPEC_DIR.is_dir(), reason=f"runtime-spec text not at {SPEC_DIR}")
def test_every_spec_field_is_applied_or_refused():
    docs = _fragments("config.md") + _fragments("config-linux.md")
    assert len(docs) > 30  # the walk really read the spec
    paths = set().union(*(_paths(d) for d in docs))
    assert {"linux.seccomp.syscalls[].action", "process.rlimits[].type", "linux.intelRdt.closID"} <= paths
    missing = sorted(p for p in paths if not _covered(p))
    assert not missing, f"runtime-spec fields neither applied nor refused: {missing}"


@pytest.mark.parametrize("field", sorted(speccheck.REFUSED))
def test_refused_field_is_named(field):
    spec: dict = {}
    node: dict = spec
    parts = field.split(".")
    for part in parts[:-1]:
        if part.endswith("[]"):
            child: dict = {}
            node[part[:-2]] = [child]
            node = child
        else:
            node = node.setdefault(part, {})
    node[parts[-1]] = {"x": 1}
    with pytest.raises(speccheck.Unsupported, match=re.escape(field.replace("[]", "[0]"))):
        speccheck.check(spec)


def test_unknown_properties_are_ignored_and_empty_refused_fields_pass():
    speccheck.check({"linux": {"intelRdt": None, "personality": {}}, "x-vendor-extension": {"a": 1},
                     "process": {"args": ["sh"], "selinuxLabel": ""}})
