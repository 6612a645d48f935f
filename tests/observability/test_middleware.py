"""One observation per served call (observability/middleware.py), in process: the metric's
outcome is the status class (a client's mistake a 4xx, never a 5xx), the server span fails
only for the server's own failures, the client's trace is continued, and the access line is
handed the route template."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from naftiko_runtime.model import TracingSpec
from naftiko_runtime.observability.access import AccessLog
from naftiko_runtime.observability.metrics import Metrics
from naftiko_runtime.observability.middleware import observed
from naftiko_runtime.observability.tracing import Tracing

TRACE = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE}-b7ad6b7169203331-01"


def count(metrics: Metrics, adapter: str, operation: str, outcome: str) -> float:
    value = metrics.registry.get_sample_value(
        "naftiko_requests_total",
        {"adapter": adapter, "operation": operation, "outcome": outcome},
    )
    return value or 0.0


def tracing() -> Tracing:
    return Tracing(TracingSpec(buffer_size=10), None, export=False)


def test_the_outcome_is_the_status_class_and_a_clients_mistake_is_a_4xx() -> None:
    metrics = Metrics()
    for status in (200, 404, 502):
        with observed(
            "rest", "GET /x", metrics=metrics, tracing=None, span="rest.request", attributes={}
        ) as seen:
            seen.answered(status)
    with observed(
        "mcp", "tool", metrics=metrics, tracing=None, span="mcp.tool", attributes={}
    ) as seen:
        seen.finished(400, error=True)  # an MCP tool error the client caused
    with pytest.raises(RuntimeError):  # cut by an exception: the server's failure
        with observed("mcp", "tool", metrics=metrics, tracing=None, span="mcp.tool", attributes={}):
            raise RuntimeError("defect")
    assert [count(metrics, "rest", "GET /x", o) for o in ("2xx", "4xx", "5xx")] == [1, 1, 1]
    assert [count(metrics, "mcp", "tool", o) for o in ("2xx", "4xx", "5xx")] == [0, 1, 1]


def test_the_span_continues_the_clients_trace_and_fails_only_for_a_5xx() -> None:
    traced = tracing()
    for status in (404, 503):
        with observed(
            "rest",
            "GET /x",
            metrics=None,
            tracing=traced,
            span="rest.request",
            attributes={"http.route": "/x"},
            headers=[(b"traceparent", TRACEPARENT.encode())],
        ) as seen:
            seen.answered(status)
    with observed(
        "mcp",
        "tool",
        metrics=None,
        tracing=traced,
        span="mcp.tool",
        attributes={},
        meta={"traceparent": TRACEPARENT},
    ) as seen:
        seen.finished(400, error=True)
    assert traced.buffer is not None
    kept = list(reversed(traced.buffer.traces))
    assert [t["operation"] for t in kept] == ["rest.request", "rest.request", "mcp.tool"]
    assert [t["status"] for t in kept] == ["OK", "ERROR", "ERROR"]
    assert {t["traceId"] for t in kept} == {TRACE}


def test_the_access_line_names_the_route_the_call_was_observed_under(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`route` reaches the port's access line; a request no call names falls back to the
    port's `route_of`."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["path"] == "/items/7":
            with observed(
                "rest",
                "GET /items/{id}",
                metrics=None,
                tracing=None,
                span="rest.request",
                attributes={},
                route="/items/{id}",
            ) as seen:
                seen.answered(200)
        await send({"type": "http.response.start", "status": 200, "headers": []})

    logged = AccessLog(app, "rest", route_of=lambda method, path: "-")

    async def ignore(message: Any = None) -> None:
        return None

    with caplog.at_level(logging.INFO, logger="naftiko_runtime.access"):
        for path in ("/items/7", "/nowhere"):
            scope = {"type": "http", "method": "GET", "path": path, "headers": []}
            asyncio.run(logged(scope, ignore, ignore))
    assert [getattr(r, "route", None) for r in caplog.records] == ["/items/{id}", "-"]
