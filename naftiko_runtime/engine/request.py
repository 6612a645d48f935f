"""One consumed operation compiled into a request builder.

Everything fixed is decided here once: the URL split into literal and parameter parts, auth
headers rendered, body templates compiled for their content type. Per request only the
arguments are read from the scope, coerced and encoded.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from naftiko_runtime import jsoncodec
from naftiko_runtime.engine.coercion import BadValue, for_input, invalid
from naftiko_runtime.engine.credentials import OutboundAuth
from naftiko_runtime.engine.formats import load_schema
from naftiko_runtime.engine.uploads import Upload
from naftiko_runtime.engine.values import Value, compile_value
from naftiko_runtime.errors import InvocationError, StartupError
from naftiko_runtime.model import Argument, ConsumedOperation, Param
from naftiko_runtime.text.placeholders import Slot, norm, parameters, split
from naftiko_runtime.text.templating import Template
from naftiko_runtime.text.values import lookup_either, to_text
from naftiko_runtime.upstream.base import Upstream, UpstreamReply, UpstreamRequest

_CONTENT_TYPES = {
    "json": "application/json",
    "text": "text/plain; charset=utf-8",
    "xml": "application/xml",
    "sparql": "application/sparql-query",
    "formUrlEncoded": "application/x-www-form-urlencoded",
    "multipartForm": "multipart/form-data",
    "raw": "text/plain; charset=utf-8",
}
_HEADER_SAFE_VALUE = re.compile(r"[\x00-\x1f\x7f]")  # what a part header may not hold
_HEADER_SAFE = re.compile(r"^[^\x00-\x08\x0a-\x1f\x7f]*$")


class _Parts:
    """What one request's parameters are encoded into, before the URL and body are built."""

    __slots__ = ("path", "query", "headers", "cookies", "body")

    def __init__(self, auth: OutboundAuth) -> None:
        self.path: dict[str, str] = {}
        self.query = list(auth.query)
        self.headers = list(auth.headers)
        self.cookies: list[str] = []
        self.body: dict[str, Any] = {}


@dataclass(frozen=True, slots=True)
class _ParamSpec:
    name: str
    key: str
    location: str
    coerce: Any
    required: bool
    fixed: Template | None
    encode: Callable[[_Parts, _ParamSpec, Any], None]  # by location, chosen at compile time


def _to_path(parts: _Parts, spec: _ParamSpec, value: Any) -> None:
    parts.path[spec.key] = segment(value)


def _to_query(parts: _Parts, spec: _ParamSpec, value: Any) -> None:
    if isinstance(value, list):  # a list is its key repeated, as query strings carry arrays
        parts.query.extend((spec.name, to_text(v)) for v in value)
    else:
        parts.query.append((spec.name, to_text(value)))


def _to_header(parts: _Parts, spec: _ParamSpec, value: Any) -> None:
    text = to_text(value)
    if not _HEADER_SAFE.match(text):
        raise BadValue("control character in value")
    parts.headers.append((spec.name, text))


def _to_cookie(parts: _Parts, spec: _ParamSpec, value: Any) -> None:
    parts.cookies.append(f"{spec.name}={quote(to_text(value), safe='')}")


def _to_body(parts: _Parts, spec: _ParamSpec, value: Any) -> None:
    parts.body[spec.name] = value


def _not_sent(parts: _Parts, spec: _ParamSpec, value: Any) -> None:
    """`in: environment`: a value the runtime reads, never one it sends upstream."""


_ENCODERS: dict[str, Callable[[_Parts, _ParamSpec, Any], None]] = {
    "path": _to_path,
    "query": _to_query,
    "header": _to_header,
    "cookie": _to_cookie,
    "body": _to_body,
    "environment": _not_sent,
}


def segment(value: Any) -> str:
    """One percent-encoded path segment. `.` and `..` are refused: URL parsers (WHATWG,
    yarl) collapse them even when encoded, which would change the upstream path; so are they
    between slashes (`../admin`), since an upstream that decodes `%2F` would climb too."""
    raw = to_text(value)
    if "." in raw and any(part in (".", "..") for part in raw.split("/")):
        raise BadValue("a path value cannot be '.' or '..', nor hold them between slashes")
    return quote(raw, safe="")


