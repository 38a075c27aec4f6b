"""MSS_METRICS_LISTEN: where the Prometheus metrics listener is, if anywhere."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


class MetricsConfigError(ValueError):
    """MSS_METRICS_LISTEN is wrong; the message names it."""


@dataclass(frozen=True)
class MetricsConfig:
    """MSS_METRICS_LISTEN: host:port of the metrics listener; None: no metrics (the default)."""

    listen: tuple[str, int] | None = None


def metrics_config(env: Mapping[str, str]) -> MetricsConfig:
    value = env.get("MSS_METRICS_LISTEN", "").strip()
    if not value or value.lower() == "off":
        return MetricsConfig()
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise MetricsConfigError(
            f"MSS_METRICS_LISTEN: expected host:port (e.g. 127.0.0.1:9464), got {value!r}"
        )
    return MetricsConfig(listen=(host.strip("[]"), int(port)))
