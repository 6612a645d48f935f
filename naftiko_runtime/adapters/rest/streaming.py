"""Answers that are not one whole body: an upstream's stream passed on as it comes
(redacted), and the answer a request in flight gets when the server's shutdown cuts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from naftiko_runtime.adapters.asgi import Receive, Send, respond
from naftiko_runtime.adapters.errors import SHUTTING_DOWN, error_reply
from naftiko_runtime.secrets.redactor import Redactor, is_text
from naftiko_runtime.upstream.base import close_stream

log = logging.getLogger("naftiko_runtime.rest")


async def cut_by_shutdown(send: Send) -> None:
    """The grace period after SIGTERM ran out with this request in flight (the server cancels
    it): answer the documented 503 JSON rather than the server's bare plain-text 500."""
    with contextlib.suppress(Exception):
        await respond(send, *SHUTTING_DOWN, headers=((b"connection", b"close"),))


async def relay(
    send: Send,
    status: int,
    content_type: str,
    stream: AsyncIterator[bytes],
    name: str,
    redact: Redactor,
    headers: list[tuple[bytes, bytes]] | None = None,
    gone: Receive | None = None,
) -> None:
    """Pass chunks through as they come (redacted). With `gone` (the request's `receive`,
    its body already read), a client that disconnects ends the upstream stream at once
    instead of it being read to its end for nobody. A failure mid-stream is logged and shown:
    an event stream ends with an `event: error` carrying the error JSON, any other stream is
    cut without its terminating chunk, so no client mistakes it for a complete body.
    `headers` replaces the event-stream defaults (a forwarded reply keeps its own)."""
    if headers is None:
        headers = [
            (b"content-type", content_type.encode("latin-1")),
            (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no"),
        ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    scrub = redact.bodies.stream(is_text(content_type))  # any type (see may_contain)
    watcher = asyncio.ensure_future(_on_disconnect(gone)) if gone is not None else None
    streaming = [True]
    if watcher is not None:
        task = asyncio.current_task()

        def client_gone(w: asyncio.Future[None]) -> None:
            if streaming[0] and not w.cancelled() and task is not None:
                task.cancel()

        watcher.add_done_callback(client_gone)
    try:
        async for chunk in stream:
            chunk = scrub.feed(chunk)
            if chunk:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        rest = scrub.flush()
        if rest:
            await send({"type": "http.response.body", "body": rest, "more_body": True})
    except OSError:  # the client went away
        pass
    except asyncio.CancelledError:
        if watcher is None or not watcher.done() or watcher.cancelled():
            raise  # a shutdown, not the client leaving
        current = asyncio.current_task()
        if current is not None:
            current.uncancel()
        return
    except Exception as exc:  # the status is sent already: say why in the stream and the log
        log.warning("stream from %s ended early: %s", name, redact(str(exc)))
        if not content_type.lower().startswith("text/event-stream"):
            return  # uvicorn closes the connection: the body is visibly incomplete
        payload = error_reply(exc, redact).body
        event = b"event: error\ndata: " + payload + b"\n\n"
        await send({"type": "http.response.body", "body": event, "more_body": True})
    finally:
        streaming[0] = False
        if watcher is not None and not watcher.done():
            watcher.cancel()
        await close_stream(stream)
    await send({"type": "http.response.body", "body": b""})


async def _on_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
