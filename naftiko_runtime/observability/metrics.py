"""RED metrics with prometheus-client, labelled only by names the spec declares (adapter,
route template or tool, upstream namespace, status class), never by a request's values, so
cardinality is bounded by the spec."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    exposition,
    generate_latest,
)

from naftiko_runtime.upstream.base import Upstream, UpstreamReply, UpstreamRequest

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """One registry per runtime (workers each count their own)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "naftiko_requests",
            "Requests served, by adapter, operation or tool, and outcome",
            ["adapter", "operation", "outcome"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "naftiko_request_duration_seconds",
            "Time to serve a request",
            ["adapter", "operation"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.upstream_requests = Counter(
            "naftiko_upstream_requests",
            "Upstream calls, by consumed namespace and status class (or error kind)",
            ["namespace", "status"],
            registry=self.registry,
        )
        self.upstream_duration = Histogram(
            "naftiko_upstream_duration_seconds",
            "Time an upstream took to answer",
            ["namespace"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.reloads = Counter(
            "naftiko_reloads", "Reloads, by outcome", ["outcome"], registry=self.registry
        )
        self.mcp_sessions = Gauge(
            "naftiko_mcp_sessions",
            "Open handshake-era MCP sessions, by MCP port",
            ["port"],
            registry=self.registry,
        )
        self.mcp_sessions_refused = Counter(
            "naftiko_mcp_sessions_refused",
            "New MCP sessions refused because the client held --mcp-sessions-per-client",
            ["port"],
            registry=self.registry,
        )

    def observe(self, adapter: str, operation: str, status: int, seconds: float) -> None:
        outcome = f"{status // 100}xx"
        self.requests.labels(adapter, operation, outcome).inc()
        self.duration.labels(adapter, operation).observe(seconds)

    def exposition(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), exposition.CONTENT_TYPE_LATEST


class MeteredUpstream:
    """An Upstream that counts and times every call of one namespace."""

    def __init__(self, inner: Upstream, namespace: str, metrics: Metrics) -> None:
        self.inner = inner
        self.namespace = namespace
        self.metrics = metrics
        self._count = metrics.upstream_requests
        self._time = metrics.upstream_duration.labels(namespace)

    async def send(self, request: UpstreamRequest) -> UpstreamReply:
        started = time.perf_counter()
        try:
            reply = await self.inner.send(request)
        except Exception as exc:
            kind = getattr(exc, "kind", "error")
            self._count.labels(self.namespace, str(kind)).inc()
            raise
        finally:
            self._time.observe(time.perf_counter() - started)
        self._count.labels(self.namespace, f"{reply.status // 100}xx").inc()
        return reply

    async def close(self) -> None:
        await self.inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