def split_path(path: str) -> tuple[str | tuple[str], ...]:
    """`/ships/{{imo}}` → literal parts and (normalised parameter name,) parts."""
    return tuple((norm(p.name),) if isinstance(p, Slot) else p for p in split(path))


def join_base(base: str, path: str) -> tuple[str, str]:
    base = base.rstrip("/")
    if path and not path.startswith("/"):
        path = "/" + path
    return base, path


def body_context(body_type: str, data: Any) -> str:
    """How values are encoded inside a body template of this kind."""
    if body_type == "json":
        return "json"
    if body_type == "xml":
        return "xml"
    if body_type == "formUrlEncoded" and isinstance(data, str):
        return "form"  # `a={{x}}&b={{y}}`: each value percent-encoded
    if body_type == "raw" and isinstance(data, str) and data.lstrip()[:1] in ("{", "["):
        return "json"  # a JSON document written as text: values must not break it
    return "text"


def _compile_data(node: Any, context: str) -> Any:
    if isinstance(node, str):
        return Template(node, "text" if context == "json" else context)
    if isinstance(node, dict):
        return {key: _compile_data(value, context) for key, value in node.items()}
    if isinstance(node, list):
        return [_compile_data(value, context) for value in node]
    return node


def _render_data(node: Any, scope: Mapping[str, Any]) -> Any:
    """Render templates inside structured body data; a lone `{{x}}` keeps x's JSON type.
    A member (or a form part's `value`) that is a lone `{{x}}` without a value is left out,
    not sent as `null`: a PATCH with a field the caller never gave must not clear it
    (the reference sends an empty string there)."""
    if isinstance(node, Template):
        single = node.single_variable
        if single is not None:
            return lookup_either(scope, single)
        return node.render(scope)
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            rendered = _render_data(value, scope)
            if rendered is None and _lone(value) and not _given(scope, value.single_variable):
                continue  # never given: left out; given as null: sent as null
            out[key] = rendered
        return out
    if isinstance(node, list):
        items = []
        for value in node:
            rendered = _render_data(value, scope)
            if _part_without_value(value, rendered):
                continue
            items.append(rendered)
        return items
    return node


def _given(scope: Mapping[str, Any], name: str | None) -> bool:
    """Whether a value was given for `name`, even `null` (a plain name: a dotted one reads
    into something, and is only ever absent)."""
    return name is not None and (name in scope or norm(name) in scope)


def _lone(node: Any) -> bool:
    return isinstance(node, Template) and node.single_variable is not None


def _part_without_value(source: Any, rendered: Any) -> bool:
    """A form part (`name` and a lone `{{x}}` value) whose x has no value: left out."""
    return (
        isinstance(source, dict)
        and "name" in source
        and _lone(source.get("value"))
        and "value" not in rendered
    )


