"""The h1 upstream client over real loopback sockets: keep-alive and its one retry, bodies
(chunked, to the close, gzip, deflate), interim and HEAD replies, caps, streams, refusals."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import socket
import ssl
import threading
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
import trustme

from naftiko_runtime.errors import (
    InvocationError,
    UpstreamConnectError,
    UpstreamError,
    UpstreamTimeoutError,
)
from naftiko_runtime.upstream.base import Timeouts, UpstreamRequest
from naftiko_runtime.upstream.h1 import STREAM_BUFFER, H1Upstream

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, "Seen"], Awaitable[None]]


@dataclass
class Seen:
    connections: int = 0
    heads: list[bytes] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)


async def read_request(reader: asyncio.StreamReader, seen: Seen) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    seen.heads.append(head)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = await reader.readexactly(length) if length else b""
    seen.bodies.append(body)
    return head


@asynccontextmanager
async def server(handler: Handler) -> AsyncIterator[tuple[str, Seen]]:
    seen = Seen()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.connections += 1
        try:
            await handler(reader, writer, seen)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    listening = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        listening.close()


def get(
    url: str, method: str = "GET", body: bytes | None = None, **extra: object
) -> UpstreamRequest:
    return UpstreamRequest(method, url, [("Authorization", "Bearer t")], body, "api.op", **extra)  # type: ignore[arg-type]


def reply(body: bytes, *headers: bytes) -> bytes:
    lines = [b"HTTP/1.1 200 OK", b"Content-Type: application/json", *headers]
    if not any(h.lower().startswith((b"content-length", b"transfer-encoding")) for h in headers):
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


async def keep_answering(body: bytes, *headers: bytes) -> Handler:
    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Seen
    ) -> None:
        while True:
            await read_request(reader, seen)
            writer.write(reply(body, *headers))
            await writer.drain()

    return handler


async def test_one_kept_alive_connection_serves_consecutive_calls() -> None:
    async with server(await keep_answering(b'{"ok": true}')) as (base, seen):
        client = H1Upstream()
        for _ in range(3):
            answer = await client.send(get(base + "/v1/jobs/?limit=2"))
            assert (answer.status, answer.body) == (200, b'{"ok": true}')
        await client.close()
    assert seen.connections == 1
    first = seen.heads[0].decode()
    assert first.startswith("GET /v1/jobs/?limit=2 HTTP/1.1\r\n")
    assert f"Host: {base.removeprefix('http://')}\r\n" in first
    assert "Authorization: Bearer t\r\n" in first
    assert "Accept-Encoding: gzip, deflate\r\n" in first


async def _answer_once_then_drop(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Seen
) -> None:
    """Keep-alive advertised, but the next request on the connection finds it closing (the
    race with a server's idle timeout)."""
    await read_request(reader, seen)
    writer.write(reply(b"{}"))
    await writer.drain()
    await read_request(reader, seen)


async def test_a_get_on_a_connection_the_server_dropped_is_retried_once_on_a_new_one() -> None:
    async with server(_answer_once_then_drop) as (base, seen):
        client = H1Upstream()
        assert (await client.send(get(base + "/a"))).body == b"{}"
        assert (await client.send(get(base + "/b"))).body == b"{}"
        await client.close()
    assert seen.connections == 2


async def test_a_post_on_a_dropped_connection_is_not_sent_twice() -> None:
    async with server(_answer_once_then_drop) as (base, seen):
        client = H1Upstream()
        await client.send(get(base + "/a"))
        with pytest.raises(UpstreamError) as caught:
            await client.send(get(base + "/b", "POST", b'{"x": 1}'))
        await client.close()
    assert caught.value.kind == "connect"
    assert "closed the connection" in caught.value.message
    assert seen.connections == 1


@pytest.mark.parametrize(
    ("encoding", "pack"),
    [
        (b"gzip", gzip.compress),
        (b"deflate", zlib.compress),
        (b"deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, as some send it
    ],
)
async def test_compressed_bodies_arrive_inflated(
    encoding: bytes, pack: Callable[[bytes], bytes]
) -> None:
    document = b'{"items": [' + b",".join(b"%d" % i for i in range(2000)) + b"]}"
    handler = await keep_answering(pack(document), b"Content-Encoding: " + encoding)
    async with server(handler) as (base, _):
        client = H1Upstream()
        assert (await client.send(get(base + "/z"))).body == document
        await client.close()


async def _chunked_then_to_the_close(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Seen
) -> None:
    await read_request(reader, seen)
    writer.write(
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"
        b"5\r\n[1, 2\r\n4\r\n, 3]\r\n0\r\n\r\n"
    )
    await read_request(reader, seen)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end")
    await writer.drain()
    writer.close()


async def test_chunked_after_an_interim_reply_then_a_body_that_ends_with_the_connection() -> None:
    async with server(_chunked_then_to_the_close) as (base, seen):
        client = H1Upstream()
        first = await client.send(get(base + "/c"))
        second = await client.send(get(base + "/d"))
        await client.close()
    assert (first.status, first.body) == (200, b"[1, 2, 3]")
    assert (second.content_type, second.body) == ("text/plain", b"until the end")
    assert seen.connections == 1


async def test_a_head_reply_has_no_body_and_the_next_call_still_works() -> None:
    async with server(await keep_answering(b'{"size": 12345}')) as (base, seen):
        client = H1Upstream()
        head = await client.send(get(base + "/h", "HEAD"))
        after = await client.send(get(base + "/g"))
        await client.close()
    assert (head.status, head.body) == (200, b"")
    assert after.body == b'{"size": 12345}'


async def test_a_header_with_a_line_break_is_refused_and_nothing_is_sent() -> None:
    async with server(await keep_answering(b"{}")) as (base, seen):
        client = H1Upstream()
        request = get(base + "/x")
        request.headers.append(("X-Name", "a\r\nX-Injected: yes"))
        with pytest.raises(InvocationError):
            await client.send(request)
        await client.close()
    assert seen.heads == []


async def test_a_body_over_the_cap_is_refused_declared_or_chunked() -> None:
    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Seen
    ) -> None:
        head = await read_request(reader, seen)
        if b"/declared" in head:
            writer.write(reply(b"x" * 5000))
        else:
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for _ in range(10):
                writer.write(b"3e8\r\n" + b"y" * 1000 + b"\r\n")
            writer.write(b"0\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(1)

    async with server(handler) as (base, _):
        client = H1Upstream(Timeouts(max_body=4096))
        for path in ("/declared", "/chunked"):
            with pytest.raises(UpstreamError) as caught:
                await client.send(get(base + path))
            assert caught.value.kind == "bad_response"
            assert "too large (over 4096 bytes)" in caught.value.message
        await client.close()


async def test_a_gzip_bomb_stops_at_the_cap() -> None:
    bomb = gzip.compress(b"\0" * (8 * 1024 * 1024))
    async with server(await keep_answering(bomb, b"Content-Encoding: gzip")) as (base, _):
        client = H1Upstream(Timeouts(max_body=1024 * 1024))
        with pytest.raises(UpstreamError) as caught:
            await client.send(get(base + "/bomb"))
        await client.close()
    assert "too large" in caught.value.message


async def test_an_event_stream_is_handed_over_as_it_comes() -> None:
    release = asyncio.Event()

    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Seen
    ) -> None:
        await read_request(reader, seen)
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n7\r\ndata: 1\r\n"
        )
        await writer.drain()
        await release.wait()
        writer.write(b"7\r\ndata: 2\r\n0\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(0.5)

    async with server(handler) as (base, _):
        client = H1Upstream()
        answer = await client.send(get(base + "/events"))
        assert answer.stream is not None
        first = await answer.stream.__anext__()
        assert first == b"data: 1"  # before the server sends the rest
        release.set()
        rest = [chunk async for chunk in answer.stream]
        await client.close()
    assert rest == [b"data: 2"]


async def test_a_silent_upstream_is_a_timeout_and_the_client_keeps_working() -> None:
    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Seen
    ) -> None:
        head = await read_request(reader, seen)
        if b"/slow" in head:
            await asyncio.sleep(5)
        writer.write(reply(b"{}"))
        await writer.drain()
        await asyncio.sleep(1)

    async with server(handler) as (base, _):
        client = H1Upstream(Timeouts(total=0.3))
        with pytest.raises(UpstreamError) as caught:
            await client.send(get(base + "/slow"))
        assert caught.value.kind == "timeout"
        assert isinstance(caught.value, UpstreamTimeoutError)
        assert (await client.send(get(base + "/fast"))).body == b"{}"
        await client.close()


