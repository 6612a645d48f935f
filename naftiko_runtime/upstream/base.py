"""The seam every upstream HTTP client fits: the `Upstream` protocol, the request and reply
it carries, the bounds it keeps, and the time a request spent on upstreams.

It imports no client and nothing above it, so a client, a wrapper (metrics, tracing, a
policy) or a test double can build on it without a circle. The clients are `h1.H1Upstream`
(the default: HTTP/1.1 on httptools, the least CPU per call in bench/run.py),
`aiohttp.AiohttpUpstream` and `pyreqwest.PyreqwestUpstream` (`--http-client`); `pool` picks
one per namespace and bounds it; `memory.MemoryUpstream` answers without a socket.
"""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

STREAM_TYPES = ("text/event-stream",)


MAX_BODY = 16 * 1024 * 1024
"""Default cap on an upstream body read in full, counted after decompression."""


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds: `connect` to open a connection, `total` for an exchange until its body is
    read, `idle` between two chunks of a stream once it has started (a stream may run longer
    than `total`), `pool` to wait for one of the `connections` a namespace may hold."""

    connect: float = 5.0
    total: float = 30.0
    max_body: int = MAX_BODY  # bytes of a (decompressed) upstream body read in full
    idle: float = 30.0
    pool: float = 1.0
    connections: int = 256


@dataclass(slots=True)
class UpstreamRequest:
    method: str
    url: str
    headers: list[tuple[str, str]]
    body: bytes | None
    operation: str
    digest: tuple[str, str] | None = None
    body_stream: AsyncIterator[bytes] | None = None  # a forwarded request body, as it comes
    stream_reply: bool = False  # a 2xx/3xx reply is streamed whatever its type (forward)


@dataclass(slots=True)
class UpstreamReply:
    """A response: `body` read in full, or `stream` (which the receiver must drain or close)."""

    status: int
    content_type: str
    body: bytes = b""
    stream: AsyncIterator[bytes] | None = None
    headers: list[tuple[str, str]] | None = None  # as received (engine.headers filters them)


class Upstream(Protocol):
    """What the engine calls: `send` one request (raising an `errors.UpstreamError`
    subclass when the exchange fails), `close` once when the runtime stops."""

    async def send(self, request: UpstreamRequest) -> UpstreamReply: ...

    async def close(self) -> None: ...


async def close_stream(stream: AsyncIterator[bytes]) -> None:
    """Close a reply stream, which frees its connection and pool slot (a stream that is
    not an async generator or a pooled stream may have nothing to close)."""
    closer = getattr(stream, "aclose", None)
    if closer is not None:
        await closer()


UPSTREAM_SECONDS: contextvars.ContextVar[list[float] | None] = contextvars.ContextVar(
    "naftiko_upstream_seconds", default=None
)
"""The current request's seconds spent waiting on upstreams, when something counts them
(the access log sets a fresh `[0.0]` per request)."""


def add_upstream_time(seconds: float) -> None:
    """Called around each exchange (`pool`): counts toward the current request's upstream
    time, if it is counted."""
    total = UPSTREAM_SECONDS.get()
    if total is not None:
        total[0] += seconds