class HttpCall:
    """`call.request(args, scope)` builds the upstream request for one consumed operation.

    `args` are the values by normalised consumed-parameter name (exposed inputs, overlaid
    by `with`); `scope` is what templates read (binds, inputs, earlier steps).
    """

    __slots__ = (
        "operation",
        "upstream",
        "base_url",
        "name",
        "_params",
        "_path_parts",
        "_auth",
        "_body_template",
        "_body_kind",
        "_body_text",
        "_content_type",
        "_single_body",
        "_needs_scope",
        "_binary",
    )

    def __init__(
        self,
        operation: ConsumedOperation,
        upstream: Upstream,
        base_url: str,
        auth: OutboundAuth,
    ) -> None:
        self.operation = operation
        self.upstream = upstream
        self.name = operation.target
        base, path = join_base(base_url, operation.path)
        if parameters(base):
            raise StartupError(
                f"{operation.target}: base URI {base!r} has placeholders nothing fills; "
                f"serve with --upstream {operation.namespace}=URL"
            )
        self.base_url = base
        self._path_parts = split_path(path)
        self._auth = auth
        params = []
        needs_scope = False
        for param in operation.params:
            fixed = Template(param.value) if param.value is not None else None
            if fixed is not None and fixed.variables:
                needs_scope = True
            params.append(_param_spec(param, fixed))
        self._params = tuple(params)
        self._single_body = sum(p.location == "body" for p in params) == 1
        self._body_template: Any = None
        self._body_text: Template | None = None
        self._body_kind: str | None = None
        self._content_type = "application/json"
        body = operation.body
        if body is not None:
            needs_scope = True
            self._body_kind = body.type
            context = body_context(body.type, body.data)
            self._content_type = _CONTENT_TYPES.get(body.type, "application/json")
            if isinstance(body.data, str):
                self._body_text = Template(body.data, context)
                if context == "json":
                    self._content_type = "application/json"
            else:
                self._body_template = _compile_data(body.data, context)
        self._needs_scope = needs_scope
        self._binary = operation.output_format == "binary"  # streamed through, never decoded
        _preload_schema(operation)

    @property
    def needs_scope(self) -> bool:
        return self._needs_scope

    def request(self, args: Mapping[str, Any], scope: Mapping[str, Any] | None) -> UpstreamRequest:
        parts = _Parts(self._auth)
        problems: list[dict[str, str]] = []
        for spec in self._params:
            if spec.fixed is not None:
                value: Any = spec.fixed.render(scope if scope is not None else args)
            else:
                value = args.get(spec.key)
            if value is None:
                if spec.required:
                    problems.append({"name": spec.name, "problem": "required"})
                continue
            try:
                spec.encode(parts, spec, spec.coerce(value))
            except BadValue as exc:
                problems.append({"name": spec.name, "problem": str(exc)})
        path_values, query, headers = parts.path, parts.query, parts.headers
        reported = {norm(p["name"]) for p in problems}
        for part in self._path_parts:
            if isinstance(part, tuple) and part[0] not in path_values and part[0] not in reported:
                if args.get(part[0]) is not None:
                    try:
                        path_values[part[0]] = segment(args[part[0]])
                    except BadValue as exc:
                        problems.append({"name": part[0], "problem": str(exc)})
                else:
                    problems.append({"name": part[0], "problem": "required"})
        if problems:
            raise invalid(problems)
        url = self.base_url + "".join(
            p if isinstance(p, str) else path_values[p[0]] for p in self._path_parts
        )
        if query:
            url += ("&" if "?" in url else "?") + "&".join(
                f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query
            )
        if parts.cookies:
            headers.append(("Cookie", "; ".join(parts.cookies)))
        body, content_type = self._body(parts.body, args, scope)
        if body is not None:
            headers.append(("Content-Type", content_type))
        return UpstreamRequest(
            self.operation.method,
            url,
            headers,
            body,
            self.name,
            digest=self._auth.digest,
            stream_reply=self._binary,
        )

    def _body(
        self, body_values: dict[str, Any], args: Mapping[str, Any], scope: Mapping[str, Any] | None
    ) -> tuple[bytes | None, str]:
        """The body and its content type (a multipart boundary is this request's own)."""
        kind = self._content_type
        if self._body_text is not None or self._body_template is not None:
            render_scope = {**(scope or {}), **args}
            if self._body_text is not None:
                return self._body_text.render(render_scope).encode(), kind
            data = _render_data(self._body_template, render_scope)
            if self._body_kind == "multipartForm" and isinstance(data, list):
                boundary, encoded = multipart(data)
                return encoded, f"multipart/form-data; boundary={boundary}"
            if self._body_kind == "formUrlEncoded" and isinstance(data, dict):
                return "&".join(  # a list is its key repeated, as form APIs read arrays
                    f"{quote(k, safe='')}={quote(to_text(item), safe='')}"
                    for k, v in data.items()
                    for item in (v if isinstance(v, list) else [v])
                ).encode(), kind
            if isinstance(data, str) and self._body_kind != "json":
                return data.encode(), kind
            return _dumps(data), kind
        if not body_values:
            return None, kind
        if self._single_body:
            return _dumps(next(iter(body_values.values()))), kind
        return _dumps(body_values), kind

    async def send(self, request: UpstreamRequest) -> UpstreamReply:
        return await self.upstream.send(request)


