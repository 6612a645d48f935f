"""The upstream HTTP client behind one small interface, and its failures as UpstreamError.

The default client is `h1client.H1Upstream` (HTTP/1.1 on httptools, the least CPU per call in
bench/run.py); aiohttp's (`aiohttp_client`) and pyreqwest are behind `--http-client`. Tests
can inject any `Upstream` implementation.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from naftiko_runtime.errors import UpstreamError
from naftiko_runtime.observability.access import add_upstream_time

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
    async def send(self, request: UpstreamRequest) -> UpstreamReply: ...

    async def close(self) -> None: ...


async def close_stream(stream: AsyncIterator[bytes]) -> None:
    """Close a reply stream, which frees its connection and pool slot (a stream that is
    not an async generator or `_Releasing` may have nothing to close)."""
    closer = getattr(stream, "aclose", None)
    if closer is not None:
        await closer()


async def read_stream(stream: AsyncIterator[bytes], request: UpstreamRequest, limit: int) -> bytes:
    """A stream read to its end, refused past `limit` bytes (the stream is closed)."""
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in stream:
            size += len(chunk)
            if size > limit:
                raise too_large(request, limit)
            chunks.append(chunk)
    finally:
        await close_stream(stream)
    return b"".join(chunks)


def invalid_response(
    request: UpstreamRequest, why: str, status: int | None = None
) -> UpstreamError:
    return UpstreamError(
        "bad_response",
        f"upstream sent an invalid HTTP response for {request.operation}: {why}",
        operation=request.operation,
        upstream_status=status,
    )


def too_large(request: UpstreamRequest, limit: int, status: int | None = None) -> UpstreamError:
    return UpstreamError(
        "bad_response",
        f"upstream response for {request.operation} is too large (over {limit} bytes)",
        operation=request.operation,
        upstream_status=status,
    )


def _timeout(request: UpstreamRequest) -> UpstreamError:
    return UpstreamError(
        "timeout",
        f"upstream did not answer {request.operation} in time",
        operation=request.operation,
    )


def _stalled(request: UpstreamRequest) -> UpstreamError:
    return UpstreamError(
        "timeout",
        f"upstream stream for {request.operation} went silent and was cut",
        operation=request.operation,
    )


def cut_off(request: UpstreamRequest, why: str, status: int | None = None) -> UpstreamError:
    """A body that ended early or is malformed, on any client: a framing error, never a
    short success and never a connect failure."""
    return UpstreamError(
        "bad_response",
        f"upstream response for {request.operation} was cut off: {why}",
        operation=request.operation,
        upstream_status=status,
    )


def ragged_tls_end(transport: Any) -> bool:
    """Whether a TLS connection ended without the peer's close_notify. asyncio reports both
    ends alike (`eof_received`); its SSL protocol tells them apart only by the state it is
    in then (private attributes, checked to exist by a test): a close_notify is read as
    data (state WRAPPED, or FLUSHING when the TCP end came first while reading was
    paused), a TCP end without one is only noticed on shutdown (state SHUTDOWN)."""
    if transport is None or not transport.get_extra_info("ssl_object"):
        return False
    from asyncio import sslproto

    protocol = getattr(transport, "_ssl_protocol", None)
    state = getattr(protocol, "_state", None)
    return state is sslproto.SSLProtocolState.SHUTDOWN


def _connect(request: UpstreamRequest, why: str) -> UpstreamError:
    return UpstreamError(
        "connect",
        f"cannot reach the upstream for {request.operation}: {why}",
        operation=request.operation,
    )


class PyreqwestUpstream:
    """The same interface on pyreqwest (Rust reqwest), `--http-client pyreqwest`: its I/O
    runs on a thread of its own, which costs the event loop GIL hand-offs (bench/run.py has
    it 2-48 % behind aiohttp with one worker, even with two).

    Path segments `.`/`..` never reach it (the plan refuses them), so the WHATWG URL parser's
    dot-segment collapsing cannot change an upstream path.
    """

    def __init__(self, timeouts: Timeouts = Timeouts()) -> None:
        self._timeouts = timeouts
        self._client: Any = None
        self._digest: Upstream | None = None

    def _open(self) -> Any:
        if self._client is None:
            from pyreqwest.client import ClientBuilder

            # the total bound is ours (`send`); reqwest's would cut a stream still sending;
            # its read timeout is only a backstop (the stream idle bound is `_reqwest_chunks`)
            self._client = (
                ClientBuilder()
                .read_timeout(timedelta(seconds=max(self._timeouts.idle, self._timeouts.total)))
                .connect_timeout(timedelta(seconds=self._timeouts.connect))
                .max_connections(self._timeouts.connections)
                .follow_redirects(False)
                .build()
            )
        return self._client

    async def send(self, request: UpstreamRequest) -> UpstreamReply:
        if request.digest is not None:  # digest needs a challenge round-trip: aiohttp does it
            if self._digest is None:
                from naftiko_runtime.upstream.aiohttp_client import AiohttpUpstream

                self._digest = AiohttpUpstream(self._timeouts)
            return await _buffered(self._digest, request, self._timeouts)
        return await _within(self._send(request), self._timeouts.total, request)

    async def _send(self, request: UpstreamRequest) -> UpstreamReply:
        from pyreqwest import exceptions as errors

        builder = self._open().request(request.method, request.url)
        for key, value in request.headers:
            builder = builder.header(key, value)
        if request.body_stream is not None:
            builder = builder.body_stream(request.body_stream)
        elif request.body is not None:
            builder = builder.body_bytes(request.body)
        try:
            # read-ahead of 0: an event stream's chunks are handed over as they arrive
            streamed = builder.streamed_read_buffer_limit(0).build_streamed()
            response = await streamed.__aenter__()
        except (
            errors.ConnectTimeoutError,
            errors.RequestTimeoutError,
            errors.ReadTimeoutError,
            errors.PoolTimeoutError,
        ):
            raise _timeout(request) from None
        except (errors.ConnectError, errors.NetworkError, errors.TransportError) as exc:
            raise _connect(request, _reqwest_reason(exc)) from None
        except errors.DecodeError as exc:  # a status line or header it cannot parse
            raise invalid_response(request, _reqwest_cause(exc)) from None
        except errors.PyreqwestError:
            raise _connect(request, "the connection failed") from None
        try:
            content_type = response.get_header("content-type") or ""
        except ValueError:  # not ASCII
            content_type = "\ufffd"
        if not content_type.isascii():
            await streamed.__aexit__(None, None, None)
            raise invalid_response(request, "its Content-Type is not ASCII", response.status)
        headers = [(str(k), str(v)) for k, v in response.headers.items()]
        if request.stream_reply and response.status < 400:
            return UpstreamReply(
                response.status,
                content_type,
                stream=_reqwest_chunks(streamed, response, request, self._timeouts.idle),
                headers=headers,
            )
        if content_type.split(";")[0].strip().lower() in STREAM_TYPES and response.status < 300:
            return UpstreamReply(
                response.status,
                content_type,
                stream=_reqwest_chunks(streamed, response, request, self._timeouts.idle),
            )
        try:
            body = await _reqwest_read_capped(response, request, self._timeouts.max_body)
        except (errors.RequestTimeoutError, errors.ReadTimeoutError):
            raise _timeout(request) from None
        except errors.PyreqwestError:
            raise cut_off(request, "the body ended early", response.status) from None
        finally:
            await streamed.__aexit__(None, None, None)
        return UpstreamReply(response.status, content_type, body, headers=headers)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._digest is not None:
            await self._digest.close()
            self._digest = None


async def _reqwest_read_capped(response: Any, request: UpstreamRequest, limit: int) -> bytes:
    declared = response.get_header("content-length")
    if declared and declared.isdigit() and not response.get_header("content-encoding"):
        if int(declared) > limit:
            raise too_large(request, limit, response.status)
        return bytes(await response.bytes())  # its size is known and allowed: one read
    reader = response.body_reader  # compressed or of unknown length: counted as it comes
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await reader.read_chunk()
        if chunk is None:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise too_large(request, limit, response.status)
        chunks.append(bytes(chunk))


async def _reqwest_chunks(
    streamed: Any, response: Any, request: UpstreamRequest, idle: float
) -> AsyncIterator[bytes]:
    """The stream as it comes, cut when the upstream is silent for `idle` seconds."""
    from pyreqwest import exceptions as errors

    reader = response.body_reader  # chunks as they arrive: no buffering of event streams
    try:
        while True:
            async with asyncio.timeout(idle):
                chunk = await reader.read_chunk()
            if chunk is None:
                return
            yield bytes(chunk)
    except (TimeoutError, errors.RequestTimeoutError, errors.ReadTimeoutError):
        raise _stalled(request) from None
    except errors.PyreqwestError as exc:  # a body cut after its head: a framing error
        raise cut_off(request, "the stream was cut") from exc
    finally:
        await streamed.__aexit__(None, None, None)


def _reqwest_cause(exc: BaseException) -> str:
    """hyper's innermost reason ("invalid HTTP status-code parsed"); the outer causes name
    the URL, which may hold a query credential."""
    causes = (getattr(exc, "details", None) or {}).get("causes") or []
    message = str(causes[-1].get("message", "")) if causes else ""
    return message if message and "://" not in message else "it cannot be parsed"


def _reqwest_reason(exc: BaseException) -> str:
    text = str(exc).lower()
    if "refused" in text:
        return "connection refused"
    if "dns" in text or "resolve" in text:
        return "name resolution failed"
    if "certificate" in text or "tls" in text or "ssl" in text:
        return "TLS failure"
    if "body" in text or "decode" in text or "parse" in text or "invalid" in text:
        return "it sent an invalid HTTP response"
    return "the connection failed"


async def _buffered(
    client: Upstream, request: UpstreamRequest, timeouts: Timeouts
) -> UpstreamReply:
    reply = await client.send(request)
    if reply.stream is not None:
        reply.body = await read_stream(reply.stream, request, timeouts.max_body)
        reply.stream = None
    return reply


class _Deadlines:
    """Total timeouts of every exchange in flight on one loop, kept by a single sweep every
    50 ms instead of a timer per request (`asyncio.timeout` costs ~4.5 us a request here).
    A task past its deadline is cancelled; `_within` turns that cancel into a timeout."""

    SWEEP = 0.05

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.due: dict[asyncio.Task[Any], float] = {}
        self.expired: set[asyncio.Task[Any]] = set()
        self._sweeping = False

    def add(self, task: asyncio.Task[Any], seconds: float) -> None:
        self.due[task] = self.loop.time() + seconds
        if not self._sweeping:
            self._sweeping = True
            self.loop.call_later(self.SWEEP, self._sweep)

    def _sweep(self) -> None:
        now = self.loop.time()
        for task, due in list(self.due.items()):
            if due <= now and task not in self.expired:
                self.expired.add(task)
                task.cancel()
        if self.due:
            self.loop.call_later(self.SWEEP, self._sweep)
        else:
            self._sweeping = False


_deadlines: list[_Deadlines] = []  # the one of the running loop (a new loop gets its own)


async def _within(
    exchange: Coroutine[Any, Any, UpstreamReply], seconds: float, request: UpstreamRequest
) -> UpstreamReply:
    """`exchange`, refused with a timeout once `seconds` have passed (to within 50 ms)."""
    loop = asyncio.get_running_loop()
    if not _deadlines or _deadlines[0].loop is not loop:
        _deadlines[:] = [_Deadlines(loop)]
    deadlines = _deadlines[0]
    task = asyncio.current_task()
    assert task is not None
    cancelling = task.cancelling()
    deadlines.add(task, seconds)
    try:
        return await exchange
    except asyncio.CancelledError:
        if task in deadlines.expired and task.uncancel() <= cancelling:
            raise _timeout(request) from None
        raise  # a cancel of its own (shutdown, a client gone): not a timeout
    finally:
        deadlines.due.pop(task, None)
        deadlines.expired.discard(task)


class PooledUpstream:
    """At most `connections` exchanges at once through `inner`; a request that gets none
    within `pool` seconds is refused at once (503 `upstream_busy`) instead of queueing for
    the whole timeout behind a stuck upstream. A streamed reply holds its slot until the
    stream is read to its end or closed."""

    def __init__(self, inner: Upstream, timeouts: Timeouts) -> None:
        self._inner = inner
        self._slots = asyncio.Semaphore(timeouts.connections)
        self._wait = timeouts.pool
        self._size = timeouts.connections

    async def send(self, request: UpstreamRequest) -> UpstreamReply:
        try:
            if self._slots.locked():  # only then a timer (an unlocked acquire is immediate)
                async with asyncio.timeout(self._wait):
                    await self._slots.acquire()
            else:
                await self._slots.acquire()
        except TimeoutError:
            raise UpstreamError(
                "busy",
                f"all {self._size} connections to the upstream of {request.operation} are in "
                f"use; none was free within {self._wait:g} s",
                operation=request.operation,
            ) from None
        started = time.perf_counter()
        try:
            reply = await self._inner.send(request)
        except BaseException:
            self._slots.release()
            add_upstream_time(time.perf_counter() - started)
            raise
        add_upstream_time(time.perf_counter() - started)
        if reply.stream is None:
            self._slots.release()
        else:
            reply.stream = _Releasing(reply.stream, self._slots)
        return reply

    async def close(self) -> None:
        await self._inner.close()


class _Releasing:
    """A stream that gives its pool slot back once, when it ends or is closed (started or
    not: an async generator's `finally` would not run if it was never iterated)."""

    def __init__(self, stream: AsyncIterator[bytes], slots: asyncio.Semaphore) -> None:
        self._stream = stream
        self._slots: asyncio.Semaphore | None = slots

    def __del__(self) -> None:  # a consumer that dropped the stream unclosed: no slot lost
        slots, self._slots = self._slots, None
        if slots is not None:
            slots.release()

    def __aiter__(self) -> _Releasing:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self._stream.__anext__()
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        slots, self._slots = self._slots, None
        if slots is None:
            return
        try:
            await close_stream(self._stream)
        finally:
            slots.release()


def make_upstream(name: str, timeouts: Timeouts) -> Upstream:
    """The client named on the command line (`--http-client`), bounded by its pool."""
    factory: Any
    if name == "h1":
        from naftiko_runtime.upstream.h1 import H1Upstream  # it builds on this module

        factory = H1Upstream
    elif name == "aiohttp":
        from naftiko_runtime.upstream.aiohttp_client import (
            AiohttpUpstream,  # imported only when asked
        )

        factory = AiohttpUpstream
    else:
        factory = {"pyreqwest": PyreqwestUpstream}[name]
    return PooledUpstream(factory(timeouts), timeouts)


class UpstreamClients:
    """One pooled client per consumed namespace, so a slow or stuck API cannot take the
    connections another namespace needs. Tests may share one injected client for all.
    With `policies` (`serve --policies`), each namespace's client is wrapped in its policy
    (policies.resilience); without, nothing of them is imported or called."""

    def __init__(
        self,
        client: str = "h1",
        timeouts: Timeouts = Timeouts(),
        shared: Upstream | None = None,
        metrics: Any = None,
        tracing: Any = None,
        policies: Any = None,
    ) -> None:
        self._client = client
        self._tracing = tracing  # observability.tracing.Tracing: every call a client span
        self._timeouts = timeouts
        self._shared = shared
        self._metrics = metrics  # observability.metrics.Metrics: every call counted and timed
        self._by_namespace: dict[str, Upstream] = {}
        self.policies = policies  # policies.engine.PolicyEngine, or None

    def for_namespace(self, namespace: str) -> Upstream:
        if self._shared is not None and self.policies is None:
            return self._shared
        if namespace not in self._by_namespace:
            if self.policies is not None:
                client: Upstream = self.policies.wrap(
                    namespace,
                    lambda timeouts, first_byte: self._built(namespace, timeouts, first_byte),
                )
            else:
                client = self._built(namespace, self._timeouts)
            self._by_namespace[namespace] = client
        return self._by_namespace[namespace]

    def _built(self, namespace: str, timeouts: Timeouts, first_byte: Any = None) -> Upstream:
        """The namespace's pooled client, metered and traced when those are on."""
        if self._shared is not None:
            return self._shared
        if first_byte is not None and self._client == "h1":
            from naftiko_runtime.upstream.firstbyte import FirstByteH1Upstream

            client: Upstream = PooledUpstream(FirstByteH1Upstream(timeouts, first_byte), timeouts)
        else:
            client = make_upstream(self._client, timeouts)
        if self._metrics is not None:
            from naftiko_runtime.observability.metrics import MeteredUpstream

            client = MeteredUpstream(client, namespace, self._metrics)
        if self._tracing is not None:
            from naftiko_runtime.observability.tracing import TracedUpstream

            client = TracedUpstream(client, namespace, self._tracing)
        return client

    @property
    def namespaces(self) -> list[str]:
        return sorted(self._by_namespace)

    async def close(self) -> None:
        clients = [self._shared] if self._shared is not None else list(self._by_namespace.values())
        for client in clients:
            await client.close()
        if self.policies is not None:
            await self.policies.close()
