"""Upstream replies → a JSON document, or the error the adapters map once.

`decode` turns any declared `outputRawFormat` into JSON so mappings read one shape; a 4xx
keeps its body (passed through to REST clients, redacted), a 5xx does not.
"""

from __future__ import annotations

from typing import Any

from naftiko_runtime import jsoncodec
from naftiko_runtime.errors import UpstreamError
from naftiko_runtime.upstream import UpstreamReply

MAX_ERROR_BODY = 64 * 1024
"""How much of an upstream 4xx body a client sees: cut by the adapter after redaction (a
secret cut in two by the limit would otherwise leave its first half unredacted)."""


def failed(status: int) -> bool:
    """An answer that is not a result: 4xx/5xx, and a 3xx (redirects are never followed; a
    304 to a conditional request is an empty result)."""
    return status >= 300 and status != 304


def status_error(reply: UpstreamReply, name: str) -> UpstreamError:
    if reply.status < 400:
        return UpstreamError(
            "redirect",
            f"upstream answered {name} with a redirect (HTTP {reply.status}), not followed",
            operation=name,
            upstream_status=reply.status,
        )
    if reply.status < 500:
        return UpstreamError(
            "status",
            f"upstream answered {name} with HTTP {reply.status}",
            operation=name,
            upstream_status=reply.status,
            body=reply.body,
            content_type=reply.content_type,
            headers=reply.headers,
        )
    return UpstreamError(
        "status",
        f"upstream failed on {name} with HTTP {reply.status}",
        operation=name,
        upstream_status=reply.status,
    )


def parse_json(body: bytes, name: str, status: int) -> Any:
    """orjson (integers past 64 bits kept exact), and the standard parser for what orjson
    refuses."""
    try:
        return jsoncodec.loads(body)
    except (ValueError, RecursionError):
        pass
    try:
        import json

        return json.loads(body)
    except (ValueError, RecursionError):
        raise UpstreamError(
            "bad_response",
            f"upstream answered {name} with a body that is not JSON",
            operation=name,
            upstream_status=status,
        ) from None


def decode(reply: UpstreamReply, output_format: str, name: str, schema: str | None = None) -> Any:
    """The reply body as a JSON value, read in its declared format (`schema` is the
    operation's `outputSchema`: a CSS selector, a heading prefix or a schema file)."""
    if not reply.body or reply.status == 204:
        return None
    if output_format == "json":
        return parse_json(reply.body, name, reply.status)
    decoder = _decoders.get(output_format)
    if decoder is None:
        return reply.body.decode("utf-8", errors="replace")
    try:
        return decoder(reply.body, schema)
    except UpstreamError:
        raise
    except Exception as exc:  # every decoder's own error: the payload is not that format
        raise _bad(name, output_format, reply.status, str(exc)) from None


OFF_LOOP_BYTES = 512 * 1024
"""Payloads at least this large are decoded in a worker thread, so other requests go on."""


async def decode_async(
    reply: UpstreamReply, output_format: str, name: str, schema: str | None = None
) -> Any:
    """`decode`, off the event loop for large non-JSON payloads (orjson is fast enough)."""
    if output_format != "json" and len(reply.body) >= OFF_LOOP_BYTES:
        import asyncio

        return await asyncio.to_thread(decode, reply, output_format, name, schema)
    return decode(reply, output_format, name, schema)


def _xml(body: bytes, schema: str | None) -> Any:
    from naftiko_runtime.engine.formats.xml import decode_xml

    return decode_xml(body)


def _yaml(body: bytes, schema: str | None) -> Any:
    from naftiko_runtime.engine.formats.yaml_safe import load_first

    return load_first(body.decode("utf-8", errors="replace"))  # the first, as the reference


def _delimited(fmt: str) -> Any:
    def decode(body: bytes, schema: str | None) -> Any:
        from naftiko_runtime.engine.formats.delimited import decode_delimited

        return decode_delimited(body, fmt)

    return decode


def _html(body: bytes, schema: str | None) -> Any:
    from naftiko_runtime.engine.formats.html import decode_html

    return decode_html(body, schema)


def _markdown(body: bytes, schema: str | None) -> Any:
    from naftiko_runtime.engine.formats.markdown import decode_markdown

    return decode_markdown(body, schema)


def _avro(body: bytes, schema: str | None) -> Any:
    from naftiko_runtime.engine.formats.avro import decode_avro

    return decode_avro(body, schema)


def _protobuf(body: bytes, schema: str | None) -> Any:
    from naftiko_runtime.engine.formats.protobuf import decode_protobuf

    return decode_protobuf(body, schema)


_decoders: dict[str, Any] = {
    "protobuf": _protobuf,
    "xml": _xml,
    "yaml": _yaml,
    "csv": _delimited("csv"),
    "tsv": _delimited("tsv"),
    "psv": _delimited("psv"),
    "html": _html,
    "markdown": _markdown,
    "avro": _avro,
}


def _bad(name: str, fmt: str, status: int, why: str = "") -> UpstreamError:
    detail = f" ({why[:200]})" if why else ""
    return UpstreamError(
        "bad_response",
        f"upstream answered {name} with a body that is not valid {fmt}{detail}",
        operation=name,
        upstream_status=status,
    )