async def test_bytes_after_a_whole_reply_mean_the_connection_is_not_reused() -> None:
    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Seen
    ) -> None:
        while True:
            await read_request(reader, seen)
            writer.write(reply(b"{}") + b"GARBAGE\r\n\r\n")
            await writer.drain()

    async with server(handler) as (base, seen):
        client = H1Upstream()
        assert (await client.send(get(base + "/1"))).body == b"{}"
        await asyncio.sleep(0.05)
        assert (await client.send(get(base + "/2"))).body == b"{}"
        await client.close()
    assert seen.connections == 2


async def test_a_refused_connection_names_the_address() -> None:
    async with server(await keep_answering(b"{}")) as (base, _):
        pass  # closed: nothing listens there any more
    client = H1Upstream()
    with pytest.raises(UpstreamError) as caught:
        await client.send(get(base + "/gone"))
    await client.close()
    assert caught.value.kind == "connect"
    assert base.removeprefix("http://") in caught.value.message
    assert isinstance(caught.value, UpstreamConnectError)
    assert isinstance(caught.value.__cause__, OSError)  # the socket's error, kept


async def test_a_post_carries_its_body_and_an_empty_one_says_so() -> None:
    async with server(await keep_answering(b"{}")) as (base, seen):
        client = H1Upstream()
        await client.send(get(base + "/p", "POST", b'{"title": "x"}'))
        await client.send(get(base + "/e", "POST"))
        await client.close()
    assert b"Content-Length: 14\r\n" in seen.heads[0] and seen.bodies[0] == b'{"title": "x"}'
    assert b"Content-Length: 0\r\n" in seen.heads[1]


