"""One observation of one served call, the same for every adapter: its server span (trace
context continued from the client), its time and outcome in the metrics, and its route for
the access line. REST wraps each route with it; an MCP tool call is the same thing.

Nothing is imported or started for a part that is off: with neither metrics nor tracing an
adapter does not call this at all.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from naftiko_runtime.observability.access import note_route

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from naftiko_runtime.observability.metrics import Metrics
    from naftiko_runtime.observability.tracing import Tracing


class Observed:
    """What the observed call says about its end, before it ends. Until then it counts as
    a 500: a call cut by an exception is the server's failure."""

    __slots__ = ("span", "status")

    def __init__(self, span: Span | None) -> None:
        self.span = span
        self.status = 500

    def answered(self, status: int) -> None:
        """An HTTP answer: its status is the outcome and a span attribute; a 5xx fails the
        span (a 4xx is the client's mistake, not the server's)."""
        self.status = status
        if self.span is not None:
            self.span.set_attribute("http.response.status_code", status)
            if status >= 500:
                self.span.set_status(_error())

    def finished(self, status: int, *, error: bool) -> None:
        """An answer without an HTTP status (an MCP tool result): `status` is the class it
        counts under (`adapters.errors.status_of` of its error: 400 for a client's mistake),
        `error` fails the span."""
        self.status = status
        if error and self.span is not None:
            self.span.set_status(_error())


@contextlib.contextmanager
def observed(
    adapter: str,
    operation: str,
    *,
    metrics: Metrics | None,
    tracing: Tracing | None,
    span: str,
    attributes: dict[str, Any],
    headers: Iterable[tuple[bytes, bytes]] = (),
    meta: Mapping[str, Any] | None = None,
    route: str | None = None,
) -> Iterator[Observed]:
    """Observe one call of `operation` (a route template or tool name, never a request's
    values) served by `adapter`: a `span` server span with `attributes`, its trace context
    taken from MCP's `meta` when it carries a `traceparent`, else from the HTTP `headers`;
    counted and timed under its outcome in `metrics`; `route` named on its access line."""
    if route is not None:
        note_route(route)
    seen = Observed(None)
    started = time.perf_counter()
    try:
        if tracing is None:
            yield seen
        else:
            if meta is not None and "traceparent" in meta:
                context = tracing.extract_meta(meta)
            else:
                context = tracing.extract_headers(headers)
            with tracing.server_span(span, context, attributes) as seen.span:
                yield seen
    finally:
        if metrics is not None:
            metrics.observe(adapter, operation, seen.status, time.perf_counter() - started)


@functools.cache
def _error() -> Any:
    from opentelemetry.trace import StatusCode

    return StatusCode.ERROR
