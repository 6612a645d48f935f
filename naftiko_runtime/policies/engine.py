"""The policies in force in one process: each namespace's policed client, the rate
limiters, the metrics and log lines. Built once (`serve --policies`); a reload hands it the
new policy set (`apply`) and keeps breaker, budget and bucket state where settings hold."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from naftiko_runtime.policies.model import PolicySet, RateLimitRule
from naftiko_runtime.policies.ratelimit import Limits, RateLimiter
from naftiko_runtime.policies.resilience import STATE_VALUE, PolicedUpstream
from naftiko_runtime.upstream.base import Timeouts, Upstream

log = logging.getLogger("naftiko_runtime.policies")
Build = Callable[[Timeouts, Callable[[str], float | None]], Upstream]


class PolicyMetrics:
    """The policies' own series, on the runtime's registry (only when policies are on)."""

    def __init__(self, registry: Any) -> None:
        from prometheus_client import Counter, Gauge

        self.retries = Counter(
            "naftiko_upstream_retries",
            "Upstream calls sent again, by namespace and why (status or error kind)",
            ["namespace", "reason"],
            registry=registry,
        )
        self.retries_denied = Counter(
            "naftiko_upstream_retries_denied",
            "Retries not made: the retry budget was spent, or Retry-After asked too long",
            ["namespace", "reason"],
            registry=registry,
        )
        self.circuit_state = Gauge(
            "naftiko_circuit_state",
            "Circuit breaker state by namespace: 0 closed, 1 half-open, 2 open",
            ["namespace"],
            registry=registry,
        )
        self.circuit_changes = Counter(
            "naftiko_circuit_transitions",
            "Circuit breaker state changes, by namespace and the state entered",
            ["namespace", "state"],
            registry=registry,
        )
        self.rate_limited = Counter(
            "naftiko_rate_limited",
            "Requests refused by a rate limit, by policy name",
            ["policy"],
            registry=registry,
        )


class PolicyEngine:
    def __init__(
        self, policies: PolicySet, timeouts: Timeouts, metrics: Any = None, tracing: Any = None
    ) -> None:
        self.policies = policies
        self.timeouts = timeouts  # the serve flags: what a policy leaves unset
        self.metrics = PolicyMetrics(metrics.registry) if metrics is not None else None
        self.tracing = tracing
        self.upstreams: dict[str, PolicedUpstream] = {}
        self._limiters: dict[RateLimitRule, RateLimiter] = {}
        self._retired: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ upstreams
    def wrap(self, namespace: str, build: Build) -> PolicedUpstream:
        """`namespace`'s client under its policy (any namespace: a reload may add one)."""
        policed = PolicedUpstream(namespace, lambda t: build(t, policed.first_byte), self)
        policed.configure(self.policies.upstreams.get(namespace), self.timeouts)
        self.upstreams[namespace] = policed
        return policed

    def apply(self, policies: PolicySet) -> None:
        """Put a reloaded policy set in force (on the event loop, between two requests)."""
        self.policies = policies
        for namespace, policed in self.upstreams.items():
            policed.configure(policies.upstreams.get(namespace), self.timeouts)
        log.info(
            "policies from %s in force: %d upstream(s), %d rate limit(s)",
            policies.file,
            len(policies.upstreams),
            len(policies.rate_limits),
        )

    def retire(self, client: Upstream, after: float) -> None:
        """A client replaced by a reload, closed once what it has in flight is done."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not serving yet: nothing can be in flight
            return

        def close() -> None:
            task = loop.create_task(client.close())
            self._retired.add(task)
            task.add_done_callback(self._retired.discard)

        loop.call_later(after + 1.0, close)

    # ------------------------------------------------------------------ rate limits
    def limiter(self, rule: RateLimitRule) -> RateLimiter:
        """The limiter of `rule`: the same one (its buckets) across reloads while the rule
        is unchanged."""
        found = self._limiters.get(rule)
        if found is None:
            found = self._limiters[rule] = RateLimiter(rule)
        return found

    def _limits(self, rules: tuple[RateLimitRule, ...]) -> Limits | None:
        if not rules:
            return None
        return Limits([self.limiter(r) for r in rules], self._refused)

    def route_limits(self, policies: PolicySet, method: str, path: str) -> Limits | None:
        return self._limits(policies.route_rules(method, path))

    def tool_limits(self, policies: PolicySet) -> dict[str, Limits]:
        names = {tool for rule in policies.rate_limits for tool in rule.tools}
        found = {name: self._limits(policies.tool_rules(name)) for name in names}
        return {name: limits for name, limits in found.items() if limits is not None}

    def _refused(self, name: str) -> None:
        if self.metrics is not None:
            self.metrics.rate_limited.labels(name).inc()

    # ------------------------------------------------------------------ events
    def circuit_changed(self, namespace: str, state: str, why: str) -> None:
        level = logging.WARNING if state == "open" else logging.INFO
        log.log(level, "circuit of upstream %s is %s: %s", namespace, state, why)
        if self.metrics is not None:
            self.metrics.circuit_state.labels(namespace).set(STATE_VALUE[state])
            self.metrics.circuit_changes.labels(namespace, state).inc()

    def retried(self, namespace: str, operation: str, attempt: int, why: str, wait: float) -> None:
        if self.metrics is not None:
            self.metrics.retries.labels(namespace, why).inc()
        if self.tracing is not None:
            from opentelemetry import trace

            trace.get_current_span().add_event(
                "upstream.retry",
                {
                    "naftiko.namespace": namespace,
                    "naftiko.operation.id": operation,
                    "http.request.resend_count": attempt,
                    "naftiko.retry.reason": why,
                    "naftiko.retry.wait_seconds": round(wait, 3),
                },
            )

    def retry_denied(self, namespace: str, why: str) -> None:
        if self.metrics is not None:
            self.metrics.retries_denied.labels(namespace, why).inc()

    async def close(self) -> None:
        for task in list(self._retired):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
