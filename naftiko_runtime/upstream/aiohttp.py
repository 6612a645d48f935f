"""The aiohttp client: `--http-client aiohttp`, and what the default h1 client hands over
(digest auth, streamed request bodies, authorities it does not speak). Imported on first use:
aiohttp costs about 0.15 s and 10 MB or more to import, which a server that never needs
it saves."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ssl
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import aiohttp
import yarl
from aiohttp.client_proto import ResponseHandler
from aiohttp.http_parser import RawResponseMessage
from aiohttp.streams import StreamReader

from naftiko_runtime.errors import UpstreamError
from naftiko_runtime.upstream.base import STREAM_TYPES, Timeouts, UpstreamReply, UpstreamRequest
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


class _StrictHandler(ResponseHandler):
    """Two of the h1 client's rules on aiohttp's connections. aiohttp ends a body delimited
    by the connection's end at any end of it: a reset or a TLS end without close_notify cuts
    the body instead, so a short body never passes as a whole one. And aiohttp queues every
    reply a connection receives, so a late reply nobody asked for would answer whichever
    request reuses the connection next: a final reply beyond the requests sent closes it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self._asked = 0  # requests sent on this connection (each sets response params)
        self._answered = 0  # final replies received (1xx are interim)
        self._unsolicited = False

    def set_response_params(self, **params: Any) -> None:
        self._asked += 1
        super().set_response_params(**params)

    def feed_data(self, data: tuple[RawResponseMessage, StreamReader], size: int = 0) -> None:
        code = data[0].code
        if code >= 200 or code == 101:
            self._answered += 1
            if self._answered > self._asked:
                self._unsolicited = True
                if self.transport is not None:
                    self.transport.close()
                return
        super().feed_data(data, size)

    def is_connected(self) -> bool:
        return not self._unsolicited and super().is_connected()

    def connection_lost(self, exc: BaseException | None) -> None:
        if exc is not None:
            self._cut("the connection was reset before the body ended")
        super().connection_lost(exc)

    def eof_received(self) -> None:
        if ragged_tls_end(self.transport):
            self._cut("the TLS connection ended without close_notify")
        super().eof_received()

    def _cut(self, why: str) -> None:
        payload = self._payload
        if payload is not None and not payload.is_eof():
            payload.set_exception(aiohttp.ClientPayloadError(why))


class AiohttpUpstream:
    """One pooled aiohttp session shared by every operation; created inside the running loop
    (all its work stays on the event loop's thread)."""

    def __init__(self, timeouts: Timeouts | None = None) -> None:
        self._timeouts = timeouts if timeouts is not None else Timeouts()
        self._session: aiohttp.ClientSession | None = None
        self._digests: dict[tuple[str, str], aiohttp.DigestAuthMiddleware] = {}

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._timeouts.connections, ttl_dns_cache=300)
            # the protocol each connection speaks (a private attribute, checked by a test)
            loop = asyncio.get_running_loop()
            connector._factory = functools.partial(_StrictHandler, loop=loop)  # type: ignore[assignment]
            # the total and idle bounds are ours (`send`, `_chunks`): aiohttp's `total`
            # would cut a stream that is still sending
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=self._timeouts.connect)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=timeout,
                auto_decompress=True,
                skip_auto_headers=("User-Agent",),
            )
        return self._session

    def _digest(self, credentials: tuple[str, str]) -> aiohttp.DigestAuthMiddleware:
        """One middleware per credential pair: it keeps the server's challenge, so later
        requests answer it at once instead of being challenged again."""
        middleware = self._digests.get(credentials)
        if middleware is None:
            middleware = self._digests[credentials] = aiohttp.DigestAuthMiddleware(*credentials)
        return middleware

    async def send(self, request: UpstreamRequest) -> UpstreamReply:
        return await within(self._send(request), self._timeouts.total, request)

    async def _send(self, request: UpstreamRequest) -> UpstreamReply:
        session = self._open()
        middlewares: Sequence[aiohttp.DigestAuthMiddleware] = ()
        if request.digest is not None:
            middlewares = (self._digest(request.digest),)
        with map_errors(request):
            response = await session.request(
                request.method,
                # already percent-encoded by the plan; never re-normalised (no `..` collapsing)
                yarl.URL(request.url, encoded=True),
                headers=request.headers,
                data=request.body_stream if request.body_stream is not None else request.body,
                allow_redirects=False,
                middlewares=middlewares,
            )
        content_type = response.headers.get("Content-Type", "")
        if not content_type.isascii():
            response.release()
            raise invalid_response(request, "its Content-Type is not ASCII", response.status)
        headers = [(k, v) for k, v in response.headers.items()]
        if request.stream_reply and response.status < 400:
            stream = _chunks(response, request, self._timeouts.idle)
            return UpstreamReply(response.status, content_type, stream=stream, headers=headers)
        if content_type.split(";")[0].strip().lower() in STREAM_TYPES and response.status < 300:
            stream = _chunks(response, request, self._timeouts.idle)
            return UpstreamReply(response.status, content_type, stream=stream)
        try:
            with map_errors(request, response.status):
                body = await _read_capped(response, request, self._timeouts.max_body)
        finally:
            response.release()
        return UpstreamReply(response.status, content_type, body, headers=headers)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