async def test_a_reply_larger_than_the_head_limit_in_one_read_is_whole() -> None:
    document = b'{"blob": "' + b"x" * 200_000 + b'"}'
    async with server(await keep_answering(document)) as (base, _):
        client = H1Upstream()
        assert (await client.send(get(base + "/big"))).body == document
        await client.close()


@pytest.mark.parametrize(
    ("answer", "wording"),
    [
        (b"HTTP/1.1 2OO OK\r\nContent-Length: 2\r\n\r\n{}", "bad status line"),
        (b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n", "it cannot be parsed"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n", "too large"),
    ],
)
async def test_a_fault_is_reported_as_itself_not_as_the_close_that_follows(
    answer: bytes, wording: str
) -> None:
    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Seen
    ) -> None:
        await read_request(reader, seen)
        writer.write(answer)
        await writer.drain()
        await asyncio.sleep(1)

    async with server(handler) as (base, _):
        client = H1Upstream(Timeouts(max_body=1024 * 1024))
        with pytest.raises(UpstreamError) as caught:
            await client.send(get(base + "/fault"))
        await client.close()
    assert caught.value.kind == "bad_response"
    assert wording in caught.value.message


async def test_a_second_reply_in_the_same_write_changes_neither_call() -> None:
    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Seen
    ) -> None:
        while True:
            await read_request(reader, seen)
            writer.write(
                reply(b'{"n": 1}') + b"HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n\r\n"
            )
            await writer.drain()

    async with server(handler) as (base, seen):
        client = H1Upstream()
        first = await client.send(get(base + "/1"))
        second = await client.send(get(base + "/2"))
        await client.close()
    assert (first.status, first.body) == (200, b'{"n": 1}')
    assert (second.status, second.body) == (200, b'{"n": 1}')
    assert seen.connections == 2


async def test_a_forwarded_head_answers_at_once() -> None:
    async with server(await keep_answering(b'{"size": 1}')) as (base, _):
        client = H1Upstream(Timeouts(idle=5))
        answer = await asyncio.wait_for(
            client.send(get(base + "/h", "HEAD", stream_reply=True)), timeout=1
        )
        await client.close()
    assert (answer.status, answer.body, answer.stream) == (200, b"", None)
    assert answer.headers is not None and ("Content-Length", "11") in answer.headers


async def test_a_stream_read_while_paused_leaves_its_connection_fit_for_the_next_call() -> None:
    payload = b"data: " + b"y" * 1_000_000 + b"\n\n"

    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Seen
    ) -> None:
        while True:
            head = await read_request(reader, seen)
            if b"/events" in head:
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                    b"Content-Length: %d\r\n\r\n" % len(payload) + payload
                )
            else:
                writer.write(reply(b"{}"))
            await writer.drain()

    async with server(handler) as (base, seen):
        client = H1Upstream(Timeouts(total=2))
        answer = await client.send(get(base + "/events"))
        assert answer.stream is not None
        await asyncio.sleep(0.2)  # the upstream is ahead: reading pauses
        received = b"".join([chunk async for chunk in answer.stream])
        after = await client.send(get(base + "/next"))
        await client.close()
    assert received == payload
    assert after.body == b"{}"
    assert seen.connections == 1


