"""`--http-client h1`: HTTP/1.1 to upstreams on asyncio protocols and httptools' parser.

Why: the gateway's work per request is mostly its upstream calls, and aiohttp's client spends
about 250 us of CPU per exchange here where a protocol feeding llhttp (httptools) spends about
50 (bench/run.py measures both). What it does: keep-alive pools per origin, TLS with the
system's trust store, gzip/deflate bodies, streamed replies with back-pressure, the same caps,
timeouts and error wording as the other clients. Digest auth (a challenge round trip), request
bodies streamed from a client (forward) and URLs holding user info are handed to aiohttp.
"""

from __future__ import annotations

import asyncio
import ssl
import zlib
from collections.abc import AsyncIterator
from typing import Any

import httptools

from naftiko_runtime.errors import InvocationError, UpstreamError
from naftiko_runtime.upstream import (
    STREAM_TYPES,
    AiohttpUpstream,
    Timeouts,
    UpstreamReply,
    UpstreamRequest,
    _connect,
    _stalled,
    _timeout,
    _within,
    invalid_response,
    too_large,
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
        self._writable: asyncio.Future[None] | None = None
        self._reset(None, False, 0)

    def _reset(self, waiter: asyncio.Future[Any] | None, stream_reply: bool, limit: int) -> None:
        self.waiter = waiter
        self.stream_reply = stream_reply
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
        self.head_only = False

    # ------------------------------------------------------------------ asyncio protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.waiter is None or self.done:  # bytes nobody asked for: never reuse this one
            self._close()
            return
        self.received = True
        if not self.head_done:
            self.head_size += len(data)
            if self.head_size > MAX_HEAD:
                self._fail("bad_response", "a header line is too long")
                return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail("bad_response", "it asks to switch protocols")
        except httptools.HttpParserInvalidStatusError:
            self._fail("bad_response", "bad status line")
        except httptools.HttpParserError:
            if self.done:  # the reply was whole; what followed it was not HTTP
                self.reusable = False
                self._close()
            else:
                self._fail("bad_response", "it cannot be parsed")

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.reusable = False
        writable, self._writable = self._writable, None
        if writable is not None and not writable.done():
            writable.set_result(None)
        if self.waiter is None or self.done:
            return
        if not self.received:
            self._settle(_Stale())
        elif self.head_done and self.content_length is None and not self.chunked:
            self.on_message_complete()  # a body that ends when the connection does
        elif self.head_done:
            self._fail("cut", "the body ended early")
        else:
            self._fail("closed", "the server closed the connection")

    def pause_writing(self) -> None:
        if self._writable is None:
            self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        writable, self._writable = self._writable, None
        if writable is not None and not writable.done():
            writable.set_result(None)

    # ------------------------------------------------------------------ httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
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
        if (
            self.stream_reply
            and status < 400
            or (status < 300 and self.content_type.split(";")[0].strip().lower() in STREAM_TYPES)
        ):
            self.streaming = True
            self._settle(None)
            return
        if self.head_only:
            self.reusable = False  # the parser would wait for a body that never comes
            self.on_message_complete()
            return
        declared = self.content_length
        if declared is not None and not self.encoding and declared > self.limit:
            self.error = too_large_error(self.limit, status)
            self._close()
            self._settle(None)

    def on_body(self, body: bytes) -> None:
        if self.done:
            return
        self.size += len(body)
        self.chunks.append(body)
        if self.streaming:
            if self.size > STREAM_BUFFER and self.transport is not None:
                self.transport.pause_reading()
            self._settle(None)
        elif self.size > self.limit:
            self.error = too_large_error(self.limit, self.status)
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

    async def writable(self) -> None:
        if self._writable is not None:
            await self._writable


def too_large_error(limit: int, status: int) -> tuple[str, str, int | None]:
    return ("too_large", str(limit), status or None)


class H1Upstream:
    """HTTP/1.1 on asyncio protocols: see the module's docstring."""

    def __init__(self, timeouts: Timeouts | None = None) -> None:
        self._timeouts = timeouts if timeouts is not None else Timeouts()
        self._origins: dict[str, _Origin | None] = {}
        self._idle: dict[tuple[str, bool], list[_Connection]] = {}
        self._open: set[_Connection] = set()
        self._fallback: AiohttpUpstream | None = None
        self._tls: ssl.SSLContext | None = None

    async def send(self, request: UpstreamRequest) -> UpstreamReply:
        split = self._split(request.url)
        if split is None or request.digest is not None or request.body_stream is not None:
            if self._fallback is None:
                self._fallback = AiohttpUpstream(self._timeouts)
            return await self._fallback.send(request)
        origin, target = split
        return await _within(self._send(request, origin, target), self._timeouts.total, request)

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
        while True:
            connection, reused = await self._acquire(origin, request)
            try:
                return await self._exchange(connection, request, payload)
            except _Stale:
                if reused and retry:
                    retry = False  # once, on a new connection
                    continue
                raise _connect(request, "the server closed the connection") from None

    async def _acquire(self, origin: _Origin, request: UpstreamRequest) -> tuple[_Connection, bool]:
        key = (origin.authority, origin.tls)
        idle = self._idle.get(key)
        if idle:
            now = asyncio.get_running_loop().time()
            while idle:
                connection = idle.pop()
                if not connection.closed and now - connection.idle_since < KEEP_IDLE:
                    return connection, True
                connection.abort()
                self._open.discard(connection)
        loop = asyncio.get_running_loop()
        tls = self._context() if origin.tls else None
        try:
            async with asyncio.timeout(self._timeouts.connect):
                _, protocol = await loop.create_connection(
                    lambda: _Connection(key),
                    origin.host,
                    origin.port,
                    ssl=tls,
                    server_hostname=origin.server_name,
                )
        except TimeoutError:
            raise _timeout(request) from None
        except (ssl.SSLError, ssl.CertificateError):
            raise _connect(request, "TLS failure") from None
        except OSError as exc:
            why = exc.strerror or "refused"
            raise _connect(
                request, f"connection to {origin.host}:{origin.port} failed ({why})"
            ) from None
        self._open.add(protocol)
        return protocol, False

    def _context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls

    def _release(self, connection: _Connection) -> None:
        connection.waiter = None
        if connection.reusable and not connection.closed:
            connection.idle_since = asyncio.get_running_loop().time()
            self._idle.setdefault(connection.key, []).append(connection)
        else:
            connection.abort()
            self._open.discard(connection)

    async def _exchange(
        self, connection: _Connection, request: UpstreamRequest, payload: bytes
    ) -> UpstreamReply:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        connection._reset(waiter, request.stream_reply, self._timeouts.max_body)
        connection.head_only = request.method == "HEAD"
        connection.reusable = False
        transport = connection.transport
        assert transport is not None
        try:
            transport.write(payload)
            await waiter
        except _Stale:
            connection.waiter = None
            connection.abort()
            self._open.discard(connection)
            raise
        except BaseException:  # cancelled (a timeout, a client gone): the exchange is torn
            connection.waiter = None
            connection.abort()
            self._open.discard(connection)
            raise
        error = connection.error
        if error is not None:
            connection.abort()
            self._open.discard(connection)
            raise _named(error, request) from None
        content_type = connection.content_type
        if not content_type.isascii():
            connection.abort()
            self._open.discard(connection)
            raise invalid_response(request, "its Content-Type is not ASCII", connection.status)
        if connection.streaming:
            stream = self._stream(connection, request)
            headers = list(connection.headers) if request.stream_reply else None
            return UpstreamReply(connection.status, content_type, stream=stream, headers=headers)
        status = connection.status
        chunks = connection.chunks
        encoding = connection.encoding
        self._release(connection)
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        if encoding in ("gzip", "x-gzip", "deflate") and body:
            body = _inflate(body, encoding, self._timeouts.max_body, request, status)
        return UpstreamReply(status, content_type, body)

    async def _stream(
        self, connection: _Connection, request: UpstreamRequest
    ) -> AsyncIterator[bytes]:
        """The reply as it comes, cut when the upstream is silent for `idle` seconds."""
        loop = asyncio.get_running_loop()
        inflate = _decompressor(connection.encoding)
        idle = self._timeouts.idle
        try:
            while True:
                if not connection.chunks and not connection.done and connection.error is None:
                    waiter: asyncio.Future[None] = loop.create_future()
                    connection.waiter = waiter
                    try:
                        async with asyncio.timeout(idle):
                            await waiter
                    except TimeoutError:
                        raise _stalled(request) from None
                if connection.chunks:
                    chunk = b"".join(connection.chunks)
                    connection.chunks = []
                    if connection.size > STREAM_BUFFER and connection.transport is not None:
                        connection.transport.resume_reading()
                    connection.size = 0
                    if inflate is not None:
                        try:
                            chunk = inflate.decompress(chunk)
                        except zlib.error:
                            raise _connect(
                                request, "the body ended early or is malformed"
                            ) from None
                    if chunk:
                        yield chunk
                    continue
                if connection.error is not None:
                    raise _connect(request, "the body ended early or is malformed")
                if connection.done:
                    return
        finally:
            if connection.done and connection.error is None:
                self._release(connection)
            else:
                connection.waiter = None
                connection.abort()
                self._open.discard(connection)

    async def close(self) -> None:
        for connection in list(self._open):
            connection.abort()
        self._open.clear()
        self._idle.clear()
        if self._fallback is not None:
            await self._fallback.close()
            self._fallback = None


def _origin(scheme: str, authority: str) -> _Origin | None:
    if scheme not in _DEFAULT_PORTS or "@" in authority or not authority.isascii():
        return None
    try:
        return _Origin(scheme, authority)
    except ValueError:
        return None


def _serialise(request: UpstreamRequest, origin: _Origin, target: str) -> bytes:
    """The request's bytes; a header that would split the head is refused (a 400)."""
    lines = [f"{request.method} {target} HTTP/1.1\r\nHost: {origin.authority}\r\n"]
    accept = encoding = False
    for name, value in request.headers:
        lower = name.lower()
        if lower in ("host", "content-length", "transfer-encoding", "connection"):
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

    def decompress(self, data: bytes, max_length: int = 0) -> bytes:
        if self._inner is None:
            wrapped = len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
            self._inner = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        result: bytes = self._inner.decompress(data, max_length)
        return result

    @property
    def unconsumed_tail(self) -> bytes:
        return b"" if self._inner is None else bytes(self._inner.unconsumed_tail)


def _inflate(
    body: bytes, encoding: str, limit: int, request: UpstreamRequest, status: int
) -> bytes:
    inflate = _decompressor(encoding)
    try:
        result: bytes = inflate.decompress(body, limit + 1)
    except zlib.error:
        raise UpstreamError(
            "bad_response",
            f"upstream response for {request.operation} was cut off: "
            "the body ended early or is malformed",
            operation=request.operation,
            upstream_status=status,
        ) from None
    if len(result) > limit or inflate.unconsumed_tail:
        raise too_large(request, limit, status)
    return result


def _named(error: tuple[str, str, int | None], request: UpstreamRequest) -> UpstreamError:
    """The connection's failure, worded as the other clients word it."""
    kind, why, status = error
    if kind == "too_large":
        return too_large(request, int(why), status)
    if kind == "cut":
        return UpstreamError(
            "bad_response",
            f"upstream response for {request.operation} was cut off: {why}",
            operation=request.operation,
            upstream_status=status,
        )
    if kind == "closed":
        return _connect(request, why)
    return invalid_response(request, why, status)
