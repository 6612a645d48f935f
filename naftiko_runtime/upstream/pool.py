"""The clients a runtime sends through: one per consumed namespace, of the kind
`--http-client` names, bounded by its pool, and wrapped in what the caller hands in.

It wraps nothing of its own: metrics and tracing live above this package (they build on
`base`), so the runtime passes them in as `Wrap` callables instead of this module importing
them, which would make `upstream` and `observability` import each other.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING, Any

from naftiko_runtime.upstream.base import (
    Timeouts,
    Upstream,
    UpstreamReply,
    UpstreamRequest,
    add_upstream_time,
    close_stream,
)
from naftiko_runtime.upstream.errors import busy

if TYPE_CHECKING:  # the client itself is imported only when asked for
    from naftiko_runtime.upstream.h1 import FirstByte

Wrap = Callable[[Upstream, str], Upstream]
"""A wrapper of one namespace's client, given the client and the namespace's name."""


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
        except TimeoutError as exc:
            raise busy(request, self._size, self._wait) from exc
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


def make_upstream(name: str, timeouts: Timeouts, first_byte: FirstByte | None = None) -> Upstream:
    """The client named on the command line (`--http-client`), bounded by its pool. Each
    client is imported only when asked for (aiohttp alone costs ~0.15 s to import);
    `first_byte` is kept by the h1 client only."""
    client: Upstream
    if name == "h1":
        from naftiko_runtime.upstream.h1 import H1Upstream

        client = H1Upstream(timeouts, first_byte)
    elif name == "aiohttp":
        from naftiko_runtime.upstream.aiohttp import AiohttpUpstream

        client = AiohttpUpstream(timeouts)
    elif name == "pyreqwest":
        from naftiko_runtime.upstream.pyreqwest import PyreqwestUpstream

        client = PyreqwestUpstream(timeouts)
    else:
        raise KeyError(name)
    return PooledUpstream(client, timeouts)


class UpstreamClients:
    """One pooled client per consumed namespace, so a slow or stuck API cannot take the
    connections another namespace needs. Tests may share one injected client for all
    (`shared`, say a `memory.MemoryUpstream`). Each namespace's client goes through
    `wrappers` in turn (the last is the outermost). With `policies` (`serve --policies`),
    each namespace's client is wrapped in its policy (policies.resilience); without, nothing
    of them is imported or called."""

    def __init__(
        self,
        client: str = "h1",
        timeouts: Timeouts | None = None,
        shared: Upstream | None = None,
        wrappers: Sequence[Wrap] = (),
        policies: Any = None,
    ) -> None:
        self._client = client
        self._timeouts = timeouts if timeouts is not None else Timeouts()
        self._shared = shared
        self._wrappers = tuple(wrappers)
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

    def _built(
        self, namespace: str, timeouts: Timeouts, first_byte: FirstByte | None = None
    ) -> Upstream:
        """The namespace's pooled client, in its wrappers."""
        if self._shared is not None:
            return self._shared
        client = make_upstream(self._client, timeouts, first_byte)
        for wrap in self._wrappers:
            client = wrap(client, namespace)
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
