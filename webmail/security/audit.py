"""The audit trail: one JSON line per security-relevant action, never any mail content.

Who (account, client IP, a hash of the session), when (local time and UTC), what (action and
target: folder and UID, recipients' addresses) and how it ended. MSSanté recommends keeping
these traces six months; retention is the operator's (logrotate, journald...).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


class AuditLog:
    def __init__(self, destination: str) -> None:
        """``destination``: "stdout", or the path of a file opened in append mode."""
        self.destination = destination
        self._lock = threading.Lock()
        self._fd: int | None = None
        if destination != "stdout":
            path = Path(destination)
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def record(
        self,
        action: str,
        *,
        account: str,
        client_ip: str = "",
        session: str = "",
        result: str = "ok",
        **target: Any,
    ) -> None:
        now = datetime.now(UTC)
        entry: dict[str, Any] = {
            "time": now.astimezone(PARIS).isoformat(timespec="seconds"),
            "time_utc": now.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "action": action,
            "account": account,
            "ip": client_ip,
            # A prefix of the session's hash: enough to follow one session, useless to hijack it.
            "session": session[:16],
            "result": result,
        }
        if target:
            entry["target"] = target
        line = (json.dumps(entry, ensure_ascii=False) + "\n").encode()
        with self._lock:
            if self._fd is None:
                sys.stdout.buffer.write(line)
                sys.stdout.flush()
            else:
                os.write(self._fd, line)  # one write per line: O_APPEND keeps lines whole

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
