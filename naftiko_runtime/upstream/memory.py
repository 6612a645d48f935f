"""`MemoryUpstream`: the Upstream protocol answered by a function, with no socket, so that a
test can compile a runtime and call its operations in-process and see what they send.

    def handler(request: UpstreamRequest) -> UpstreamReply:
        return UpstreamReply(200, "application/json", b'{"id": "job-1"}')

    runtime = compile_runtime(capabilities, environ, options, upstream=MemoryUpstream(handler))

The handler may be sync or async, and may raise an `errors.UpstreamError` subclass to play a
failing upstream. Nothing is pooled, metered or traced around it (`pool.UpstreamClients`
hands a shared client to every namespace as it is).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from naftiko_runtime.upstream.base import UpstreamReply, UpstreamRequest

Handler = Callable[[UpstreamRequest], UpstreamReply | Awaitable[UpstreamReply]]


class MemoryUpstream:
    """Each request is answered by `handler(request)`, awaited when it is a coroutine."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.closed = False

    async def send(self, request: UpstreamRequest) -> UpstreamReply:
        reply = self.handler(request)
        if isinstance(reply, UpstreamReply):
            return reply
        return await reply

    async def close(self) -> None:
        self.closed = True
