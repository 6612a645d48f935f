"""The policy file, read into frozen values (`load` builds them from validated data)."""

from __future__ import annotations

from dataclasses import dataclass, field

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
CALLER_KINDS = ("client-address", "api-key", "jwt-subject", "global")


@dataclass(frozen=True, slots=True)
class TimeoutPolicy:
    """Seconds; None leaves the level above (namespace, then the serve flags) in force."""

    connect: float | None = None
    first_byte: float | None = None
    total: float | None = None
    stream_idle: float | None = None

    def over(self, base: TimeoutPolicy) -> TimeoutPolicy:
        """These values where set, `base`'s elsewhere."""
        return TimeoutPolicy(
            self.connect if self.connect is not None else base.connect,
            self.first_byte if self.first_byte is not None else base.first_byte,
            self.total if self.total is not None else base.total,
            self.stream_idle if self.stream_idle is not None else base.stream_idle,
        )


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 3  # the first one included
    initial: float = 0.1  # backoff: uniform(0, min(max_delay, initial * 2**retry))
    max_delay: float = 2.0
    statuses: frozenset[int] = frozenset({502, 503, 504})
    errors: frozenset[str] = frozenset({"connect", "timeout"})
    retry_after_max: float = 5.0  # a longer Retry-After is not waited for
    budget_ratio: float = 0.2  # retries at most this share of the window's requests...
    budget_min: int = 3  # ...plus this many, so a quiet upstream can still be retried
    budget_window: float = 10.0


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    failure_ratio: float = 0.5
    minimum_calls: int = 10
    window: float = 30.0
    open_for: float = 15.0
    half_open_calls: int = 1


@dataclass(frozen=True, slots=True)
class OperationPolicy:
    timeouts: TimeoutPolicy = TimeoutPolicy()
    retry: RetryPolicy | None = None


@dataclass(frozen=True, slots=True)
class UpstreamPolicy:
    """One consumed namespace's policy; `operations` by target (`namespace.operation`)."""

    namespace: str
    timeouts: TimeoutPolicy = TimeoutPolicy()
    retry: RetryPolicy | None = None
    breaker: BreakerPolicy | None = None
    operations: dict[str, OperationPolicy] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RateLimitRule:
    """A token bucket of `burst` requests refilled at `limit` per `window` seconds, one per
    caller (or one in all with `per: global`), for the routes and tools named."""

    name: str
    limit: int
    window: float
    burst: int
    per: str = "client-address"
    header: str = "x-api-key"  # `per: api-key`: the (lower-case) header holding the key
    routes: tuple[tuple[str, str], ...] = ()  # (METHOD, exposed path as the spec writes it)
    tools: tuple[str, ...] = ()

    @property
    def rate(self) -> float:
        return self.limit / self.window


@dataclass(frozen=True)
class PolicySet:
    file: str
    upstreams: dict[str, UpstreamPolicy] = field(default_factory=dict)
    rate_limits: tuple[RateLimitRule, ...] = ()

    def route_rules(self, method: str, path: str) -> tuple[RateLimitRule, ...]:
        return tuple(r for r in self.rate_limits if (method, path) in r.routes)

    def tool_rules(self, name: str) -> tuple[RateLimitRule, ...]:
        return tuple(r for r in self.rate_limits if name in r.tools)
