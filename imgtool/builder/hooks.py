"""What happens after a build has written and named its image: the one place to hook into.

`imgtool build` calls `after_build(store, result)` once, after the image is in the store and before
the CLI reports success, so a report on the finished image (layer sizes, secrets left in layers)
and a policy on it (`--fail-on-secrets`) need no change to the builder itself.
"""

from __future__ import annotations

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
    from imgtool.inspect.summary import describe, summarize

    summary = summarize(str(result.descriptor.digest))
    if report is not None:
        report(summary.line)
    if fail_on_secrets and summary.findings:
        for name in tags:
            store.untag(name)
        first = summary.findings[0]
        more = f" and {len(summary.findings) - 1} more" if len(summary.findings) > 1 else ""
        raise SecretsInImageError(f"--fail-on-secrets: the image ships {describe(first)}{more} "
                                  f"(imgtool inspect --secrets {result.image_id[7:19]})")
