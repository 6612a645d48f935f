"""Slow and bloated clients over real sockets: headers must arrive within `--header-timeout`
and `--max-header-size`, a body within `--body-timeout`, idle sockets are closed, and the
server's own errors are JSON."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from tests.fixtures.process import serve_bundled

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server() -> Iterator[dict[str, Any]]:
    limits = ("--header-timeout", "1", "--max-header-size", "16", "--body-timeout", "1")
    with serve_bundled(*limits) as process:
        host, port = process.rest.removeprefix("http://").split(":")
        yield {"process": process, "address": (host, int(port)), **process.urls}


def connect(server: dict[str, Any]) -> socket.socket:
    sock = socket.create_connection(server["address"], timeout=10)
    return sock


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    out = b""
    while chunk := sock.recv(65536):
        out += chunk
    return out


def json_reply(raw: bytes) -> tuple[int, dict[str, Any]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in head.lower()
    return int(head.split(b" ")[1]), orjson.loads(body)


def test_a_socket_that_never_sends_is_closed(server: dict[str, Any]) -> None:
    sockets = [connect(server) for _ in range(40)]
    started = time.monotonic()
    assert all(read_all(s) == b"" for s in sockets)  # closed by the server, nothing sent
    assert time.monotonic() - started < 8
    for sock in sockets:
        sock.close()
    assert httpx.get(server["rest"] + "/v1/jobs/?limit=1", timeout=10).status_code == 200


@pytest.mark.parametrize(
    ("sent", "status", "kind"),
    [
        (b"GET /v1/jobs/ HTTP/1.1\r\nHost: x\r\nX-Slow: a", 408, "request_timeout"),
        (b"GET /v1/jobs/ HTTP/1.1\r\nX-Big: " + b"a" * 40_000, 431, "headers_too_large"),
        (b"NOT HTTP AT ALL\r\n\r\n", 400, "invalid_request"),
    ],
    ids=["unfinished-headers", "oversized-headers", "malformed"],
)
def test_the_server_answers_bad_heads_in_the_json_envelope(
    server: dict[str, Any], sent: bytes, status: int, kind: str
) -> None:
    sock = connect(server)
    sock.sendall(sent)
    answered, body = json_reply(read_all(sock))
    assert (answered, body["error"]["type"]) == (status, kind)
    sock.close()


def test_headers_trickled_byte_by_byte_are_cut_at_the_timeout(server: dict[str, Any]) -> None:
    sock = connect(server)
    sock.sendall(b"GET /v1/jobs/ HTTP/1.1\r\nHost: x\r\n")
    started = time.monotonic()
    with pytest.raises((BrokenPipeError, ConnectionResetError)):
        while time.monotonic() - started < 8:
            sock.sendall(b"X-Drip: 1\r\n")
            time.sleep(0.2)
    assert time.monotonic() - started < 5  # cut after about one second, not held
    sock.close()


def test_a_body_that_stops_coming_is_cut_at_the_body_timeout(server: dict[str, Any]) -> None:
    sock = connect(server)
    head = b"POST /v1/runs/run-1/stream HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
    sock.sendall(head + b"\r\nContent-Length: 1000\r\n\r\n")
    sock.sendall(b'{"stream_tokens": ')  # and nothing more
    started = time.monotonic()
    answered, body = json_reply(read_all(sock))
    assert (answered, body["error"]["type"]) == (408, "request_timeout")
    assert "body" in body["error"]["message"]
    assert time.monotonic() - started < 8
    sock.close()


def test_keep_alive_requests_and_large_bodies_still_work(server: dict[str, Any]) -> None:
    with httpx.Client(timeout=10) as client:
        for _ in range(3):
            assert client.get(server["rest"] + "/v1/jobs/?limit=1").status_code == 200
            time.sleep(0.4)  # idle between requests, within the keep-alive period
        big = client.post(
            server["rest"] + "/v1/runs/missing/stream",
            content=orjson.dumps({"pad": "x" * 2_000_000}),
            headers={"content-type": "application/json"},
        )
        assert big.status_code == 404  # the 2 MB body was read, routed and answered
    assert "Traceback" not in server["process"].output()