async def test_a_stream_dropped_unread_closes_its_connection() -> None:
    import gc

    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Seen
    ) -> None:
        await read_request(reader, seen)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: 1\n\n")
        await writer.drain()
        await asyncio.sleep(2)

    async with server(handler) as (base, _):
        client = H1Upstream()
        answer = await client.send(get(base + "/events"))
        assert len(client._open) == 1
        del answer
        gc.collect()
        assert client._open == set()
        await client.close()


async def test_a_streamed_gzip_reply_inflates_in_bounded_pieces() -> None:
    document = b"z" * (4 * 1024 * 1024)
    packed = gzip.compress(document)
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Encoding: gzip\r\n"

    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Seen
    ) -> None:
        await read_request(reader, seen)
        writer.write(head + b"Content-Length: %d\r\n\r\n" % len(packed) + packed)
        await writer.drain()
        await asyncio.sleep(1)

    async with server(handler) as (base, _):
        client = H1Upstream()
        answer = await client.send(get(base + "/events"))
        assert answer.stream is not None
        pieces = [chunk async for chunk in answer.stream]
        await client.close()
    assert b"".join(pieces) == document
    assert max(len(p) for p in pieces) <= 256 * 1024


async def test_a_truncated_gzip_body_is_refused() -> None:
    packed = gzip.compress(b'{"complete": true}')[:-6]
    async with server(await keep_answering(packed, b"Content-Encoding: gzip")) as (base, _):
        client = H1Upstream()
        with pytest.raises(UpstreamError) as caught:
            await client.send(get(base + "/cut"))
        await client.close()
    assert "cut off" in caught.value.message


async def test_a_host_the_spec_sets_is_the_one_sent() -> None:
    async with server(await keep_answering(b"{}")) as (base, seen):
        client = H1Upstream()
        request = get(base + "/vhost")
        request.headers.append(("Host", "api.example.test"))
        await client.send(request)
        await client.close()
    assert b"\r\nHost: api.example.test\r\n" in seen.heads[0]
    assert seen.heads[0].count(b"Host:") == 1


@asynccontextmanager
async def tls_server(handler: Handler, authority: trustme.CA) -> AsyncIterator[tuple[str, Seen]]:
    seen = Seen()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.connections += 1
        try:
            await handler(reader, writer, seen)
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    listening = await asyncio.start_server(accept, "127.0.0.1", 0, ssl=context)
    port = listening.sockets[0].getsockname()[1]
    try:
        yield f"https://127.0.0.1:{port}", seen
    finally:
        listening.close()


async def test_https_with_a_trusted_certificate_keeps_its_connection_alive() -> None:
    authority = trustme.CA()
    async with tls_server(await keep_answering(b'{"tls": true}'), authority) as (base, seen):
        client = H1Upstream()
        client._tls = ssl.create_default_context()
        authority.configure_trust(client._tls)  # as a CA in the system store would be
        for _ in range(2):
            assert (await client.send(get(base + "/secure"))).body == b'{"tls": true}'
        await client.close()
    assert seen.connections == 1


async def test_https_with_an_untrusted_certificate_is_a_tls_failure() -> None:
    async with tls_server(await keep_answering(b"{}"), trustme.CA()) as (base, _):
        client = H1Upstream()  # the system trust store does not know this CA
        with pytest.raises(UpstreamError) as caught:
            await client.send(get(base + "/secure"))
        await client.close()
    assert caught.value.kind == "connect"
    assert "TLS failure" in caught.value.message


def _rows(count: int) -> bytes:
    return b"".join(b"row-%d,value\n" % n for n in range(count))


async def _to_the_close_then(
    ending: str,
) -> Handler:
    """A body delimited by the end of the connection, 91 rows in, then `ending`: `fin` (an
    orderly close), `reset` (a TCP RST) or `abort` (TLS cut without close_notify)."""

    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Seen
    ) -> None:
        await read_request(reader, seen)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\n\r\n" + _rows(91))
        await writer.drain()
        await asyncio.sleep(0.05)
        if ending == "reset":
            from tests.fixtures.raw_upstream import reset

            reset(writer)
        elif ending == "abort":
            writer.transport.abort()
        else:
            writer.close()

    return handler


async def test_a_reset_in_a_body_that_ends_with_the_connection_is_a_cut_body_not_a_short_one() -> (
    None
):
    """H1-1: a TCP reset mid-body is never the body's end (an orderly close still is)."""
    async with server(await _to_the_close_then("reset")) as (base, _):
        client = H1Upstream()
        with pytest.raises(UpstreamError) as caught:
            await client.send(get(base + "/rows"))
        await client.close()
    assert caught.value.kind == "bad_response"
    assert "cut off" in caught.value.message
    async with server(await _to_the_close_then("fin")) as (base, _):
        client = H1Upstream()
        whole = await client.send(get(base + "/rows"))
        await client.close()
    assert whole.body == _rows(91)


