"""An HTTP request → the inputs of the operation its route calls: the path's parameters,
the query, headers, cookies and the body (JSON, a form or a multipart form) each read as
the reference reads them, by the names and locations the spec declares. What the client sent
wrong is an InvocationError (400); a body past `MAX_BODY` a PayloadTooLarge (413).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, unquote

from naftiko_runtime import jsoncodec
from naftiko_runtime.adapters.asgi import Receive, Scope
from naftiko_runtime.adapters.errors import PayloadTooLarge
from naftiko_runtime.engine.uploads import Upload
from naftiko_runtime.errors import InvocationError
from naftiko_runtime.model import Input
from naftiko_runtime.text.jsonpath import compile_path, simple_steps
from naftiko_runtime.text.placeholders import norm

MAX_BODY = 10 * 1024 * 1024  # bytes of a client's body read (and forwarded) at most
MAX_FORM_FIELDS = 1000  # fields of a form body; past it, a 400 before any is parsed


class InputReader:
    """Reads one route's inputs, its declared names looked up once, at build."""

    def __init__(self, inputs: Sequence[Input]) -> None:
        by_location: dict[str, list[str]] = {}
        self.fixed: dict[str, str] = {}
        self.body: list[tuple[str, Any, str | None]] = []
        for item in inputs:
            if item.value is not None and not item.value.startswith("$"):
                self.fixed[item.name] = item.value  # a fixed value, whatever `in` says
                continue
            by_location.setdefault(item.location, []).append(item.name)
            if item.location == "body":
                path = compile_path(item.value) if item.value is not None else None
                self.body.append((item.name, path, member_of(item.value)))
        self.query = {norm(n): n for n in by_location.get("query", [])}
        self.headers = {n.lower().encode("latin-1"): n for n in by_location.get("header", [])}
        self.cookies = set(by_location.get("cookie", []))

    async def read(self, scope: Scope, receive: Receive, params: dict[str, str]) -> dict[str, Any]:
        """The inputs of one request whose path gave `params`."""
        inputs: dict[str, Any] = {**self.fixed, **params} if self.fixed else dict(params)
        raw_query = scope["query_string"]
        if self.query and raw_query:
            for key, value in query_pairs(raw_query):
                name = self.query.get(norm(key))
                if name is not None:
                    gather(inputs, name, value)
        if self.headers or self.cookies:
            self._header_inputs(scope, inputs)
        if self.body:
            kind = next((v for k, v in scope["headers"] if k == b"content-type"), b"")
            inputs.update(await _body_inputs(receive, self.body, kind))
        return inputs

    def _header_inputs(self, scope: Scope, inputs: dict[str, Any]) -> None:
        for key, value in scope["headers"]:
            name = self.headers.get(key)
            if name is not None:
                inputs[name] = value.decode("latin-1")
            elif key == b"cookie" and self.cookies:
                for part in value.decode("latin-1").split(";"):
                    cookie, _, cookie_value = part.strip().partition("=")
                    if cookie in self.cookies:
                        inputs[cookie] = unquote(cookie_value)


