"""The live index as the webmail reads it: read-only connections, off the event loop.

SQLite calls block, so searches run in a small pool of threads, each with its own read-only
connection. A connection is reopened when the file at the index path is no longer the one it
opened (an import swapped a new one in): compared by device, inode and modification time.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from webmail.directory.search import Entry, Query, search
from webmail.directory.vocabulary import Vocabulary

THREADS = 4


class DirectoryUnavailable(Exception):
    """No index yet, or it cannot be read: directory features say so and the mail goes on."""


_Identity = tuple[int, int, int]


class _Reader(threading.local):
    connection: sqlite3.Connection | None = None
    identity: _Identity | None = None
    # The labels of the index this connection reads (they change only with the file).
    vocabulary: Vocabulary | None = None


class DirectoryIndex:
    def __init__(self, path: Path, threads: int = THREADS) -> None:
        self.path = path
        self._reader = _Reader()
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="directory")

    async def search(self, query: Query) -> list[Entry]:
        """Raises DirectoryUnavailable when there is no readable index."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self.search_now, query)

    def search_now(self, query: Query) -> list[Entry]:
        """The same, blocking: for the command line and for the worker threads."""
        try:
            db = self._connection()
            if self._reader.vocabulary is None:
                self._reader.vocabulary = Vocabulary.load(db)
            return search(db, query, self._reader.vocabulary)
        except sqlite3.Error as error:
            self._drop()
            raise DirectoryUnavailable(str(error)) from error

    def available(self) -> bool:
        return self.path.is_file()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _connection(self) -> sqlite3.Connection:
        identity = self._identity()
        reader = self._reader
        if reader.connection is not None and reader.identity == identity:
            return reader.connection
        self._drop()
        # immutable=1: this file is never written once swapped in (an import replaces it), so
        # SQLite may skip locking and change detection on every query.
        uri = f"{self.path.resolve().as_uri()}?mode=ro&immutable=1"
        reader.connection = sqlite3.connect(uri, uri=True, check_same_thread=False)
        reader.identity = identity
        return reader.connection

    def _identity(self) -> _Identity:
        try:
            found = os.stat(self.path)
        except OSError as error:
            self._drop()
            raise DirectoryUnavailable(f"no index at {self.path}") from error
        return (found.st_dev, found.st_ino, found.st_mtime_ns)

    def _drop(self) -> None:
        if self._reader.connection is not None:
            self._reader.connection.close()
        self._reader.connection = None
        self._reader.identity = None
        self._reader.vocabulary = None
