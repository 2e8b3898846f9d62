"""Where blobs were last seen on registries, so a push to another repository can mount them.

skopeo keeps the same knowledge in its blob-info cache; ours is a small JSON file under
$XDG_CACHE_HOME/imgtool (a hint only: a wrong entry costs one refused mount, then a normal upload).
Bounded: the newest few repositories per digest, the newest digests overall.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from imgtool.atomicfile import write_bytes
from imgtool.filelock import flock

_PER_DIGEST = 4
_MAX_DIGESTS = 20_000


def _path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "imgtool" / "blob-locations.json"


class BlobLocations:
    """digest -> repositories (`host/name`) known to hold it; saved once per command."""

    def __init__(self, path: Path | None = None):
        self.path = path or _path()
        self._new: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        try:
            doc = json.loads(self.path.read_text())
            self._known: dict[str, list[str]] = doc if isinstance(doc, dict) else {}
        except (OSError, ValueError):
            self._known = {}

    def repositories(self, host: str, digest: str) -> list[str]:
        """Repository names on `host` that held `digest`, newest first."""
        with self._lock:
            seen = self._new.get(digest, []) + self._known.get(digest, [])
        prefix = host + "/"
        return [r[len(prefix):] for r in dict.fromkeys(seen) if r.startswith(prefix)]

    def add(self, host: str, name: str, digest: str) -> None:
        """Remember that `host/name` holds `digest`."""
        with self._lock:
            self._new.setdefault(digest, []).insert(0, f"{host}/{name}")

    def _news(self) -> bool:
        """Whether saving would change what the file said when read: a repeated pull or push of the
        same image (every digest already listed newest-first for its repository) rewrites nothing."""
        for digest, repos in self._new.items():
            newest_first = list(dict.fromkeys(repos))
            if newest_first != self._known.get(digest, [])[:len(newest_first)]:
                return True
        return False

    def save(self) -> None:
        """Merge into the file (under a lock, atomically); a cache that cannot be written is skipped,
        and one that already says all of it is not rewritten (no lock, no write per command)."""
        if not self._news():
            self._new = {}
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with flock(self.path.with_suffix(".lock")):
                try:
                    current = json.loads(self.path.read_text())
                    assert isinstance(current, dict)
                except (OSError, ValueError, AssertionError):
                    current = {}
                for digest, repos in self._new.items():
                    merged = list(dict.fromkeys(repos + [r for r in current.pop(digest, []) if isinstance(r, str)]))
                    current[digest] = merged[:_PER_DIGEST]
                keep = dict(list(current.items())[-_MAX_DIGESTS:])
                write_bytes(self.path, json.dumps(keep).encode(), durable=False)
        except OSError:
            pass
        self._new = {}
