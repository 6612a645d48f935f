"""What the control adapter reports about this instance: uptime, readiness, the last reload."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from naftiko_runtime.observability.metrics import Metrics


@dataclass
class ControlState:
    metrics: Metrics
    started: float = field(default_factory=time.time)
    draining: bool = False  # SIGTERM received: /health/ready answers 503
    serving: bool = False  # every socket bound and every server started
    capabilities: list[dict[str, Any]] = field(default_factory=list)
    adapters: list[dict[str, Any]] = field(default_factory=list)
    last_reload: dict[str, Any] | None = None

    def reloaded(self, ok: bool, diagnostics: list[str]) -> None:
        self.metrics.reloads.labels("ok" if ok else "rejected").inc()
        self.last_reload = {"at": time.time(), "ok": ok, "diagnostics": diagnostics[:50]}
