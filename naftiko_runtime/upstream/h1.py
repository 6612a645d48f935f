"""`--http-client h1`: HTTP/1.1 to upstreams on asyncio protocols and httptools' parser.

Why: the gateway's work per request is mostly its upstream calls, and aiohttp's client spends
about 250 us of CPU per exchange here where a protocol feeding llhttp (httptools) spends about
40 (measured alone against nginx; bench/run.py has the rows with each client). What it does:
keep-alive pools per origin, TLS with the system's trust store, gzip/deflate bodies, streamed
replies with back-pressure, the same caps, timeouts and error wording as the other clients.
Digest auth (a challenge round trip), request bodies streamed from a client (forward) and URLs
holding user info are handed to aiohttp. With policies served (`--policies`), an operation's
`firstByte` bound is kept too: an upstream that accepted the request but sends no byte of its
answer in time gets a 504, long before the whole exchange's `total`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import httptools

from naftiko_runtime.errors import (
    InvocationError,
    UpstreamBadResponseError,
    UpstreamConnectError,
    UpstreamTimeoutError,
)
from naftiko_runtime.upstream.base import (
    STREAM_TYPES,
    Timeouts,
    Upstream,
    UpstreamReply,
    UpstreamRequest,
)
from naftiko_runtime.upstream.deadlines import within
from naftiko_runtime.upstream.errors import (
    cut_off,
    invalid_response,
    ragged_tls_end,
    stalled,
    timed_out,
    too_large,
    unreachable,
)

MAX_HEAD = 64 * 1024
"""Bytes of a status line and headers; a longer head is refused (aiohttp: 8 KB a line)."""
KEEP_IDLE = 15.0
"""Seconds an idle connection is reused; an older one is closed instead (as aiohttp)."""
STREAM_BUFFER = 256 * 1024
"""Bytes of a streamed reply held before reading from the upstream pauses."""
_RETRIABLE = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


class _Stale(Exception):
    """A kept-alive connection closed before a byte of the reply came: safe to retry."""


class _Origin:
    __slots__ = ("host", "port", "tls", "authority", "server_name")

    def __init__(self, scheme: str, authority: str) -> None:
        host, port = _host_port(authority, _DEFAULT_PORTS[scheme])
        self.host = host
        self.port = port
        self.tls = scheme == "https"
        self.authority = authority
        self.server_name = host if self.tls else None


def _host_port(authority: str, default: int) -> tuple[str, int]:
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise ValueError(authority)
        host, rest = authority[1:end], authority[end + 1 :]
        port = int(rest[1:]) if rest.startswith(":") else default
        return host, port
    host, colon, port_text = authority.rpartition(":")
    if not colon:
        return authority, default
    return host, int(port_text) if port_text else default


class _Connection(asyncio.Protocol):
    """One upstream connection, one exchange at a time; httptools calls back into it."""

    def __init__(self, key: tuple[str, bool]) -> None:
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.reusable = False  # true between exchanges on a kept-alive connection
        self.idle_since = 0.0
        self.paused = False  # reading paused: a streamed reply's consumer is behind
        self.ragged = False  # TLS ended without close_notify (see eof_received)
        self._reset(None, False, 0, False)

    def _reset(
        self, waiter: asyncio.Future[Any] | None, stream_reply: bool, limit: int, head_only: bool
    ) -> None:
        """The state of one exchange, fresh (a connection serves one at a time)."""
        self.waiter = waiter
        self.stream_reply = stream_reply
        self.head_only = head_only  # a HEAD: no body follows, whatever the headers say
        self.limit = limit
        self.head_size = 0
        self.received = False
        self.head_done = False
        self.done = False
        self.streaming = False
        self.status = 0
        self.headers: list[tuple[str, str]] = []
        self.content_type = ""
        self.content_length: int | None = None
        self.chunked = False
        self.encoding = ""
        self.chunks: list[bytes] = []
        self.size = 0
        self.error: tuple[str, str, int | None] | None = None  # kind, why, status
        self.informational = False

    # ------------------------------------------------------------------ asyncio protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.waiter is None or self.done or self.error is not None:
            self._close()  # bytes nobody asked for: never reuse this connection
            return
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail("bad_response", "it asks to switch protocols")
            return
        except httptools.HttpParserInvalidStatusError:
            self._fail("bad_response", "bad status line")
            return
        except httptools.HttpParserError:
            if self.done:  # the reply was whole; what followed it was not HTTP
                self._close()
            else:
                self._fail("bad_response", "it cannot be parsed")
            return
        if not self.head_done and self.error is None:  # only the head counts, read by read
            self.head_size += len(data)
            if self.head_size > MAX_HEAD:
                self._fail("bad_response", "a line is too long")

    def eof_received(self) -> bool | None:
        """A body that ends with the connection is whole only after a close_notify: a
        ragged end may be a truncation (see `ragged_tls_end`)."""
        self.ragged = ragged_tls_end(self.transport)
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.reusable = False
        if self.done or self.error is not None:
            return  # its outcome is known already
        if self.waiter is None and not self.streaming:
            return  # nothing in flight
        if not self.received:
            self._settle(_Stale())
        elif self.head_done and self.content_length is None and not self.chunked:
            # a body that ends when the connection does: only an orderly close (a FIN, TLS's
            # close_notify) ends it; a reset or a TLS stream cut without close_notify is a
            # body cut short, and must never pass as a complete, shorter one
            if exc is None and not self.ragged:
                self.on_message_complete()
            else:
                self._fail("cut", "the connection was reset before the body ended")
        elif self.head_done:
            self._fail("cut", "the body ended early")
        else:
            self._fail("closed", "the server closed the connection")

    # ------------------------------------------------------------------ httptools callbacks
    def on_message_begin(self) -> None:
        if self.done:  # a second reply nobody asked for, in the same read
            self.reusable = False

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.done or self.head_done:  # trailers of a chunked body are not its headers
            return
        key = name.decode("latin-1")
        text = value.decode("latin-1")
        self.headers.append((key, text))
        lower = key.lower()
        if lower == "content-type":
            if not self.content_type:
                self.content_type = text
        elif lower == "content-length":
            self.content_length = int(text) if text.strip().isdigit() else None
        elif lower == "transfer-encoding":
            self.chunked = "chunked" in text.lower()
        elif lower == "content-encoding":
            self.encoding = text.strip().lower()

    def on_headers_complete(self) -> None:
        if self.done:
            return
        status = self.parser.get_status_code()
        if 100 <= status < 200:  # an interim reply (100 Continue): the real one follows
            self.informational = True
            self.headers = []
            self.content_type = ""
            self.content_length = None
            self.chunked = False
            self.encoding = ""
            return
        self.status = status
        self.head_done = True
        if not self.content_type.isascii():
            return  # the sender refuses it; the body is not wanted
        if self.head_only:
            self.on_message_complete()  # no body follows, whatever the headers say
            self.reusable = False  # the parser would wait for one: not reused
            return
        if self.stream_reply and status < 400:
            self.streaming = True
        elif status < 300 and self.content_type.split(";")[0].strip().lower() in STREAM_TYPES:
            self.streaming = True
        if self.streaming:
            self._settle(None)
            return
        declared = self.content_length
        if declared is not None and not self.encoding and declared > self.limit:
            self.error = ("too_large", str(self.limit), status)
            self._close()
            self._settle(None)

    def on_body(self, body: bytes) -> None:
        if self.done or self.error is not None:
            return
        self.size += len(body)
        self.chunks.append(body)
        if self.streaming:
            if self.size > STREAM_BUFFER and not self.paused and self.transport is not None:
                self.paused = True
                self.transport.pause_reading()
            self._settle(None)
        elif self.size > self.limit:
            self.error = ("too_large", str(self.limit), self.status)
            self._close()
            self._settle(None)

    def on_message_complete(self) -> None:
        if self.informational:
            self.informational = False
            return
        if self.done:
            return
        self.done = True
        self.reusable = not self.head_only and self.parser.should_keep_alive()
        self._settle(None)

    # ------------------------------------------------------------------ helpers
    def _settle(self, outcome: BaseException | None) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        if outcome is None:
            waiter.set_result(None)
        else:
            waiter.set_exception(outcome)

    def _fail(self, kind: str, why: str) -> None:
        if self.error is None:  # the first fault is the one reported
            self.error = (kind, why, self.status or None)
        self._close()
        self._settle(None)

    def _close(self) -> None:
        self.reusable = False
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.close()

    def abort(self) -> None:
        self.reusable = False
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def resume(self) -> None:
        if self.paused:
            self.paused = False
            if self.transport is not None and not self.closed:
                self.transport.resume_reading()


def _aiohttp_fallback(timeouts: Timeouts, request: UpstreamRequest) -> Upstream:
    """aiohttp's client, for what this one leaves to it; without the `clients` extra the
    request fails as unreachable, naming the extra (validate names it for digest and
    forwarded bodies; a base URI with user info is only known here)."""
    from naftiko_runtime.extras import ExtraMissing, require

    try:
        require("aiohttp", "this request (digest auth, a streamed body or user info in the URL)")
    except ExtraMissing as exc:
        raise UpstreamConnectError(str(exc), operation=request.operation) from exc
    from naftiko_runtime.upstream.aiohttp import AiohttpUpstream

    return AiohttpUpstream(timeouts)


@contextlib.contextmanager
def map_errors(
    request: UpstreamRequest, peer: str = "", status: int | None = None
) -> Iterator[None]:
    """The socket layer's, TLS's and zlib's exceptions as the UpstreamError each means: a
    connection to `peer` that took too long or failed, or a body (of a reply with `status`)
    that does not inflate. The parser's faults never raise here: httptools reports them to
    the protocol's callbacks, which record them for `_named`."""
    try:
        yield
    except TimeoutError as exc:  # an OSError too: first
        raise timed_out(request) from exc
    except (ssl.SSLError, ssl.CertificateError) as exc:
        raise unreachable(request, "TLS failure") from exc
    except OSError as exc:
        why = exc.strerror or "refused"
        raise unreachable(request, f"connection to {peer} failed ({why})") from exc
    except zlib.error as exc:
        raise cut_off(request, "the body ended early or is malformed", status) from exc


