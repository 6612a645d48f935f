"""An operation's result as MCP content: text plus `structuredContent`, binary blocks, and
tool errors (a failed call is a result with `isError`, never a protocol crash).

The JSON value of a call is serialized once here: the text content is those bytes, and a
`ToolResult` keeps the bytes of its `structuredContent` so the fast path writes them into
the reply as they are instead of walking the value a second time.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mcp import types

from naftiko_runtime import jsoncodec
from naftiko_runtime.adapters.errors import status_of
from naftiko_runtime.adapters.mcp.sse import EventStreamDecoder
from naftiko_runtime.engine.headers import PAGING_META
from naftiko_runtime.engine.result import CallResult
from naftiko_runtime.errors import (
    InvocationError,
    NaftikoError,
    UpstreamBadResponseError,
    UpstreamError,
)
from naftiko_runtime.secrets.bindings import Redactor
from naftiko_runtime.secrets.redactor import is_text
from naftiko_runtime.upstream.base import close_stream

log = logging.getLogger("naftiko_runtime.mcp")

MAX_STREAM_BYTES = 4 * 1024 * 1024
MAX_BINARY_BYTES = 16 * 1024 * 1024


class ToolResult(types.CallToolResult):
    """A tool's answer that carries the JSON its `structuredContent` was written as (None
    when it was not written in one piece: a redacted or paged answer). A slot, not a
    pydantic private attribute: those double the cost of building the result."""

    __slots__ = ("structured_json",)
    if TYPE_CHECKING:
        structured_json: bytes | None

    def __init__(self, structured_json: bytes | None = None, **fields: Any) -> None:
        super().__init__(**fields)
        object.__setattr__(self, "structured_json", structured_json)


class ToolError(types.CallToolResult):
    """A failed call's result (`isError`), with the HTTP status its error is
    (`adapters.errors.status_of`): what the metrics count it under, 4xx for the caller's
    mistake. A slot, as `ToolResult`'s: the client never sees it."""

    __slots__ = ("status",)
    if TYPE_CHECKING:
        status: int

    def __init__(self, status: int, message: str) -> None:
        super().__init__(content=[types.TextContent(type="text", text=message)], is_error=True)
        object.__setattr__(self, "status", status)


def error(message: str, status: int = 400) -> ToolError:
    """A failed call in words; by default the caller's mistake (an argument it got wrong)."""
    return ToolError(status, message)


def failure(tool: str, exc: Exception, redact: Redactor) -> ToolError:
    """What the client sees of a failed call: the caller's mistake or the upstream's
    failure in words; a defect is logged (redacted) and never shown."""
    status = status_of(exc)
    if isinstance(exc, InvocationError):
        return error(exc.message, status)
    if isinstance(exc, UpstreamError):
        return error(upstream_message(exc, redact), status)
    if isinstance(exc, NaftikoError):
        return error(redact(str(exc)), status)
    log.exception("tool %s failed: %s", tool, redact(repr(exc)))
    return error("internal error; see the server log", status)


def status_class(result: types.CallToolResult) -> int:
    """The HTTP status a result counts as: 200, or its error's (500 when none is known)."""
    if not result.is_error:
        return 200
    return result.status if isinstance(result, ToolError) else 500


def upstream_message(exc: UpstreamError, redact: Callable[[str], str]) -> str:
    """The error and the start of the upstream's body, redacted before it is cut."""
    if exc.body:
        body = redact(exc.body.decode("utf-8", "replace"))[:2000]
        return f"{redact(exc.message)}: {body}"
    return redact(exc.message)


def tool_result(
    tool: str,
    data: Any,
    redact: Redactor,
    *,
    wrap: bool,
    typed: bool,
    after: dict[str, Any] | None,
) -> ToolResult:
    """`data` as one text block (its JSON) and as `structuredContent`: itself when it is an
    object the output schema does not wrap, else `{"result": data}`. `after`: the next
    page's arguments, added as `_meta`, a hint for the model and (untyped) `next`."""
    dumped = jsoncodec.dumps(data)
    written: bytes | None = dumped  # the JSON of `data`, while it is still that
    text = dumped.decode()
    redacted = redact.bodies(text)
    if redacted != text:  # an upstream 2xx echoing a secret
        text, written = redacted, None
        try:
            data = jsoncodec.loads(redacted)
        except ValueError:  # a match spanned JSON syntax: keep the text only
            data = redacted
    wrapped = wrap or not isinstance(data, dict)
    structured = {"result": data} if wrapped else data
    content: list[types.ContentBlock] = [types.TextContent(type="text", text=text)]
    meta = None
    if after is not None:  # what an agent needs to page: the next call's arguments
        written = None
        meta = {PAGING_META: {"next": after}}
        if "next" not in structured and (wrap or not typed):
            structured = {**structured, "next": after}
        hint = f"More results: call {tool} with {jsoncodec.dumps(after).decode()}"
        content.append(types.TextContent(type="text", text=hint))
    if written is not None and wrapped:
        written = b'{"result":' + written + b"}"
    return ToolResult(
        written, content=content, structured_content=structured, is_error=False, _meta=meta
    )


def resource_text(data: Any, redact: Redactor) -> str:
    """A resource's contents: the value's JSON, credentials redacted."""
    return redact.bodies(jsoncodec.dumps(data).decode())


async def collect(result: CallResult) -> Any:
    """A tool result is one value: a stream is read to its end into a list of events."""
    if result.stream is None:
        return result.data
    events: list[Any] = []
    size = 0
    decoder = EventStreamDecoder()

    def add(data: bytes) -> None:
        if data == b"[DONE]":
            return
        try:
            events.append(jsoncodec.loads(data))
        except (ValueError, RecursionError):
            events.append(data.decode("utf-8", "replace"))

    stream = result.stream
    try:
        async for chunk in stream:
            size += len(chunk)
            if size > MAX_STREAM_BYTES:
                raise UpstreamBadResponseError(
                    "stream too large for a tool result", operation="stream"
                )
            for data in decoder.feed(chunk):
                add(data)
    finally:  # an early end still closes the upstream stream (and frees its pool slot)
        await close_stream(stream)
    for data in decoder.close():
        add(data)
    return {"events": events}


async def binary_result(tool: str, result: CallResult, redact: Redactor) -> types.CallToolResult:
    """Bytes as MCP content by MIME type: an image or audio block, else an embedded blob;
    redacted first, as REST does, whatever the type (an upstream may echo a credential)."""
    chunks: list[bytes] = []
    size = 0
    assert result.stream is not None
    try:
        async for chunk in result.stream:
            size += len(chunk)
            if size > MAX_BINARY_BYTES:
                raise UpstreamBadResponseError(
                    f"binary result of {tool} is larger than {MAX_BINARY_BYTES} bytes",
                    operation=tool,
                )
            chunks.append(chunk)
    finally:
        await close_stream(result.stream)
    mime = (result.content_type or "application/octet-stream").split(";")[0].strip()
    raw = redact.bodies.redact_bytes(b"".join(chunks), is_text(mime))
    data = base64.b64encode(raw).decode()
    content: types.ContentBlock
    if mime.startswith("image/"):
        content = types.ImageContent(type="image", data=data, mime_type=mime)
    elif mime.startswith("audio/"):
        content = types.AudioContent(type="audio", data=data, mime_type=mime)
    else:
        content = types.EmbeddedResource(
            type="resource",
            resource=types.BlobResourceContents(
                uri=f"naftiko://tools/{tool}/result", mime_type=mime, blob=data
            ),
        )
    return types.CallToolResult(content=[content], is_error=False)
