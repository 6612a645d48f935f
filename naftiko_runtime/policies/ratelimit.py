"""Rate limits as token buckets, per rule and per caller, with the IETF `RateLimit` and
`RateLimit-Policy` fields (draft-ietf-httpapi-ratelimit-headers).

A REST route's limit runs right after its authentication (`LimitedGuard`), so a caller
identified by a verified token's subject is only ever charged for its own requests; an
MCP tool's runs when the tool is called. Refused: REST 429 JSON, MCP a JSON-RPC error
(-32029) whose `data` carries the same facts.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import orjson

from naftiko_runtime.adapters.asgi import (
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    respond,
)
from naftiko_runtime.adapters.auth.base import Guard
from naftiko_runtime.adapters.errors import problem
from naftiko_runtime.policies.model import RateLimitRule

MAX_CALLERS = 100_000  # buckets one rule keeps; the least recently seen caller goes first
RATE_LIMITED = -32029  # the JSON-RPC code of a refused MCP call (server-defined range)
SCOPE_KEY = "naftiko.ratelimit"  # where an admitted REST request keeps its header fields
Headers = Sequence[tuple[bytes, bytes]]


class Outcome(NamedTuple):  # a tuple: built per request, cheaper than a frozen dataclass
    rule: RateLimitRule
    allowed: bool
    remaining: int
    reset: float  # seconds until the bucket is full again
    retry_after: float  # seconds until the next request would pass (0 when it does)


class RateLimiter:
    """One rule's buckets, one per caller key: [tokens, when last counted]. Past
    MAX_CALLERS the longest-known caller is forgotten (it starts again with a full bucket)."""

    def __init__(self, rule: RateLimitRule, clock: Callable[[], float] = time.monotonic) -> None:
        self.rule = rule
        self.clock = clock
        self.buckets: dict[str, list[float]] = {}
        self._burst, self._rate = float(rule.burst), rule.rate

    def take(self, key: str) -> Outcome:
        now, burst, rate = self.clock(), self._burst, self._rate
        bucket = self.buckets.get(key)
        if bucket is None:
            buckets = self.buckets
            bucket = buckets[key] = [burst, now]
            if len(buckets) > MAX_CALLERS:
                del buckets[next(iter(buckets))]
        else:
            tokens = bucket[0] + (now - bucket[1]) * rate
            bucket[0] = tokens if tokens < burst else burst
            bucket[1] = now
        tokens = bucket[0]
        if tokens >= 1.0:
            tokens = bucket[0] = tokens - 1.0
            return Outcome(self.rule, True, int(tokens), (burst - tokens) / rate, 0.0)
        return Outcome(self.rule, False, 0, (burst - tokens) / rate, (1.0 - tokens) / rate)

    def refund(self, key: str) -> None:
        """Give back a token taken for a request another rule then refused."""
        bucket = self.buckets.get(key)
        if bucket is not None:
            bucket[0] = min(float(self.rule.burst), bucket[0] + 1.0)


def _hashed(prefix: str, value: bytes) -> str:
    """A caller's key without the credential itself (a digest, never the key)."""
    return prefix + hashlib.blake2b(value, digest_size=16).hexdigest()


def _subject(headers: Headers) -> str | None:
    """The `sub` of a bearer JWT (checked by the adapter's oauth2 guard before this runs:
    `load` refuses `per: jwt-subject` anywhere else)."""
    for name, value in headers:
        if name != b"authorization":
            continue
        scheme, _, token = value.strip().partition(b" ")
        parts = token.strip().split(b".")
        if scheme.lower() != b"bearer" or len(parts) != 3:
            return None
        try:
            claims = orjson.loads(base64.urlsafe_b64decode(parts[1] + b"=" * (-len(parts[1]) % 4)))
        except (binascii.Error, ValueError):
            return None
        subject = claims.get("sub") if isinstance(claims, dict) else None
        return subject if isinstance(subject, str) and subject else None
    return None


def caller_key(rule: RateLimitRule, headers: Headers, client: Any) -> str:
    """Whom a request is counted against: its API key, its token's subject, or (without
    either, and by default) its client address; one bucket for all with `per: global`."""
    if rule.per == "global":
        return ""
    if rule.per == "api-key":
        wanted = rule.header.encode("latin-1")
        for name, value in headers:
            if name == wanted and value:
                return _hashed("k:", value)
    elif rule.per == "jwt-subject":
        subject = _subject(headers)
        if subject is not None:
            return _hashed("s:", subject.encode())
    return "a:" + str(client[0] if client else "-")


def _seconds(value: float) -> int:
    return max(0, math.ceil(value - 1e-9))


def policy_field(rules: Sequence[RateLimitRule]) -> bytes:
    """`RateLimit-Policy: "name";q=LIMIT;w=WINDOW`, one list member per rule."""
    return ", ".join(f'"{r.name}";q={r.limit};w={_seconds(r.window)}' for r in rules).encode()