FirstByte = Callable[[str], float | None]
"""An operation's first-byte bound in seconds, None for none (policies.resilience)."""


class H1Upstream:
    """HTTP/1.1 on asyncio protocols: see the module's docstring."""

    def __init__(
        self, timeouts: Timeouts | None = None, first_byte: FirstByte | None = None
    ) -> None:
        self._timeouts = timeouts if timeouts is not None else Timeouts()
        self._first_byte = first_byte
        self.idle_timeout = self._timeouts.idle  # between two chunks of a streamed reply
        self._origins: dict[str, _Origin | None] = {}
        self._idle: dict[tuple[str, bool], list[_Connection]] = {}
        self._open: set[_Connection] = set()
        self._fallback: Upstream | None = None
        self._tls: ssl.SSLContext | None = None

    async def send(self, request: UpstreamRequest) -> UpstreamReply:
        split = self._split(request.url)
        if split is None or request.digest is not None or request.body_stream is not None:
            if self._fallback is None:  # aiohttp is imported only when something needs it
                self._fallback = _aiohttp_fallback(self._timeouts, request)
            return await self._fallback.send(request)
        origin, target = split
        return await within(self._send(request, origin, target), self._timeouts.total, request)

    def _split(self, url: str) -> tuple[_Origin, str] | None:
        """(origin, request target); None for what this client leaves to aiohttp."""
        start = url.find("://")
        if start < 0:
            return None
        end = len(url)
        for mark in "/?#":
            at = url.find(mark, start + 3)
            if 0 <= at < end:
                end = at
        base = url[:end]
        origin = self._origins.get(base, False)
        if origin is False:
            origin = _origin(url[:start].lower(), url[start + 3 : end])
            if len(self._origins) > 1024:
                self._origins.clear()
            self._origins[base] = origin
        if origin is None:
            return None
        target = url[end:].partition("#")[0]
        if not target.startswith("/"):
            target = "/" + target
        return origin, target  # type: ignore[return-value]

    async def _send(self, request: UpstreamRequest, origin: _Origin, target: str) -> UpstreamReply:
        payload = _serialise(request, origin, target)
        retry = request.method in _RETRIABLE
        fresh = False
        while True:
            connection, reused = await self._acquire(origin, request, fresh)
            try:
                if self._first_byte is not None:
                    return await self._first_byte_bound(connection, request, payload)
                return await self._exchange(connection, request, payload)
            except _Stale as exc:
                if reused and retry:
                    retry = False
                    fresh = True  # once, on a new connection
                    continue
                raise unreachable(request, "the server closed the connection") from exc

    async def _acquire(
        self, origin: _Origin, request: UpstreamRequest, fresh: bool
    ) -> tuple[_Connection, bool]:
        key = (origin.authority, origin.tls)
        idle = self._idle.get(key)
        if idle and not fresh:
            now = asyncio.get_running_loop().time()
            while idle:
                connection = idle.pop()  # the most recently used: the likeliest alive
                if not connection.closed and now - connection.idle_since < KEEP_IDLE:
                    return connection, True
                self._drop(connection)
        loop = asyncio.get_running_loop()
        tls = self._context() if origin.tls else None
        with map_errors(request, f"{origin.host}:{origin.port}"):
            async with asyncio.timeout(self._timeouts.connect):
                _, protocol = await loop.create_connection(
                    lambda: _Connection(key),
                    origin.host,
                    origin.port,
                    ssl=tls,
                    server_hostname=origin.server_name,
                )
        self._open.add(protocol)
        return protocol, False

    def _context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls

    def _drop(self, connection: _Connection) -> None:
        connection.waiter = None
        connection.abort()
        self._open.discard(connection)

    def _release(self, connection: _Connection) -> None:
        """Back to the idle pool if whole and kept alive; the oldest idle ones past
        KEEP_IDLE (or closed by the server) are closed on the way."""
        connection.waiter = None
        if not connection.reusable or connection.closed:
            self._drop(connection)
            return
        connection.resume()
        now = asyncio.get_running_loop().time()
        connection.idle_since = now
        idle = self._idle.setdefault(connection.key, [])
        while idle and (idle[0].closed or now - idle[0].idle_since >= KEEP_IDLE):
            self._drop(idle.pop(0))
        idle.append(connection)

    async def _first_byte_bound(
        self, connection: _Connection, request: UpstreamRequest, payload: bytes
    ) -> UpstreamReply:
        """`_exchange`, refused with a timeout when not a byte of the answer came within the
        operation's first-byte bound."""
        assert self._first_byte is not None
        limit = self._first_byte(request.operation)
        if limit is None:
            return await self._exchange(connection, request, payload)
        task = asyncio.current_task()
        assert task is not None
        cancelling = task.cancelling()
        fired = False

        def due() -> None:
            nonlocal fired
            if not connection.received:
                fired = True
                task.cancel()

        timer = asyncio.get_running_loop().call_later(limit, due)
        try:
            return await self._exchange(connection, request, payload)
        except asyncio.CancelledError as exc:
            if fired and task.uncancel() <= cancelling:
                raise UpstreamTimeoutError(
                    f"upstream sent no byte of its answer to {request.operation} within "
                    f"{limit:g} s",
                    operation=request.operation,
                ) from exc
            raise
        finally:
            timer.cancel()

    async def _exchange(
        self, connection: _Connection, request: UpstreamRequest, payload: bytes
    ) -> UpstreamReply:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        connection._reset(
            waiter, request.stream_reply, self._timeouts.max_body, request.method == "HEAD"
        )
        connection.reusable = False
        transport = connection.transport
        assert transport is not None
        try:
            transport.write(payload)
            await waiter
        except BaseException:  # stale, or cancelled (a timeout, a client gone): torn
            self._drop(connection)
            raise
        error = connection.error
        if error is not None:
            self._drop(connection)
            raise _named(error, request)
        content_type = connection.content_type
        status = connection.status
        if not content_type.isascii():
            self._drop(connection)
            raise invalid_response(request, "its Content-Type is not ASCII", status)
        headers = connection.headers  # a fresh list per exchange (`_reset`): no copy
        if connection.streaming:
            stream = _Stream(self, connection, request)
            return UpstreamReply(status, content_type, stream=stream, headers=headers)
        chunks = connection.chunks
        encoding = connection.encoding
        self._release(connection)
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        if encoding in ("gzip", "x-gzip", "deflate") and body:
            body = _inflate(body, encoding, self._timeouts.max_body, request, status)
        return UpstreamReply(status, content_type, body, headers=headers)

    async def close(self) -> None:
        for connection in list(self._open):
            connection.abort()
        self._open.clear()
        self._idle.clear()
        if self._fallback is not None:
            await self._fallback.close()
            self._fallback = None


