"""`--http-client pyreqwest`: the Upstream protocol on pyreqwest (Rust reqwest), behind the
`clients` extra. Imported only when that client is asked for."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

from pyreqwest import exceptions as errors
from pyreqwest.client import ClientBuilder

from naftiko_runtime.errors import UpstreamError
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
    read_stream,
    stalled,
    timed_out,
    too_large,
    unreachable,
)


class PyreqwestUpstream:
    """The same interface on pyreqwest (Rust reqwest), `--http-client pyreqwest`: its I/O
    runs on a thread of its own, which costs the event loop GIL hand-offs (bench/run.py has
    it 2-48 % behind aiohttp with one worker, even with two).

    Path segments `.`/`..` never reach it (the plan refuses them), so the WHATWG URL parser's
    dot-segment collapsing cannot change an upstream path.
    """

    def __init__(self, timeouts: Timeouts | None = None) -> None:
        self._timeouts = timeouts if timeouts is not None else Timeouts()
        self._client: Any = None
        self._digest: Upstream | None = None

    def _open(self) -> Any:
        if self._client is None:
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
                from naftiko_runtime.upstream.aiohttp import AiohttpUpstream

                self._digest = AiohttpUpstream(self._timeouts)
            return await _buffered(self._digest, request, self._timeouts)
        return await within(self._send(request), self._timeouts.total, request)

    async def _send(self, request: UpstreamRequest) -> UpstreamReply:
        builder = self._open().request(request.method, request.url)
        for key, value in request.headers:
            builder = builder.header(key, value)
        if request.body_stream is not None:
            builder = builder.body_stream(request.body_stream)
        elif request.body is not None:
            builder = builder.body_bytes(request.body)
        with map_errors(request):
            # read-ahead of 0: an event stream's chunks are handed over as they arrive
            streamed = builder.streamed_read_buffer_limit(0).build_streamed()
            response = await streamed.__aenter__()
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
            with map_errors(request, response.status):
                body = await _reqwest_read_capped(response, request, self._timeouts.max_body)
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
    reader = response.body_reader  # chunks as they arrive: no buffering of event streams
    try:
        with map_errors(request, stream=True):
            while True:
                async with asyncio.timeout(idle):
                    chunk = await reader.read_chunk()
                if chunk is None:
                    return
                yield bytes(chunk)
    finally:
        await streamed.__aexit__(None, None, None)


@contextlib.contextmanager
def map_errors(
    request: UpstreamRequest, status: int | None = None, *, stream: bool = False
) -> Iterator[None]:
    """pyreqwest's exceptions as the UpstreamError each means, which depends on what was
    under way: before a reply's head (`status` None), sending or reading that head; after
    it, a body read in full (`status` its reply's) or a stream (`stream`, where our own
    idle bound's TimeoutError is a stall too)."""
    caught = (TimeoutError, errors.PyreqwestError) if stream else errors.PyreqwestError
    try:
        yield
    except caught as exc:
        raise _mapped(exc, request, status, stream) from exc


def _mapped(
    exc: BaseException, request: UpstreamRequest, status: int | None, stream: bool
) -> UpstreamError:
    if stream:  # silent past the idle bound, or a body cut after its head (framing)
        if isinstance(exc, TimeoutError):
            return stalled(request)
        return cut_off(request, "the stream was cut")
    timeout = isinstance(exc, errors.RequestTimeoutError)  # connect, pool, read, write too
    if status is not None:
        return timed_out(request) if timeout else cut_off(request, "the body ended early", status)
    if timeout:
        return timed_out(request)
    if isinstance(exc, errors.TransportError):  # connect and network errors among them
        return unreachable(request, _reqwest_reason(exc))
    if isinstance(exc, errors.DecodeError):  # a status line or header it cannot parse
        return invalid_response(request, _reqwest_cause(exc))
    return unreachable(request, "the connection failed")


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
