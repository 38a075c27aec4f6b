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

import contextlib
import fcntl
import hashlib
import hmac
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

_TAG = "s1:"  # the scrypt form; an untagged line is an HMAC of an earlier version
# scrypt cost: ~16 MB and some tens of milliseconds per address, paid once per account and
# process (the first login after a start, in a thread), then remembered.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "maxmem": 64 * 1024 * 1024, "dklen": 32}


class EnrolmentRegistry:
    def __init__(self, path: Path, secret_key: str) -> None:
        self.path = path
        self.salt_path = path.with_name(path.name + ".salt")
        self.lock_path = path.with_name(path.name + ".lock")
        self._legacy_key = hashlib.sha256(
            b"mss-webmail enrolment registry\x00" + secret_key.encode()
        ).digest()
        self._tokens: dict[str, str] = {}
        self._listed: set[str] = set()  # seen listed in the current form by this process
        # The file's lines as last read, and how far: it only grows between resets, so a
        # lookup reads what was appended since, not the whole file (100,000 accounts: 7 MB).
        self._known: set[str] = set()
        self._read_upto = 0
        self._read_identity: tuple[int, int] = (0, 0)

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
        with self._writing():
            try:
                lines = self.path.read_text(encoding="ascii").split()
            except FileNotFoundError:
                return False
            kept = [line for line in lines if line not in gone]
            # A new file put in place: readers see another inode and read it afresh.
            draft = self.path.with_name(f"{self.path.name}.{secrets.token_hex(8)}")
            draft.write_text("".join(line + "\n" for line in kept), encoding="ascii")
            draft.chmod(0o600)
            os.replace(draft, self.path)
        return len(kept) != len(lines)

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """Writers take turns on a lock file of their own, so that an append never goes to a
        file that a reset has just replaced."""
        fd = os.open(self.lock_path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _lines(self) -> set[str]:
        try:
            with self.path.open("rb") as file:
                status = os.fstat(file.fileno())
                identity = (status.st_dev, status.st_ino)
                if identity != self._read_identity or status.st_size < self._read_upto:
                    # A new file, or one rewritten by a reset: read it all again.
                    self._known, self._read_upto, self._read_identity = set(), 0, identity
                file.seek(self._read_upto)
                appended = file.read(status.st_size - self._read_upto)
        except FileNotFoundError:
            self._known, self._read_upto, self._read_identity = set(), 0, (0, 0)
            return self._known
        # Only whole lines: an append under way elsewhere is read at the next lookup.
        complete = appended[: appended.rfind(b"\n") + 1]
        self._known.update(complete.decode("ascii").split())
        self._read_upto += len(complete)
        return self._known

    def _append(self, token: str) -> None:
        with self._writing():
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
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
