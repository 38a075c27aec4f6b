"""The whitelist in force, reloaded without a restart when its file changes.

The file's identity (inode, size, modification time) is looked at no more than every few
seconds; a changed file is parsed in a worker thread, off the event loop. A new file that
does not parse leaves the previous list in force and is reported once: a bad download must
never empty the trust space, nor open it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from webmail.trust.policy import TrustConfig
from webmail.trust.whitelist import Whitelist, WhitelistRefused, parse_file

log = logging.getLogger(__name__)

CHECK_SECONDS = 5.0


@dataclass(frozen=True)
class FileIdentity:
    device: int
    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> FileIdentity:
        status = os.stat(path)
        return cls(status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)


class WhitelistSource:
    def __init__(self, path: Path, check_seconds: float = CHECK_SECONDS) -> None:
        self.path = path
        self.check_seconds = check_seconds
        # None until a file parsed: then the send check fails closed.
        self.loaded: Whitelist | None = None
        # The file looked at last, good or bad (None: there was none), so each is parsed
        # and reported once.
        self._looked = False
        self._seen: FileIdentity | None = None
        self._checked = -float("inf")
        self._lock = asyncio.Lock()

    async def current(self) -> Whitelist | None:
        """The list in force, after a look at the file if the last one is old enough."""
        if time.monotonic() - self._checked >= self.check_seconds:
            async with self._lock:
                if time.monotonic() - self._checked >= self.check_seconds:
                    await self.refresh()
        return self.loaded

    async def refresh(self) -> None:
        """Reparses the file if it is not the one looked at last."""
        try:
            await self._look()
        finally:
            # Set once the look is over: requests arriving meanwhile wait for its result.
            self._checked = time.monotonic()

    async def _look(self) -> None:
        try:
            identity: FileIdentity | None = FileIdentity.of(self.path)
            problem = ""
        except OSError as error:
            identity, problem = None, f"cannot read {self.path}: {error.strerror or error}"
        if self._looked and identity == self._seen:
            return  # the same file as last time, good or bad: nothing new to say
        self._looked, self._seen = True, identity
        if identity is not None:
            try:
                fresh = await asyncio.to_thread(parse_file, self.path)
            except WhitelistRefused as refused:
                problem = f"{self.path} refused: {refused}"
            else:
                self.loaded = fresh
                log.info(
                    "trust space whitelist loaded: %d domains, generated %s (%d invalid entries)",
                    len(fresh),
                    fresh.generated,
                    fresh.invalid_count,
                )
                return
        kept = (
            f"the previous list ({len(self.loaded)} domains) stays in force"
            if self.loaded is not None
            else "no list is in force: every send is refused until a valid one is installed"
        )
        log.error("trust space whitelist: %s; %s", problem, kept)


async def open_source(config: TrustConfig) -> WhitelistSource | None:
    """The deployment's whitelist, loaded for the start; None when none is configured."""
    if config.whitelist is None:
        log.warning(
            "no trust space whitelist (MSS_TRUST_WHITELIST is not set): recipients are not "
            "checked against the MSSanté operator domains"
        )
        return None
    source = WhitelistSource(config.whitelist)
    await source.refresh()
    return source
