"""The failures every client reports, worded once: each client maps its library's
exceptions to these in its own `map_errors()` and raises them `from` what it caught.

The wording is shared so that a failure reads the same whichever `--http-client` ran; a
message names the operation, never the URL (its query may hold a credential).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from naftiko_runtime.errors import (
    UpstreamBadResponseError,
    UpstreamBusyError,
    UpstreamConnectError,
    UpstreamTimeoutError,
)
from naftiko_runtime.upstream.base import UpstreamRequest, close_stream


def unreachable(request: UpstreamRequest, why: str) -> UpstreamConnectError:
    return UpstreamConnectError(
        f"cannot reach the upstream for {request.operation}: {why}",
        operation=request.operation,
    )


def timed_out(request: UpstreamRequest) -> UpstreamTimeoutError:
    """No answer within the exchange's total bound (or the connect bound)."""
    return UpstreamTimeoutError(
        f"upstream did not answer {request.operation} in time",
        operation=request.operation,
    )


def stalled(request: UpstreamRequest) -> UpstreamTimeoutError:
    """A stream silent past its idle bound."""
    return UpstreamTimeoutError(
        f"upstream stream for {request.operation} went silent and was cut",
        operation=request.operation,
    )


def busy(request: UpstreamRequest, size: int, wait: float) -> UpstreamBusyError:
    return UpstreamBusyError(
        f"all {size} connections to the upstream of {request.operation} are in "
        f"use; none was free within {wait:g} s",
        operation=request.operation,
    )


def invalid_response(
    request: UpstreamRequest, why: str, status: int | None = None
) -> UpstreamBadResponseError:
    return UpstreamBadResponseError(
        f"upstream sent an invalid HTTP response for {request.operation}: {why}",
        operation=request.operation,
        upstream_status=status,
    )


def too_large(
    request: UpstreamRequest, limit: int, status: int | None = None
) -> UpstreamBadResponseError:
    return UpstreamBadResponseError(
        f"upstream response for {request.operation} is too large (over {limit} bytes)",
        operation=request.operation,
        upstream_status=status,
    )


def cut_off(
    request: UpstreamRequest, why: str, status: int | None = None
) -> UpstreamBadResponseError:
    """A body that ended early or is malformed, on any client: a framing error, never a
    short success and never a connect failure."""
    return UpstreamBadResponseError(
        f"upstream response for {request.operation} was cut off: {why}",
        operation=request.operation,
        upstream_status=status,
    )


def ragged_tls_end(transport: Any) -> bool:
    """Whether a TLS connection ended without the peer's close_notify, which makes a body
    delimited by the connection's end a cut one. asyncio reports both ends alike
    (`eof_received`); its SSL protocol tells them apart only by the state it is in then
    (private attributes, checked to exist by a test): a close_notify is read as data (state
    WRAPPED, or FLUSHING when the TCP end came first while reading was paused), a TCP end
    without one is only noticed on shutdown (state SHUTDOWN)."""
    if transport is None or not transport.get_extra_info("ssl_object"):
        return False
    from asyncio import sslproto

    protocol = getattr(transport, "_ssl_protocol", None)
    state = getattr(protocol, "_state", None)
    return state is sslproto.SSLProtocolState.SHUTDOWN


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
