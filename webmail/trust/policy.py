"""What the deployment says about the trust space: where its whitelist is, and what happens
to a recipient outside it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class OutsidePolicy(StrEnum):
    # Health data may only be exchanged inside the trust space: the send is refused.
    REFUSE = "refuse"
    # The user is warned and must confirm, for deployments that also reach other mail.
    WARN = "warn"


@dataclass(frozen=True)
class TrustConfig:
    # None: no whitelist, so no recipient is checked (a deployment outside the trust space).
    whitelist: Path | None = None
    outside: OutsidePolicy = OutsidePolicy.REFUSE
