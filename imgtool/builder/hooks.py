"""What happens after a build has written and named its image: the one place to hook into.

`imgtool build` calls `after_build(store, result)` once, after the image is in the store and before
the CLI reports success, so a report on the finished image (layer sizes, secrets left in layers)
and a policy on it (`--fail-on-secrets`) need no change to the builder itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from imgtool.errors import ImgtoolError

if TYPE_CHECKING:
    from imgtool.store import Store

    from .build import Result


class SecretsInImageError(ImgtoolError):
    """`--fail-on-secrets`: the built image ships a secret (its names are removed again)."""


def after_build(store: "Store", result: "Result", fail_on_secrets: bool = False, tags: tuple[str, ...] = (),
                report: Callable[[str], None] | None = None) -> None:
    """Report the image's layer/secret summary; with `fail_on_secrets`, refuse an image that leaks one.

    Why the names are removed on failure: a failed build must not leave a name pointing at the image
    it refused (the blobs stay until `imgtool prune`, as for any untagged image).
    """
    if report is None and not fail_on_secrets:
        return  # -q without --fail-on-secrets: nobody reads the summary, so don't scan the layers
    line, count, first = _summary(store, result)
    if report is not None:
        report(line)
    if fail_on_secrets and count:
        for name in tags:
            store.untag(name)
        more = f" and {count - 1} more" if count > 1 else ""
        raise SecretsInImageError(f"--fail-on-secrets: the image ships {first}{more} "
                                  f"(imgtool inspect --secrets {result.image_id[7:19]})")


def _summary(store: "Store", result: "Result") -> tuple[str, int, str]:
    """(summary line, unsuppressed findings, the first one described), remembered per image.

    Why: the summary reads every layer (minutes for a 500 MB image), and a rebuild that changed
    nothing gives the very same manifest. The memo holds no secret, only the words printed; its key
    includes the inspector's own code, so a new scanner never reuses an old verdict.
    """
    from .cache import BuildCache, key

    cache = BuildCache(store)
    memo = key("summary", str(result.descriptor.digest), _inspector_version())

    def scan() -> str:
        from imgtool.inspect.summary import describe, summarize

        summary = summarize(str(result.descriptor.digest))
        first = describe(summary.findings[0]) if summary.findings else ""
        return json.dumps([summary.line, len(summary.findings), first])

    line, count, first = json.loads(cache.remembered(memo, scan))
    return line, count, first


def _inspector_version() -> str:
    """A digest of the inspector's modules: what a remembered summary was computed by."""
    import hashlib

    import imgtool.inspect

    h = hashlib.sha256()
    for path in sorted(Path(imgtool.inspect.__file__).parent.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()