async def test_a_reset_in_a_streamed_body_fails_the_stream() -> None:
    async with server(await _to_the_close_then("reset")) as (base, _):
        client = H1Upstream()
        reply = await client.send(get(base + "/rows", stream_reply=True))
        assert reply.stream is not None
        with pytest.raises(UpstreamError) as caught:
            async for _ in reply.stream:
                pass
        await client.close()
    assert caught.value.kind == "bad_response"


async def test_tls_cut_without_close_notify_is_a_cut_body() -> None:
    """H1-1 over TLS: the connection ends without close_notify (a truncation attack or a
    crashed server), so the body that ends with it is not known to be whole."""
    authority = trustme.CA()
    async with tls_server(await _to_the_close_then("abort"), authority) as (base, _):
        client = H1Upstream()
        client._tls = ssl.create_default_context()
        authority.configure_trust(client._tls)
        with pytest.raises(UpstreamError) as caught:
            await client.send(get(base + "/rows"))
        await client.close()
    assert caught.value.kind == "bad_response"
    async with tls_server(await _to_the_close_then("fin"), authority) as (base, _):
        client = H1Upstream()
        client._tls = ssl.create_default_context()
        authority.configure_trust(client._tls)
        whole = await client.send(get(base + "/rows"))
        await client.close()
    assert whole.body == _rows(91)


def test_asyncio_still_has_the_private_state_that_tells_a_ragged_tls_end() -> None:
    """The clients read `_SSLProtocolTransport._ssl_protocol._state`; if a Python release
    renames it, a ragged TLS end would pass as whole again: fail loudly here."""
    import asyncio.sslproto as sslproto

    loop = asyncio.new_event_loop()
    try:
        context = ssl.create_default_context()
        protocol = sslproto.SSLProtocol(loop, asyncio.Protocol(), context, None)
        assert protocol._get_app_transport()._ssl_protocol is protocol
        assert isinstance(protocol._state, sslproto.SSLProtocolState)
        assert sslproto.SSLProtocolState.SHUTDOWN in sslproto.SSLProtocolState
    finally:
        loop.close()


def _nginx_like_tls(
    listener: socket.socket, context: ssl.SSLContext, body: bytes, orderly: bool
) -> None:
    """One TLS exchange over a memory BIO, ended as nginx ends it: the whole body, then (if
    `orderly`) one close_notify without waiting for the peer's, then the TCP end at once."""
    conn, _ = listener.accept()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_side=True)

    def flush() -> None:
        data = outgoing.read()
        if data:
            conn.sendall(data)

    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            flush()
            incoming.write(conn.recv(65536))
    flush()
    head = b""
    while b"\r\n\r\n" not in head:
        try:
            head += tls.read(65536)
        except ssl.SSLWantReadError:
            incoming.write(conn.recv(65536))
    tls.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + body)
    flush()
    if orderly:
        with contextlib.suppress(ssl.SSLWantReadError):
            tls.unwrap()
        flush()
    conn.shutdown(socket.SHUT_WR)
    time.sleep(1.5)
    conn.close()


@pytest.mark.parametrize("orderly", [True, False])
async def test_a_tls_end_read_late_is_told_apart_by_its_close_notify(orderly: bool) -> None:
    """close_notify then the TCP end while a slow consumer has paused reading: asyncio sees
    the TCP end before the close_notify, and the body is still whole; without the
    close_notify it is cut (found by review)."""
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    body = b"x" * (STREAM_BUFFER + 300_000)  # past the buffer: reading pauses
    server = threading.Thread(
        target=_nginx_like_tls, args=(listener, context, body, orderly), daemon=True
    )
    server.start()
    client = H1Upstream()
    client._tls = ssl.create_default_context()
    authority.configure_trust(client._tls)
    port = listener.getsockname()[1]
    reply = await client.send(get(f"https://127.0.0.1:{port}/big", stream_reply=True))
    assert reply.stream is not None
    await asyncio.sleep(0.3)  # behind: reading is paused while the end arrives
    received, failure = 0, None
    try:
        async for chunk in reply.stream:
            received += len(chunk)
    except UpstreamError as exc:
        failure = exc
    await client.close()
    server.join(timeout=5)
    listener.close()
    if orderly:
        assert failure is None and received == len(body)
    else:
        assert failure is not None and failure.kind == "bad_response"
