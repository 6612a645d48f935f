"""A `forward` route as an ASGI app: the client's request passed to the upstream under the
forwarder's prefix as it came (declared methods only, the body streamed up to `MAX_BODY`),
and the reply passed back, redacted, streamed when the upstream streams.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from naftiko_runtime.adapters.asgi import ASGIApp, Receive, Scope, Send, respond
from naftiko_runtime.adapters.auth.base import Guard
from naftiko_runtime.adapters.errors import PayloadTooLarge, error_reply, problem
from naftiko_runtime.adapters.rest.inputs import MAX_BODY
from naftiko_runtime.adapters.rest.streaming import cut_by_shutdown, relay
from naftiko_runtime.engine.forward import REPLY_HEADERS, Forwarder
from naftiko_runtime.engine.response import status_error
from naftiko_runtime.errors import InvocationError
from naftiko_runtime.secrets.redactor import Redactor, is_text


@dataclass(frozen=True)
class ForwardEndpoint:
    """A forward route with the guard of its adapter."""

    forwarder: Forwarder
    guard: Guard | None = None


def forward_app(endpoint: ForwardEndpoint, redact: Redactor) -> ASGIApp:
    """The forward route's app (its guard goes in front of it)."""
    forwarder = endpoint.forwarder

    async def handle(scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method not in forwarder.methods:
            allow = ", ".join(sorted(forwarder.methods)).encode()
            message = f"{method} is not forwarded to {forwarder.route.namespace}"
            refusal = problem(405, "method_not_allowed", message)
            await respond(send, *refusal, headers=[(b"allow", allow)])
            return
        headers = scope["headers"]
        has_body = False
        for key, value in headers:
            if key == b"transfer-encoding":
                has_body = True
            elif key == b"content-length":
                has_body = True
                if not value.isdigit() or int(value) > MAX_BODY:  # refused unread
                    too_large = PayloadTooLarge(f"request body is larger than {MAX_BODY}")
                    refusal = error_reply(too_large, redact)
                    await respond(send, *refusal, headers=[(b"connection", b"close")])
                    return
        failed: list[Exception] = []  # why the client's body ended early, if it did
        stream = _request_stream(receive, MAX_BODY, failed) if has_body else None
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        try:
            request = forwarder.request(
                method, raw_path, scope["query_string"].decode("latin-1"), headers, stream
            )
            reply = await forwarder.send(request)
            if reply.stream is None and reply.status >= 400:
                raise status_error(reply, forwarder.name)
        except asyncio.CancelledError:
            await cut_by_shutdown(send)
            raise
        except Exception as exc:  # ours map to their status; anything else is a logged 500
            # the client's body failing mid-send surfaces as an upstream error: say the cause
            answer = error_reply(failed[0] if failed else exc, redact)
            extra = getattr(exc, "reply_headers", []) if not failed else []  # circuit open
            await respond(send, *answer, headers=extra)
            return
        if reply.stream is None:
            # any type: an echo of the gateway's credential is one whatever the label says
            scrubbed = redact.bodies.redact_bytes(reply.body, is_text(reply.content_type))
            await respond(send, reply.status, scrubbed, reply.content_type.encode("latin-1"))
            return
        out_headers = [
            # redacted (a Location too); raw bytes back as they came (not always latin-1)
            (k.lower().encode("latin-1"), redact(v).encode("utf-8", "surrogateescape"))
            for k, v in reply.headers or []
            if k.lower() in REPLY_HEADERS
        ]
        await relay(
            send,
            reply.status,
            reply.content_type,
            reply.stream,
            forwarder.name,
            redact,
            out_headers,
        )

    return handle


async def _request_stream(
    receive: Receive, limit: int, failed: list[Exception]
) -> AsyncIterator[bytes]:
    """The client's body as it arrives, cut at `limit` bytes; why it was cut goes in
    `failed` (the upstream client reports it as its own failure to send)."""
    total = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":  # cut short: never a complete body upstream
            failed.append(
                InvocationError(
                    "the client went away before its body was complete",
                    [{"name": "body", "problem": "incomplete"}],
                )
            )
            raise failed[-1]
        chunk = message.get("body", b"")
        total += len(chunk)
        if total > limit:
            failed.append(PayloadTooLarge(f"request body is larger than {limit} bytes"))
            raise failed[-1]
        if chunk:
            yield chunk
        if not message.get("more_body"):
            return