class _Stream:
    """A streamed reply, chunk by chunk as it comes; silent for `idle` seconds, it is cut.
    Its connection goes back to the pool once read to the end, and is closed if the stream
    is closed early or dropped unread (even never started)."""

    PIECE = 256 * 1024  # most bytes one inflated chunk may hold

    def __init__(self, client: H1Upstream, connection: _Connection, request: UpstreamRequest):
        self._client: H1Upstream | None = client
        self._connection = connection
        self._request = request
        self._inflate = _decompressor(connection.encoding)
        self._tail = b""

    def __aiter__(self) -> _Stream:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self._next()
        except BaseException:
            await self.aclose()
            raise

    async def _next(self) -> bytes:
        connection, request = self._connection, self._request
        if self._client is None:
            raise StopAsyncIteration
        while True:
            if self._tail:
                piece = self._inflated(self._tail)
                if piece:
                    return piece
                continue
            if connection.chunks:
                data = b"".join(connection.chunks)
                connection.chunks = []
                connection.size = 0
                connection.resume()
                piece = self._inflated(data) if self._inflate is not None else data
                if piece:
                    return piece
                continue
            if connection.error is not None or (connection.closed and not connection.done):
                raise cut_off(request, "the body ended early or is malformed", None)
            if connection.done:
                if self._inflate is not None and not self._inflate.eof:
                    raise cut_off(request, "the body ended early or is malformed", None)
                client, self._client = self._client, None
                if client is not None:
                    client._release(connection)
                raise StopAsyncIteration
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            connection.waiter = waiter
            try:
                async with asyncio.timeout(self._client.idle_timeout):
                    await waiter
            except TimeoutError as exc:  # the idle bound of our own timer
                raise stalled(request) from exc

    def _inflated(self, data: bytes) -> bytes:
        with map_errors(self._request):
            piece: bytes = self._inflate.decompress(data, self.PIECE)
        self._tail = self._inflate.unconsumed_tail
        return piece

    async def aclose(self) -> None:
        self._abandon()

    def _abandon(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client._drop(self._connection)

    def __del__(self) -> None:
        self._abandon()


def _origin(scheme: str, authority: str) -> _Origin | None:
    if scheme not in _DEFAULT_PORTS or "@" in authority or not authority.isascii():
        return None
    try:
        return _Origin(scheme, authority)
    except ValueError:
        return None


def _serialise(request: UpstreamRequest, origin: _Origin, target: str) -> bytes:
    """The request's bytes; a header that would split the head is refused (a 400)."""
    lines = [""]
    host = origin.authority
    accept = encoding = False
    for name, value in request.headers:
        lower = name.lower()
        if lower == "host":  # a Host the spec sets is kept, as aiohttp keeps it
            host = value
            continue
        if lower in ("content-length", "transfer-encoding", "connection"):
            continue
        if lower == "accept":
            accept = True
        elif lower == "accept-encoding":
            encoding = True
        lines.append(f"{name}: {value}\r\n")
    if not accept:
        lines.append("Accept: */*\r\n")
    if not encoding:
        lines.append("Accept-Encoding: gzip, deflate\r\n")
    body = request.body
    if body is not None:
        lines.append(f"Content-Length: {len(body)}\r\n")
    elif request.method in _BODY_METHODS:
        lines.append("Content-Length: 0\r\n")
    lines[0] = f"{request.method} {target} HTTP/1.1\r\nHost: {host}\r\n"
    head = "".join(lines)
    if head.count("\n") != len(lines) + 1 or head.count("\r") != len(lines) + 1 or "\0" in head:
        raise InvocationError(
            f"a header for {request.operation} holds a line break",
            [{"name": "header", "problem": "holds a line break or a NUL"}],
        )
    data = head.encode("utf-8") + b"\r\n"
    return data + body if body else data


def _decompressor(encoding: str) -> Any:
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return _Deflate()
    return None


class _Deflate:
    """`deflate` as servers send it: zlib-wrapped, or raw (which some send instead)."""

    def __init__(self) -> None:
        self._inner: Any = None
        self._start = b""

    def decompress(self, data: bytes, max_length: int = 0) -> bytes:
        if self._inner is None:
            data = self._start + data
            if len(data) < 2:  # the first two bytes tell which
                self._start = data
                return b""
            wrapped = data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
            self._inner = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        result: bytes = self._inner.decompress(data, max_length)
        return result

    @property
    def unconsumed_tail(self) -> bytes:
        return b"" if self._inner is None else bytes(self._inner.unconsumed_tail)

    @property
    def eof(self) -> bool:
        return self._inner is not None and bool(self._inner.eof)


def _inflate(
    body: bytes, encoding: str, limit: int, request: UpstreamRequest, status: int
) -> bytes:
    inflate = _decompressor(encoding)
    with map_errors(request, status=status):
        result: bytes = inflate.decompress(body, limit + 1)
    if len(result) > limit or inflate.unconsumed_tail:
        raise too_large(request, limit, status)
    if not inflate.eof:
        raise cut_off(request, "the body ended early", status)
    return result


def _named(
    error: tuple[str, str, int | None], request: UpstreamRequest
) -> UpstreamBadResponseError | UpstreamConnectError:
    """The failure a connection recorded (from httptools' callbacks, which cannot raise to
    the caller), worded as the other clients word it."""
    kind, why, status = error
    if kind == "too_large":
        return too_large(request, int(why), status)
    if kind == "cut":
        return cut_off(request, why, status)
    if kind == "closed":
        return unreachable(request, why)
    return invalid_response(request, why, status)
