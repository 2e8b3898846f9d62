"""What happens after a build has written and named its image: the one place to hook into.

`imgtool build` calls `after_build(store, result)` once, after the image is in the store and before
the CLI reports success, so a report on the finished image (layer sizes, secrets left in layers)
and a policy on it (`--fail-on-secrets`) need no change to the builder itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from imgtool.store import Store

    from .build import Result


def after_build(store: "Store", result: "Result") -> None:
    """Called with the built image (`result.descriptor`, `result.state`); nothing to do yet."""
