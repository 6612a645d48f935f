"""Upstream replies → a JSON document, or the error the adapters map once.

`decode` turns any declared `outputRawFormat` into JSON so mappings read one shape; a 4xx
keeps its body (passed through to REST clients, redacted), a 5xx does not. Decoding runs in
a small pool of threads, never on the event loop, and within limits derived from the body
cap (`formats.budget`): past one, the answer is a 502 `upstream_bad_response`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from naftiko_runtime import jsoncodec
from naftiko_runtime.engine.formats.budget import Budget, DecodeLimitError, DecodeLimits
from naftiko_runtime.errors import (
    UpstreamBadResponseError,
    UpstreamError,
    UpstreamRedirectError,
    UpstreamStatusError,
)
from naftiko_runtime.upstream.base import MAX_BODY, UpstreamReply

Decoder = Callable[[bytes, str | None, Budget], Any]

MAX_ERROR_BODY = 64 * 1024
"""How much of an upstream 4xx body a client sees: cut by the adapter after redaction (a
secret cut in two by the limit would otherwise leave its first half unredacted)."""


def failed(status: int) -> bool:
    """An answer that is not a result: 4xx/5xx, and a 3xx (redirects are never followed; a
    304 to a conditional request is an empty result)."""
    return status >= 300 and status != 304


def status_error(reply: UpstreamReply, name: str) -> UpstreamError:
    if reply.status < 400:
        return UpstreamRedirectError(
            f"upstream answered {name} with a redirect (HTTP {reply.status}), not followed",
            operation=name,
            upstream_status=reply.status,
        )
    if reply.status < 500:
        return UpstreamStatusError(
            f"upstream answered {name} with HTTP {reply.status}",
            operation=name,
            upstream_status=reply.status,
            body=reply.body,
            content_type=reply.content_type,
            headers=reply.headers,
        )
    return UpstreamStatusError(
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
        raise UpstreamBadResponseError(
            f"upstream answered {name} with a body that is not JSON",
            operation=name,
            upstream_status=status,
        ) from None


def decode(reply: UpstreamReply, output_format: str, name: str, schema: str | None = None) -> Any:
    """The reply body as a JSON value, read in its declared format (`schema` is the
    operation's `outputSchema`: a CSS selector, a heading prefix or a schema file), within
    the decode limits (counted in the calling thread: use `decode_async` on the loop)."""
    if not reply.body or reply.status == 204:
        return None
    if output_format == "json":
        return parse_json(reply.body, name, reply.status)
    decoder = _decoders.get(output_format)
    if decoder is None:
        return reply.body.decode("utf-8", errors="replace")
    try:
        return decoder(reply.body, schema, Budget(_limits))
    except UpstreamError:
        raise
    except DecodeLimitError as exc:
        raise UpstreamBadResponseError(
            f"upstream answered {name} with a body past the decoding limits for {output_format} "
            f"({exc})",
            operation=name,
            upstream_status=reply.status,
        ) from None
    except Exception as exc:  # every decoder's own error: the payload is not that format
        raise _bad(name, output_format, reply.status, str(exc)) from None


DECODE_THREADS = 2
"""Decodes that run at once: each may hold up to the limits' worth of memory, and pure
Python decoders share one interpreter lock anyway."""
_limits = DecodeLimits.for_body_cap(MAX_BODY)
_pool: ThreadPoolExecutor | None = None


def configure_decoding(max_body: int) -> None:
    """The decode limits for the upstream body cap `serve` was given (`--max-upstream-body`):
    see `DecodeLimits.for_body_cap`."""
    global _limits
    _limits = DecodeLimits.for_body_cap(max_body)


async def decode_async(
    reply: UpstreamReply, output_format: str, name: str, schema: str | None = None
) -> Any:
    """`decode`, off the event loop for every format but JSON (orjson is fast enough): a
    payload of a few bytes can ask for seconds of work, so size says nothing of the cost."""
    if output_format not in _decoders or not reply.body or reply.status == 204:
        return decode(reply, output_format, name, schema)
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(DECODE_THREADS, thread_name_prefix="naftiko-decode")
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_pool, decode, reply, output_format, name, schema)


def _xml(body: bytes, schema: str | None, budget: Budget) -> Any:
    from naftiko_runtime.engine.formats.xml import decode_xml

    return decode_xml(body, budget)


def _yaml(body: bytes, schema: str | None, budget: Budget) -> Any:
    from naftiko_runtime.engine.formats.yaml_safe import load_first

    # the first document, as the reference
    return load_first(body.decode("utf-8", errors="replace"), budget)


def _delimited(fmt: str) -> Decoder:
    def decode(body: bytes, schema: str | None, budget: Budget) -> Any:
        from naftiko_runtime.engine.formats.delimited import decode_delimited

        return decode_delimited(body, fmt, budget)

    return decode


def _html(body: bytes, schema: str | None, budget: Budget) -> Any:
    from naftiko_runtime.engine.formats.html import decode_html

    return decode_html(body, schema, budget)


def _markdown(body: bytes, schema: str | None, budget: Budget) -> Any:
    from naftiko_runtime.engine.formats.markdown import decode_markdown

    return decode_markdown(body, schema, budget)


def _avro(body: bytes, schema: str | None, budget: Budget) -> Any:
    from naftiko_runtime.engine.formats.avro import decode_avro

    return decode_avro(body, schema, budget)


def _protobuf(body: bytes, schema: str | None, budget: Budget) -> Any:
    from naftiko_runtime.engine.formats.protobuf import decode_protobuf

    return decode_protobuf(body, schema, budget)


_decoders: dict[str, Decoder] = {
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


def _bad(name: str, fmt: str, status: int, why: str = "") -> UpstreamBadResponseError:
    detail = f" ({why[:200]})" if why else ""
    return UpstreamBadResponseError(
        f"upstream answered {name} with a body that is not valid {fmt}{detail}",
        operation=name,
        upstream_status=status,
    )
