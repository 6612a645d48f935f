"""uvicorn's httptools protocol with the bounds a gateway needs on slow or bloated clients:
a request's headers must arrive within a time limit and a size limit (uvicorn holds a socket
that never finishes its headers forever, and buffers headers of any size), its body within
another time limit, and the errors the server itself answers are the runtime's JSON envelope
instead of plain text."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from naftiko_runtime.adapters.errors import problem

DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_BODY_TIMEOUT = 30.0
DEFAULT_MAX_HEADER_BYTES = 64 * 1024
_REASONS = {400: b"Bad Request", 408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


def _reply(status: int, kind: str, message: str) -> bytes:
    body = problem(status, kind, message).body
    return b"".join(
        [
            b"HTTP/1.1 %d %s\r\n" % (status, _REASONS[status]),
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
            body,
        ]
    )


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """Every request's headers (the first and each keep-alive one) are timed and sized, and
    a body still arriving after its headers is timed too."""

    header_timeout = DEFAULT_HEADER_TIMEOUT
    max_header_bytes = DEFAULT_MAX_HEADER_BYTES
    body_timeout = DEFAULT_BODY_TIMEOUT

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._awaiting = True  # inside a request's head: from the first byte to its end
        self._header_bytes = 0
        self._header_timer: asyncio.TimerHandle | None = self.loop.call_later(
            self.header_timeout, self._headers_too_slow
        )
        self._body_timer: asyncio.TimerHandle | None = None

    def _headers_done(self) -> None:
        self._awaiting = False
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        cycle = self.cycle
        if cycle is not None and cycle.more_body and self._body_timer is None:
            # a body that did not come with its head (no timer for the usual whole request)
            self._body_timer = self.loop.call_later(self.body_timeout, self._body_too_slow)
        if not self._awaiting or self.transport.is_closing():
            return  # the common case: a whole head arrived in one chunk, no timer needed
        self._header_bytes += len(data)
        if self._header_bytes > self.max_header_bytes:
            self._headers_done()
            limit = self.max_header_bytes // 1024
            self._close_with(431, "headers_too_large", f"request headers exceed {limit} KiB")
        elif self._header_timer is None:  # a kept-alive request whose head is still coming
            self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._awaiting = True
        self._header_bytes = 0

    def on_headers_complete(self) -> None:
        self._headers_done()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._body_done()
        super().on_message_complete()

    def _body_done(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def connection_lost(self, exc: Exception | None) -> None:
        self._headers_done()
        self._body_done()
        super().connection_lost(exc)

    def _body_too_slow(self) -> None:
        self._body_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and self.cycle.response_started:
            self.transport.close()  # the app answered already: only the connection is left
            return
        seconds = f"{self.body_timeout:g}"
        self._close_with(408, "request_timeout", f"request body not received in {seconds} s")

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        if self._header_bytes == 0 and self.cycle is None:
            self.transport.close()  # an idle socket that never sent a byte: just close it
            return
        seconds = f"{self.header_timeout:g}"
        self._close_with(408, "request_timeout", f"request headers not received in {seconds} s")

    def send_400_response(self, msg: str) -> None:
        self._close_with(400, "invalid_request", msg)

    def _close_with(self, status: int, kind: str, message: str) -> None:
        self.transport.write(_reply(status, kind, message))
        self.transport.close()


def bounded_protocol(
    header_timeout: float, max_header_bytes: int, body_timeout: float = DEFAULT_BODY_TIMEOUT
) -> type[Any]:
    """The protocol class uvicorn builds per connection, carrying this server's limits."""
    limits = {
        "header_timeout": header_timeout,
        "max_header_bytes": max_header_bytes,
        "body_timeout": body_timeout,
    }
    return type("BoundedHttpToolsProtocol", (BoundedHttpToolsProtocol,), limits)
