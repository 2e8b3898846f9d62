"""htpasswd users with bcrypt hashes (the only scheme distribution accepts, and the only safe one).

bcrypt is deliberately slow (~50-200 ms), far too slow to pay on every request of a pull, so a
successful check is remembered for the process lifetime by (user, SHA-256 of the password): a
password change in the file is seen at restart, a wrong password always pays the full cost.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from pathlib import Path
from typing import Iterable

import bcrypt

from ..config import ConfigError

_CACHE_MAX = 4096


class Htpasswd:
    """Users loaded from an htpasswd file at start."""

    def __init__(self, path: Path):
        self.users: dict[str, bytes] = {}
        try:
            lines = Path(path).read_text().splitlines()
        except OSError as exc:
            raise ConfigError(f"cannot read htpasswd file {path}: {exc.strerror}") from None
        for number, line in enumerate(lines, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            user, sep, hashed = line.partition(":")
            if not sep or not hashed.startswith(("$2y$", "$2a$", "$2b$")):
                raise ConfigError(f"{path}:{number}: only bcrypt entries (user:$2y$...) are supported")
            self.users[user] = hashed.replace("$2y$", "$2b$", 1).encode()
        self._dummy = _dummy_hash(self.users.values())
        self._verified: set[tuple[str, bytes]] = set()
        self._mutex = threading.Lock()

    def check(self, user: str, password: str) -> bool:
        """Whether `password` is `user`'s (constant work for unknown users too)."""
        key = (user, hashlib.sha256(password.encode()).digest())
        with self._mutex:
            if key in self._verified:
                return True
        hashed = self.users.get(user)
        if hashed is None:
            bcrypt.checkpw(b"x", self._dummy)  # a known user's cost: no user enumeration by timing
            return False
        if bcrypt.checkpw(password.encode(), hashed):
            with self._mutex:
                if len(self._verified) >= _CACHE_MAX:
                    self._verified.clear()
                self._verified.add(key)
            return True
        return False


def _dummy_hash(hashes: Iterable[bytes]) -> bytes:
    """A hash to check unknown users against, at the cost most of the file's entries use.

    A fixed cost leaks: with cost-5 entries (3 ms) and a cost-10 dummy (60 ms), a slow answer meant
    "no such user".
    """
    costs = Counter(int(h.split(b"$")[2]) for h in hashes if h.count(b"$") >= 3 and h.split(b"$")[2].isdigit())
    rounds = costs.most_common(1)[0][0] if costs else 10
    return bcrypt.hashpw(b"not-a-password", bcrypt.gensalt(rounds=min(max(rounds, 4), 31)))


def hash_password(password: str, rounds: int = 10) -> str:
    """An htpasswd-compatible bcrypt hash (for `imgtool registry htpasswd` and tests)."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=rounds)).decode().replace("$2b$", "$2y$", 1)
