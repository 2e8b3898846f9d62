"""The store's memo of documents that passed their schema: `validated/<schema>/<sha256 hex>`.

Every manifest, index and config the store reads is validated against the image-spec schemas, but
`index.json` is read by every command and an image's manifest and config by every `run`, `build`
FROM, `push` and `inspect`: validating them each time costs the jsonschema import (~60 ms) per call.
Bytes that passed a schema once pass it forever, so the store records the SHA-256 of what passed
(and of what it wrote itself, validated) as an empty marker file, and skips those bytes next time
(`imgtool.oci.schema.validate_bytes`). Documents another tool wrote into the layout (skopeo and
umoci write into the same directory) have no marker, and are validated on their first read.

The memo is a cache, never a source of truth: a marker that cannot be written (a read-only store)
just means validating again, and prune drops markers of documents that are gone.
"""

from __future__ import annotations

import os
from pathlib import Path

from imgtool.frozen import frozen
from imgtool.oci import schema

DIR = "validated"


@frozen
class ValidatedDigests:
    """A `schema.Memo` kept on disk under a store root (safe across processes: markers are empty
    files, created only after their document passed)."""

    root: Path

    def _marker(self, schema_name: str, sha256_hex: str) -> Path:
        return self.root / schema_name.removesuffix(".json") / sha256_hex

    def seen(self, schema_name: str, sha256_hex: str) -> bool:
        """True if bytes with this SHA-256 passed `schema_name` before."""
        return self._marker(schema_name, sha256_hex).exists()

    def remember(self, schema_name: str, sha256_hex: str) -> None:
        """Record a pass; a failure to record (read-only store, disk full) only costs a later re-check."""
        marker = self._marker(schema_name, sha256_hex)
        try:
            marker.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(marker, os.O_WRONLY | os.O_CREAT, 0o644))
        except OSError:
            pass

    def remember_bytes(self, schema_name: str, data: bytes) -> None:
        """Record that `data` passed `schema_name` (the caller has just validated it, as every write does)."""
        self.remember(schema_name, schema.memo_key(data))

    def forget_bytes(self, schema_name: str, data: bytes) -> None:
        """Drop the marker of `data` (an index.json that has just been replaced)."""
        try:
            self._marker(schema_name, schema.memo_key(data)).unlink()
        except OSError:
            pass

    def retain(self, keep: set[str]) -> None:
        """Keep only the markers whose SHA-256 is in `keep` (prune: documents that are still there)."""
        if not self.root.is_dir():
            return
        for kind in self.root.iterdir():
            if not kind.is_dir():
                kind.unlink(missing_ok=True)
                continue
            for marker in kind.iterdir():
                if marker.name not in keep:
                    marker.unlink(missing_ok=True)