@contextlib.contextmanager
def map_errors(
    request: UpstreamRequest, status: int | None = None, *, stream: bool = False
) -> Iterator[None]:
    """aiohttp's exceptions as the UpstreamError each means, which depends on what was under
    way: before a reply's head (`status` None), sending or reading that head; after it, a
    body read in full (`status` its reply's) or a stream (`stream`)."""
    try:
        yield
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        raise _mapped(exc, request, status, stream) from exc


def _mapped(
    exc: BaseException, request: UpstreamRequest, status: int | None, stream: bool
) -> UpstreamError:
    if isinstance(exc, TimeoutError):  # an OSError too: first
        return stalled(request) if stream else timed_out(request)
    if stream:  # a body cut after its head is a framing error; a connection lost, not
        if isinstance(exc, aiohttp.ClientPayloadError):
            return cut_off(request, _describe(exc), status)
        return unreachable(request, _describe(exc))
    if status is not None:  # whatever failed once the head came cut the body short
        return cut_off(request, _describe(exc), status)
    if isinstance(exc, aiohttp.ClientSSLError | ssl.SSLError):
        return unreachable(request, "TLS failure")
    if isinstance(exc, aiohttp.ClientConnectionError | OSError):
        return unreachable(request, _describe(exc))
    if isinstance(exc, aiohttp.ClientResponseError):  # a status line or header it cannot parse
        return invalid_response(request, _parse_failure(exc))
    return invalid_response(request, "it cannot be read")


def _parse_failure(exc: aiohttp.ClientResponseError) -> str:
    """What was wrong, without the URL (it holds query credentials) or the upstream's bytes."""
    cause = exc.__cause__
    while cause is not None and cause.__cause__ is not None:
        cause = cause.__cause__
    names = {"LineTooLong": "a line is too long", "BadStatusLine": "bad status line"}
    return names.get(type(cause).__name__, "it cannot be parsed")


async def _read_capped(
    response: aiohttp.ClientResponse, request: UpstreamRequest, limit: int
) -> bytes:
    """The body, decompressed, refused past `limit` without reading (or inflating) more."""
    declared = response.content_length
    if declared is not None and not response.headers.get("Content-Encoding"):
        if declared > limit:
            raise too_large(request, limit, response.status)
        return await response.read()  # a known, allowed length: one read, no chunk loop
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(256 * 1024):
        size += len(chunk)
        if size > limit:
            raise too_large(request, limit, response.status)
        chunks.append(chunk)
    return b"".join(chunks)


async def _chunks(
    response: aiohttp.ClientResponse, request: UpstreamRequest, idle: float
) -> AsyncIterator[bytes]:
    """The stream as it comes, cut when the upstream is silent for `idle` seconds."""
    try:
        with map_errors(request, response.status, stream=True):
            while True:
                async with asyncio.timeout(idle):
                    chunk = await response.content.readany()
                if not chunk:
                    return
                yield chunk
    finally:
        response.release()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"connection to {exc.host}:{exc.port} failed ({exc.os_error.strerror or 'refused'})"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "the body ended early or is malformed"
    return "the connection failed"
