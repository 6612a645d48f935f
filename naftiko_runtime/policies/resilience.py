"""Per-upstream resilience around one namespace's client: timeouts per operation, retries
with full-jitter backoff under a retry budget, and a circuit breaker.

`PolicedUpstream` sits outside the metered and traced client, so every attempt is an
upstream call in the metrics and a client span in the traces. A reload hands it a new
policy (`configure`); breaker and budget state carry over while their settings hold.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any

from naftiko_runtime.errors import UpstreamError
from naftiko_runtime.policies.errors import CircuitOpen
from naftiko_runtime.policies.model import (
    IDEMPOTENT,
    BreakerPolicy,
    RetryPolicy,
    TimeoutPolicy,
    UpstreamPolicy,
)
from naftiko_runtime.upstream.base import (
    Timeouts,
    Upstream,
    UpstreamReply,
    UpstreamRequest,
    close_stream,
)
from naftiko_runtime.upstream.errors import stalled, timed_out

log = logging.getLogger("naftiko_runtime.policies")

CLOSED, HALF_OPEN, OPEN = "closed", "half-open", "open"
STATE_VALUE = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}
FAILING_ERRORS = frozenset({"connect", "timeout", "bad_response"})  # what a breaker counts
Clock = Callable[[], float]
Build = Callable[[Timeouts], Upstream]


class Window:
    """Two counts over the last `span` seconds, kept in ten slots (a count leaves the
    window at most a tenth of it late); constant memory whatever the traffic."""

    __slots__ = ("width", "slots", "a", "b")

    def __init__(self, span: float) -> None:
        self.width = span / 10
        self.slots: deque[list[int]] = deque()
        self.a = self.b = 0

    def _current(self, now: float) -> list[int]:
        index = int(now / self.width)
        slots = self.slots
        while slots and slots[0][0] <= index - 10:
            _, a, b = slots.popleft()
            self.a -= a
            self.b -= b
        if not slots or slots[-1][0] != index:
            slots.append([index, 0, 0])
        return slots[-1]

    def add(self, now: float, a: int, b: int) -> None:
        slot = self._current(now)
        slot[1] += a
        slot[2] += b
        self.a += a
        self.b += b

    def totals(self, now: float) -> tuple[int, int]:
        self._current(now)
        return self.a, self.b


class Breaker:
    """closed → open when, over `window` seconds and at least `minimum_calls` calls, the
    failure ratio reaches `failure_ratio`; open refuses at once for `open_for` seconds;
    then half-open lets `half_open_calls` probes through: all succeed → closed, one
    fails → open again."""

    def __init__(
        self,
        namespace: str,
        policy: BreakerPolicy,
        on_change: Callable[[str, str, str], None],
        clock: Clock = time.monotonic,
    ) -> None:
        self.namespace, self.policy, self.clock = namespace, policy, clock
        self.on_change = on_change
        self.state = CLOSED
        self.window = Window(policy.window)
        self.opened_at = 0.0
        self.probes = 0  # in flight
        self.passed = 0  # probes that succeeded

    def admit(self, operation: str) -> bool:
        """Whether the call may go (True: as a probe); raises CircuitOpen at once if not."""
        if self.state == CLOSED:
            return False
        if self.state == OPEN:
            left = self.opened_at + self.policy.open_for - self.clock()
            if left > 0:
                raise CircuitOpen(self.namespace, operation, left)
            self._to(HALF_OPEN, f"{self.policy.open_for:g} s passed; probing")
        if self.probes >= self.policy.half_open_calls:
            raise CircuitOpen(self.namespace, operation, 1.0)
        self.probes += 1
        return True

    def record(self, probe: bool, failed: bool, why: str) -> None:
        if probe:
            self.probes -= 1
            if self.state != HALF_OPEN:
                return
            if failed:
                self._open(f"a probe call failed ({why})")
                return
            self.passed += 1
            if self.passed >= self.policy.half_open_calls:
                self.window = Window(self.policy.window)
                self._to(CLOSED, f"{self.passed} probe call(s) succeeded")
            return
        if self.state != CLOSED:
            return  # a call let through before the circuit opened, ending late
        now = self.clock()
        self.window.add(now, 1, int(failed))
        if not failed:
            return
        calls, failures = self.window.totals(now)
        policy = self.policy
        if calls >= policy.minimum_calls and failures >= policy.failure_ratio * calls:
            self._open(
                f"{failures} of the last {calls} calls failed within {policy.window:g} s "
                f"(failure ratio {failures / calls:.2f} >= {policy.failure_ratio:g}); "
                f"last: {why}"
            )

    def release(self, probe: bool) -> None:
        """A call that ended without an outcome (cancelled): its probe slot is free again."""
        if probe:
            self.probes -= 1

    def _open(self, why: str) -> None:
        self.opened_at = self.clock()
        self.passed = 0
        self._to(OPEN, f"{why}; refusing calls for {self.policy.open_for:g} s")

    def _to(self, state: str, why: str) -> None:
        self.state = state
        if state == HALF_OPEN:
            self.passed = 0
        self.on_change(self.namespace, state, why)


class RetryBudget:
    """Retries allowed over the last `window` seconds: `minimum` plus `ratio` of the
    requests made, so during an outage retries add at most that share of load."""

    def __init__(self, window: float, clock: Clock = time.monotonic) -> None:
        self.window = Window(window)
        self.span = window
        self.clock = clock

    def request(self) -> None:
        self.window.add(self.clock(), 1, 0)

    def spend(self, policy: RetryPolicy) -> bool:
        now = self.clock()
        requests, retries = self.window.totals(now)
        if retries + 1 > policy.budget_min + policy.budget_ratio * requests:
            return False
        self.window.add(now, 0, 1)
        return True


@dataclass(frozen=True, slots=True)
class Plan:
    """What one operation's calls get: bounds below the client's own (None: the client's
    suffice), its retry policy, and whether anything at all applies."""

    total: float | None = None
    idle: float | None = None
    retry: RetryPolicy | None = None
    first_byte: float | None = None

    @property
    def plain(self) -> bool:
        return self.total is None and self.idle is None and self.retry is None


def retry_after(headers: list[tuple[str, str]] | None) -> float | None:
    """Seconds a `Retry-After` asks for (delta-seconds or an HTTP date), None without one."""
    for name, value in headers or ():
        if name.lower() != "retry-after":
            continue
        text = value.strip()
        if text.isdigit():
            return float(text)
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        return max(0.0, when.timestamp() - time.time())
    return None


def replayable(request: UpstreamRequest) -> bool:
    """Safe to send again: nothing streamed from the client, and an idempotent method or
    an `Idempotency-Key` the upstream deduplicates on."""
    if request.body_stream is not None:
        return False
    if request.method in IDEMPOTENT:
        return True
    return any(
        name.lower() == "idempotency-key" and value.strip() for name, value in request.headers
    )


def client_timeouts(base: Timeouts, policy: UpstreamPolicy | None) -> Timeouts:
    """The namespace client's own bounds: its connect timeout, and the longest total and
    stream idle any of its operations may have (shorter ones are kept per call)."""
    if policy is None:
        return base
    own = policy.timeouts
    total = own.total if own.total is not None else base.total
    idle = own.stream_idle if own.stream_idle is not None else base.idle
    operations = [op.timeouts for op in policy.operations.values()]
    totals = [total, *(t.total for t in operations if t.total is not None)]
    idles = [idle, *(t.stream_idle for t in operations if t.stream_idle is not None)]
    connect = own.connect if own.connect is not None else base.connect
    return replace(base, connect=connect, total=max(totals), idle=max(idles))


def plans(
    policy: UpstreamPolicy | None, client: Timeouts, base: Timeouts
) -> tuple[Plan, dict[str, Plan]]:
    """The namespace's default plan and each named operation's."""
    if policy is None:
        return Plan(), {}
    own = policy.timeouts

    def plan(timeouts: TimeoutPolicy, retry: RetryPolicy | None) -> Plan:
        total = timeouts.total if timeouts.total is not None else base.total
        idle = timeouts.stream_idle if timeouts.stream_idle is not None else base.idle
        return Plan(
            total if total < client.total else None,
            idle if idle < client.idle else None,
            retry if retry is not None and retry.attempts > 1 else None,
            timeouts.first_byte,
        )

    default = plan(own, policy.retry)
    by_operation = {
        target: plan(op.timeouts.over(own), op.retry) for target, op in policy.operations.items()
    }
    return default, by_operation


class PolicedUpstream:
    """One namespace's client with its policy applied (see the module docstring)."""

    def __init__(self, namespace: str, build: Build, engine: Any) -> None:
        self.namespace = namespace
        self._build = build
        self._engine = engine  # engine.PolicyEngine: metrics, tracing, state changes
        self.inner: Upstream | None = None
        self._client: Timeouts | None = None
        self.default = Plan()
        self.by_operation: dict[str, Plan] = {}
        self.breaker: Breaker | None = None
        self.budget: RetryBudget | None = None

    def configure(self, policy: UpstreamPolicy | None, base: Timeouts) -> None:
        """Take a (new) policy: the client is rebuilt only if its own bounds change."""
        client = client_timeouts(base, policy)
        if client != self._client or self.inner is None:
            old, self.inner, self._client = self.inner, self._build(client), client
            if old is not None and old is not self.inner:  # a shared test client stays
                self._engine.retire(old, client.total)
        self.default, self.by_operation = plans(policy, client, base)
        wanted = policy.breaker if policy is not None else None
        if wanted is None:
            self.breaker = None
        elif self.breaker is None or self.breaker.policy != wanted:
            self.breaker = Breaker(self.namespace, wanted, self._engine.circuit_changed)
        retries = [p.retry for p in (self.default, *self.by_operation.values()) if p.retry]
        if not retries:
            self.budget = None
        elif self.budget is None or self.budget.span != retries[0].budget_window:
            self.budget = RetryBudget(retries[0].budget_window)

    def first_byte(self, operation: str) -> float | None:
        """The first-byte bound of an operation (kept by the h1 client)."""
        return self.by_operation.get(operation, self.default).first_byte

    async def send(self, request: UpstreamRequest) -> UpstreamReply:
        plan = self.by_operation.get(request.operation, self.default)
        if plan.plain and self.breaker is None:
            if self.budget is not None:  # every request to the upstream earns retries
                self.budget.request()
            assert self.inner is not None
            return await self.inner.send(request)
        return await self._send(request, plan)

    async def _send(self, request: UpstreamRequest, plan: Plan) -> UpstreamReply:
        breaker = self.breaker
        retry = plan.retry if plan.retry is not None and replayable(request) else None
        if self.budget is not None:
            self.budget.request()
        headers = list(request.headers) if retry is not None else []
        attempt = 0
        while True:
            probe = breaker.admit(request.operation) if breaker is not None else False
            # each attempt its own headers: a traced client adds its `traceparent` to them
            current = request if attempt == 0 else replace(request, headers=list(headers))
            try:
                reply = await self._attempt(current, plan)
            except UpstreamError as exc:
                if breaker is not None and exc.kind == "busy":  # our pool, not its health
                    breaker.release(probe)
                elif breaker is not None:
                    breaker.record(probe, exc.kind in FAILING_ERRORS, exc.kind)
                if retry is None or exc.kind not in retry.errors:
                    raise
                if not self._may_retry(retry, attempt, None):
                    raise
                reason, wait = exc.kind, backoff(retry, attempt)
            except BaseException:
                if breaker is not None:
                    breaker.release(probe)
                raise
            else:
                status = reply.status
                if breaker is not None:
                    breaker.record(probe, status >= 500, f"status {status}")
                if retry is None or status not in retry.statuses:
                    return reply
                asked = retry_after(reply.headers)
                if not self._may_retry(retry, attempt, asked):
                    return reply  # the client gets this answer, its Retry-After with it
                if reply.stream is not None:
                    await close_stream(reply.stream)
                reason, wait = str(status), max(backoff(retry, attempt), asked or 0.0)
            attempt += 1
            self._engine.retried(self.namespace, request.operation, attempt, reason, wait)
            await asyncio.sleep(wait)

    def _may_retry(self, retry: RetryPolicy, attempt: int, asked: float | None) -> bool:
        """Another attempt is left, the wait asked for is within bounds, and the budget
        has a retry to spend (only then is one spent)."""
        if attempt + 1 >= retry.attempts:
            return False
        if asked is not None and asked > retry.retry_after_max:
            self._engine.retry_denied(self.namespace, "retry_after")
            return False
        if self.budget is not None and not self.budget.spend(retry):
            self._engine.retry_denied(self.namespace, "budget")
            return False
        return True

    async def _attempt(self, request: UpstreamRequest, plan: Plan) -> UpstreamReply:
        inner = self.inner
        assert inner is not None
        if plan.total is None:
            reply = await inner.send(request)
        else:
            try:
                async with asyncio.timeout(plan.total):
                    reply = await inner.send(request)
            except TimeoutError:
                raise timed_out(request) from None
        if plan.idle is not None and reply.stream is not None:
            reply.stream = IdleBounded(reply.stream, plan.idle, request)
        return reply

    async def close(self) -> None:
        if self.inner is not None:
            await self.inner.close()


def backoff(policy: RetryPolicy, attempt: int) -> float:
    """Full jitter: anywhere from 0 to the exponential ceiling, so retries of many
    callers never line up."""
    return random.uniform(0.0, min(policy.max_delay, policy.initial * 2**attempt))


class IdleBounded:
    """A reply stream cut when silent for longer than an operation's own idle bound."""

    def __init__(self, stream: AsyncIterator[bytes], idle: float, request: UpstreamRequest):
        self._stream, self._idle, self._request = stream, idle, request

    def __aiter__(self) -> IdleBounded:
        return self

    async def __anext__(self) -> bytes:
        try:
            async with asyncio.timeout(self._idle):
                return await self._stream.__anext__()
        except TimeoutError:
            await close_stream(self._stream)
            raise stalled(self._request) from None

    async def aclose(self) -> None:
        await close_stream(self._stream)
