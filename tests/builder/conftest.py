"""Builder test helpers: write a context, build it with the real CLI, read the result back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def write_context(root: Path, files: dict[str, str | bytes]) -> Path:
    """Create `root` with the given files (parents made); returns root."""
    root.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


@pytest.fixture
def build(imgtool, busybox_store, tmp_path):
    """build(files, *flags) -> CLIResult: write a context under tmp_path and run `imgtool build`."""
    counter = iter(range(1000))

    def run(files: dict[str, str | bytes], *flags: str, context: Path | None = None, **kw):
        ctx = context or write_context(tmp_path / f"ctx{next(counter)}", files)
        if context is not None:
            write_context(ctx, files)
        return imgtool("build", "--progress", "plain", *flags, str(ctx), **kw)

    return run


def config_of(store, name: str) -> dict:
    """The image config JSON of a named image."""
    return json.loads(store.resolve(name).config_bytes)


def named(store, name: str) -> bool:
    """Whether `name` is in the store."""
    from imgtool.errors import NotFoundError

    try:
        store.find(name)
        return True
    except NotFoundError:
        return False