def query_pairs(raw: bytes) -> list[tuple[str, str]]:
    """Query pairs as UTF-8 text; bytes that are not UTF-8 are the client's error (400), never
    silently replaced with U+FFFD on their way upstream."""
    try:
        return parse_qsl(raw.decode("utf-8"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise InvocationError(
            "the query string is not valid UTF-8", [{"name": "query", "problem": "not UTF-8"}]
        ) from None


async def _body_inputs(
    receive: Receive, inputs: list[tuple[str, Any, str | None]], content_type: bytes = b""
) -> dict[str, Any]:
    """Body inputs as the reference reads them: a `$.path` into the JSON body, else the
    field of the input's name, else (one body input) the whole body. A form body (what the
    SDKs of form APIs such as Twilio's send) is read as the object of its fields, a key
    given more than once as a list."""
    chunks = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise PayloadTooLarge(f"request body is larger than {MAX_BODY} bytes")
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    raw = b"".join(chunks)
    if not raw:
        return {}
    payload: Any
    media = content_type.split(b";", 1)[0].strip().lower()
    if media in (b"application/x-www-form-urlencoded", b"multipart/form-data"):
        read = _form_fields if media != b"multipart/form-data" else _multipart_fields
        # a form of thousands of tiny fields costs seconds of CPU: never on the event loop
        if len(raw) > 64 * 1024:
            payload = await asyncio.to_thread(read, content_type, raw)
        else:
            payload = read(content_type, raw)
    else:
        try:
            payload = jsoncodec.loads(raw)
        except (ValueError, RecursionError):
            raise InvocationError(
                "request body is not valid JSON", [{"name": "body", "problem": "not JSON"}]
            ) from None
    values: dict[str, Any] = {}
    for name, extract, member in inputs:
        if extract is not None:
            value = extract(payload)
            if value is None and isinstance(payload, dict) and member in payload:
                values[name] = None  # the client sent `null`: it goes up as null
                continue
        elif isinstance(payload, dict) and name in payload:
            value = payload[name]
        elif len(inputs) == 1:
            value = payload
        else:
            if not isinstance(payload, dict):
                raise InvocationError(
                    "request body must be a JSON object",
                    [{"name": "body", "problem": "not an object"}],
                )
            continue
        if value is not None:
            values[name] = value
    return values


def member_of(value: str | None) -> str | None:
    """The one body member a `$.name` (or `$['a.b']`) input reads, else None."""
    steps = simple_steps(value) if value is not None else None
    return steps[0] if steps and len(steps) == 1 and isinstance(steps[0], str) else None


def _multipart_fields(content_type: bytes, raw: bytes) -> dict[str, Any]:
    """A multipart form's fields (the standard library's MIME parser): text as text, a
    part with a filename as an Upload (bytes, name and type, sent up as they came)."""
    import email.parser
    import email.policy

    if raw.count(b"\n--") > MAX_FORM_FIELDS:  # every part starts on a line of its own
        raise _too_many_fields()
    head = b"Content-Type: " + content_type + b"\r\nMIME-Version: 1.0\r\n\r\n"
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
    if not message.is_multipart():
        raise InvocationError(
            "request body is not a multipart form", [{"name": "body", "problem": "not multipart"}]
        )
    try:
        return _parts(message)
    except (LookupError, ValueError, UnicodeError):  # an unknown charset, a bad header
        raise InvocationError(
            "request body has a part that cannot be read",
            [{"name": "body", "problem": "unreadable part"}],
        ) from None


def _too_many_fields() -> InvocationError:
    return InvocationError(
        f"request body has more than {MAX_FORM_FIELDS} fields",
        [{"name": "body", "problem": "too many fields"}],
    )


def _parts(message: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        content = part.get_payload(decode=True)
        data = content if isinstance(content, bytes) else b""
        filename = part.get_filename()
        value: Any
        if filename is not None:
            value = Upload(filename, part.get_content_type(), data)
        else:
            charset = part.get_content_charset() or "utf-8"
            value = data.decode(charset, "replace")
        gather(fields, name, value)
    return fields


def _form_fields(content_type: bytes, raw: bytes) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvocationError(
            "request body is not UTF-8", [{"name": "body", "problem": "not UTF-8"}]
        ) from None
    try:
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:
        raise _too_many_fields() from None
    fields: dict[str, Any] = {}
    for key, value in pairs:
        gather(fields, key, value)
    return fields


def gather(values: dict[str, Any], key: str, value: Any) -> None:
    """`value` under `key`; a key given more than once becomes the list of its values (a
    repeated query key, form field or multipart part)."""
    previous = values.get(key)
    if previous is None:
        values[key] = value
    elif isinstance(previous, list):
        previous.append(value)
    else:
        values[key] = [previous, value]