def _preload_schema(operation: ConsumedOperation) -> None:
    """Read an avro/protobuf schema at start-up: a missing or broken one stops `serve`."""
    fmt, schema = operation.output_format, operation.output_schema
    if fmt not in ("avro", "protobuf") or not schema:
        return
    try:
        load_schema(fmt, schema)
    except ValueError as exc:
        where = operation.where
        raise StartupError(f"{where.file}:{where.line}:{where.column}: {exc}") from None


def multipart(parts: list[Any]) -> tuple[str, bytes]:
    """(boundary, `multipart/form-data` body) from the spec's parts: fields as text; a part
    with `filename` is a file, its value base64-decoded when its content type is not text
    and the value is valid base64 (else sent as written). Part headers cannot be injected."""
    import base64
    import binascii
    import secrets

    boundary = "naftiko-" + secrets.token_hex(12)
    out = bytearray()
    for part in parts:
        if not isinstance(part, dict):
            continue
        name = _quoted(to_text(part.get("name")))
        raw = part.get("value")
        out += f"--{boundary}\r\n".encode()
        filename = part.get("filename")
        kind = _HEADER_SAFE_VALUE.sub(" ", to_text(part.get("contentType")))
        if isinstance(raw, Upload):  # a client's file: its own name, type and bytes
            given = _HEADER_SAFE_VALUE.sub(" ", raw.content_type) or kind
            out += (
                f'Content-Disposition: form-data; name="{name}"; '
                f'filename="{_quoted(raw.filename or to_text(filename) or name)}"\r\n'
                f"Content-Type: {given or 'application/octet-stream'}\r\n\r\n"
            ).encode()
            out += raw.content + b"\r\n"
            continue
        value = to_text(raw)
        if filename:
            content: bytes = value.encode()
            kind = kind or "application/octet-stream"
            textual = kind.startswith("text/") or "json" in kind or "xml" in kind
            try:
                if value and len(value) % 4 == 0 and not textual:
                    content = base64.b64decode(value, validate=True)
            except binascii.Error:
                pass
            out += (
                f'Content-Disposition: form-data; name="{name}"; '
                f'filename="{_quoted(to_text(filename))}"\r\nContent-Type: {kind}\r\n\r\n'
            ).encode()
            out += content
        else:
            out += f'Content-Disposition: form-data; name="{name}"\r\n'.encode()
            if kind:
                out += f"Content-Type: {kind}\r\n".encode()
            out += b"\r\n" + value.encode()
        out += b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return boundary, bytes(out)


def _quoted(text: str) -> str:
    """A value inside a quoted header parameter: no quote, CR or LF can break out."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", " ").replace("\n", " ")


def _dumps(data: Any) -> bytes:
    try:
        return jsoncodec.dumps(data)
    except (ValueError, RecursionError):
        raise InvocationError(
            "request body cannot be encoded", [{"name": "body", "problem": "too deep"}]
        ) from None
    except TypeError:  # an uploaded file where the upstream takes JSON
        raise InvocationError(
            "a file can only be sent in a multipart form; this operation sends JSON",
            [{"name": "body", "problem": "a file where JSON is sent"}],
        ) from None


def _param_spec(param: Param, fixed: Template | None) -> _ParamSpec:
    required = param.required or param.location == "path"
    return _ParamSpec(
        param.name,
        norm(param.name),
        param.location,
        for_input(param.type),
        required and fixed is None,
        fixed,
        _ENCODERS.get(param.location, _not_sent),
    )


@dataclass(frozen=True, slots=True)
class CompiledArgs:
    """The `with` block of a call compiled: consumed parameter (normalised) → value."""

    values: tuple[tuple[str, Value], ...]
    needs_scope: bool

    def resolve(self, base: Mapping[str, Any], scope: Mapping[str, Any] | None) -> dict[str, Any]:
        """`base` (the exposed inputs by normalised name) overlaid by the `with` values."""
        args = dict(base)
        for key, value in self.values:
            resolved = value(base, scope)
            if resolved is None:
                args.pop(key, None)
            else:
                args[key] = resolved
        return args


def compile_args(arguments: tuple[Argument, ...]) -> CompiledArgs:
    values = []
    needs_scope = False
    for argument in arguments:
        value, scoped = compile_value(argument)
        needs_scope = needs_scope or scoped
        values.append((norm(argument.key), value))
    return CompiledArgs(tuple(values), needs_scope)
