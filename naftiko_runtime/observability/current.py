"""The process's tracing, when on, where the engine's steps look for it (without importing
the OpenTelemetry SDK when tracing is off: start-up time and memory)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

ACTIVE: Any = None  # observability.tracing.Tracing
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
"""The standard OTel variables that turn export on (read here to decide whether tracing
is wanted before the SDK is imported)."""


@contextlib.contextmanager
def step_span(kind: str, attributes: dict[str, Any]) -> Iterator[None]:
    """A span around one orchestration step, named as the reference names it (`step.call`,
    `step.lookup`, `step.script`); call only when ACTIVE is set."""
    with ACTIVE.tracer.start_as_current_span(
        f"step.{kind}", attributes=attributes, record_exception=False
    ):
        yield
