"""Upstream replies → a JSON document, or the error the adapters map once.

`decode` turns any declared `outputRawFormat` into JSON so mappings read one shape; a 4xx
keeps its body (passed through to REST clients, redacted), a 5xx does not.
"""

from __future__ import annotations

from typing import Any

import orjson

from naftiko_runtime.errors import UpstreamError
from naftiko_runtime.upstream import UpstreamReply

MAX_ERROR_BODY = 64 * 1024


def status_error(reply: UpstreamReply, name: str) -> UpstreamError:
    if reply.status < 500:
        return UpstreamError(
            "status",
            f"upstream answered {name} with HTTP {reply.status}",
            operation=name,
            upstream_status=reply.status,
            body=reply.body[:MAX_ERROR_BODY],
            content_type=reply.content_type,
        )
    return UpstreamError(
        "status",
        f"upstream failed on {name} with HTTP {reply.status}",
        operation=name,
        upstream_status=reply.status,
    )


def parse_json(body: bytes, name: str, status: int) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:  # integers beyond 64 bits stay exact through the standard parser
        import json

        return json.loads(body)
    except (ValueError, RecursionError):
        raise UpstreamError(
            "bad_response",
            f"upstream answered {name} with a body that is not JSON",
            operation=name,
            upstream_status=status,
        ) from None


def decode(reply: UpstreamReply, output_format: str, name: str) -> Any:
    """The reply body as a JSON value, read in its declared format."""
    if not reply.body or reply.status == 204:
        return None
    if output_format == "json":
        return parse_json(reply.body, name, reply.status)
    if output_format == "xml":
        from naftiko_runtime.engine.formats.xml import XmlError, decode_xml

        try:
            return decode_xml(reply.body)
        except XmlError:
            raise _bad(name, "xml", reply.status) from None
    text = reply.body.decode("utf-8", errors="replace")
    if output_format == "yaml":
        import yaml

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError:
            raise _bad(name, "yaml", reply.status) from None
    if output_format in ("csv", "tsv", "psv"):
        import csv
        import io

        delimiter = {"csv": ",", "tsv": "\t", "psv": "|"}[output_format]
        return list(csv.DictReader(io.StringIO(text), delimiter=delimiter))
    return text


def _bad(name: str, fmt: str, status: int) -> UpstreamError:
    return UpstreamError(
        "bad_response",
        f"upstream answered {name} with a body that is not valid {fmt}",
        operation=name,
        upstream_status=status,
    )
