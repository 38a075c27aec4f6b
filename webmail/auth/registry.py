"""Which accounts have a second factor, kept on disk apart from Redis.

Redis holds the TOTP secrets. If it were lost, every account would look new, and the
password alone would be enough to enrol a new factor: exactly what an attacker holding a
stolen password wants. This registry survives that loss; an account listed here but
missing from Redis is refused until the operator resets it (``python -m webmail.auth.reset``).

A line is a slow, salted hash of the lowercased address (scrypt): the file is no directory
of addresses, yet it depends on nothing but the salt kept beside it, so it also survives a
change of ``MSS_SECRET_KEY``. Lines written by earlier versions (an HMAC under the secret
key) are still read while that key is in force, and rewritten in the new form when met.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import os
import secrets
from pathlib import Path

_TAG = "s1:"  # the scrypt form; an untagged line is an HMAC of an earlier version
# scrypt cost: ~16 MB and some tens of milliseconds per address, paid at enrolment and when
# an account has no secret in Redis, never on an ordinary login.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "maxmem": 64 * 1024 * 1024, "dklen": 32}


class EnrolmentRegistry:
    def __init__(self, path: Path, secret_key: str) -> None:
        self.path = path
        self.salt_path = path.with_name(path.name + ".salt")
        self._legacy_key = hashlib.sha256(
            b"mss-webmail enrolment registry\x00" + secret_key.encode()
        ).digest()
        self._tokens: dict[str, str] = {}
        self._listed: set[str] = set()  # seen listed in the current form by this process

    def contains(self, account: str) -> bool:
        lines = self._lines()
        if not lines:
            return False
        if self._token(account) in lines:
            return True
        if self._legacy_token(account) in lines:
            self._append(self._token(account))  # readable again after a key change
            return True
        return False

    def add(self, account: str) -> None:
        """List the account, in the current form (also called after each second factor, so
        that lines of the earlier form are rewritten before any key change)."""
        if account.lower() in self._listed:
            return
        if self._token(account) not in self._lines():
            self._append(self._token(account))
        self._listed.add(account.lower())

    def remove(self, account: str) -> bool:
        """The operator's reset: forget the account, in either form; True if it was listed."""
        self._listed.discard(account.lower())
        gone = {self._token(account), self._legacy_token(account)}
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with os.fdopen(os.dup(fd), "r+", encoding="ascii") as file:
                lines = file.read().split()
                kept = [line for line in lines if line not in gone]
                file.seek(0)
                file.truncate()
                file.write("".join(line + "\n" for line in kept))
        finally:
            os.close(fd)
        return len(kept) != len(lines)

    def _lines(self) -> set[str]:
        try:
            return set(self.path.read_text(encoding="ascii").split())
        except FileNotFoundError:
            return set()

    def _append(self, token: str) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, (token + "\n").encode())
        finally:
            os.close(fd)

    def _token(self, account: str) -> str:
        account = account.lower()
        if account not in self._tokens:
            if len(self._tokens) > 10_000:
                self._tokens.clear()  # a bound, not a cache policy: misses only cost time
            digest = hashlib.scrypt(account.encode(), salt=self._salt(), **_SCRYPT)
            self._tokens[account] = _TAG + digest.hex()
        return self._tokens[account]

    def _legacy_token(self, account: str) -> str:
        return hmac.new(self._legacy_key, account.lower().encode(), hashlib.sha256).hexdigest()

    def _salt(self) -> bytes:
        """This deployment's salt, drawn once. Written aside then linked into place: several
        instances sharing the directory agree on the first one, and never read half of it."""
        try:
            return bytes.fromhex(self.salt_path.read_text(encoding="ascii"))
        except FileNotFoundError:
            pass
        draft = self.salt_path.with_name(f"{self.salt_path.name}.{secrets.token_hex(8)}")
        draft.write_text(secrets.token_hex(32), encoding="ascii")
        draft.chmod(0o600)
        try:
            os.link(draft, self.salt_path)
        except FileExistsError:
            pass  # another instance was first: use its salt
        finally:
            draft.unlink()
        return bytes.fromhex(self.salt_path.read_text(encoding="ascii"))