def header_fields(outcomes: Sequence[Outcome], policy: bytes) -> list[tuple[bytes, bytes]]:
    """`policy` and `RateLimit: "name";r=LEFT;t=RESET`, one list member per rule (t:
    seconds until the quota is whole again)."""
    if len(outcomes) == 1:  # the usual case, on every answer of a limited route
        o = outcomes[0]
        limits = f'"{o.rule.name}";r={o.remaining};t={math.ceil(o.reset - 1e-9)}'
    else:
        limits = ", ".join(
            f'"{o.rule.name}";r={o.remaining};t={_seconds(o.reset)}' for o in outcomes
        )
    return [(b"ratelimit-policy", policy), (b"ratelimit", limits.encode())]


def _caller_words(rule: RateLimitRule) -> str:
    return {
        "global": "in all",
        "api-key": "per API key",
        "jwt-subject": "per token subject",
    }.get(rule.per, "per client address")


class Limits:
    """The rules of one route or tool, each with its limiter; a request must pass all."""

    def __init__(
        self,
        limiters: Sequence[RateLimiter],
        on_refuse: Callable[[str], None] = lambda name: None,
    ) -> None:
        self.limiters = tuple(limiters)
        self.on_refuse = on_refuse
        self.policy = policy_field([limiter.rule for limiter in self.limiters])

    def take(self, headers: Headers, client: Any) -> tuple[Outcome | None, list[Outcome]]:
        """(the refusing outcome or None, every outcome for the header fields)."""
        if len(self.limiters) == 1:  # the usual case: no refund to arrange
            limiter = self.limiters[0]
            outcome = limiter.take(caller_key(limiter.rule, headers, client))
            if outcome.allowed:
                return None, [outcome]
            self.on_refuse(limiter.rule.name)
            return outcome, [outcome]
        taken: list[tuple[RateLimiter, str]] = []
        outcomes: list[Outcome] = []
        for limiter in self.limiters:
            key = caller_key(limiter.rule, headers, client)
            outcome = limiter.take(key)
            outcomes.append(outcome)
            if not outcome.allowed:
                for earlier, earlier_key in taken:  # not charged for a refused request
                    earlier.refund(earlier_key)
                self.on_refuse(limiter.rule.name)
                return outcome, outcomes
            taken.append((limiter, key))
        return None, outcomes

    @staticmethod
    def message(refused: Outcome) -> str:
        rule = refused.rule
        return (
            f"rate limit {rule.name!r} reached: {rule.limit} requests per {rule.window:g} s "
            f"{_caller_words(rule)}; retry in {_seconds(refused.retry_after) or 1} s"
        )

    # ------------------------------------------------------------------ REST
    def guarding(self, guard: Guard | None) -> LimitedGuard:
        return LimitedGuard(guard, self)

    def stamping(self, handler: ASGIApp) -> ASGIApp:
        """`handler` whose answers carry the rate-limit fields its admission found."""

        async def handle(scope: Scope, receive: Receive, send: Send) -> None:
            async def stamped(message: Message) -> None:
                fields = scope.get(SCOPE_KEY)
                if fields and message["type"] == "http.response.start":
                    message = {**message, "headers": [*message.get("headers", ()), *fields]}
                await send(message)

            await handler(scope, receive, stamped)

        return handle

    # ------------------------------------------------------------------ MCP
    def check_call(self, headers: Headers, client: Any) -> None:
        """Raise the JSON-RPC error of a refused tool call (nothing when it may run)."""
        refused, outcomes = self.take(headers, client)
        if refused is None:
            return
        from mcp.shared.exceptions import MCPError

        rule, fields = refused.rule, dict(header_fields(outcomes, self.policy))
        raise MCPError(
            RATE_LIMITED,
            self.message(refused),
            {
                "type": "rate_limited",
                "policy": rule.name,
                "limit": rule.limit,
                "window": rule.window,
                "remaining": 0,
                "retryAfter": _seconds(refused.retry_after) or 1,
                "rateLimit": fields[b"ratelimit"].decode(),
                "rateLimitPolicy": fields[b"ratelimit-policy"].decode(),
            },
        )


class LimitedGuard(Guard):
    """An adapter's guard, then the route's limits: only an authenticated request is
    counted, and a refused one gets the 429 here."""

    def __init__(self, inner: Guard | None, limits: Limits) -> None:
        self.inner, self.limits = inner, limits

    async def passes(self, scope: Scope) -> bool:
        return self.inner is None or await self.inner.passes(scope)

    async def reject(self, send: Send, scope: Scope | None = None) -> None:
        if self.inner is not None:
            await self.inner.reject(send, scope)

    async def admit(self, scope: Scope, send: Send) -> bool:
        if self.inner is not None and not await self.inner.admit(scope, send):
            return False
        refused, outcomes = self.limits.take(scope["headers"], scope.get("client"))
        fields = header_fields(outcomes, self.limits.policy)
        if refused is None:
            scope[SCOPE_KEY] = fields
            return True
        wait = _seconds(refused.retry_after) or 1
        rule = refused.rule
        refusal = problem(
            429,
            "rate_limited",
            self.limits.message(refused),
            policy=rule.name,
            limit=rule.limit,
            window=rule.window,
            retry_after=wait,
        )
        await respond(send, *refusal, headers=[(b"retry-after", str(wait).encode()), *fields])
        return False
