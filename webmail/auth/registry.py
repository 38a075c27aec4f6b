"""Which accounts have a second factor, kept on disk apart from Redis.

Redis holds the TOTP secrets. If it were lost, every account would look new, and the
password alone would be enough to enrol a new factor: exactly what an attacker holding a
stolen password wants. This registry survives that loss; an account listed here but
missing from Redis is refused until the operator resets it (by deleting its line).
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import os
from pathlib import Path


class EnrolmentRegistry:
    def __init__(self, path: Path, secret_key: str) -> None:
        self.path = path
        self._key = hashlib.sha256(
            b"mss-webmail enrolment registry\x00" + secret_key.encode()
        ).digest()

    def _token(self, account: str) -> str:
        # Keyed: the file lists no addresses, and cannot be extended by guessing.
        return hmac.new(self._key, account.lower().encode(), hashlib.sha256).hexdigest()

    def contains(self, account: str) -> bool:
        try:
            lines = self.path.read_text(encoding="ascii").split()
        except FileNotFoundError:
            return False
        return self._token(account) in lines

    def add(self, account: str) -> None:
        if self.contains(account):
            return
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, (self._token(account) + "\n").encode())
        finally:
            os.close(fd)
