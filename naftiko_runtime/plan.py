"""One compiled callable per exposed operation or tool; REST and MCP call the same object.

Everything that can be decided at start-up is decided here: templates compiled, JSONPaths
compiled, auth headers rendered, the URL split into literal and parameter parts. A request
only coerces its inputs, fills the URL and sends.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

import orjson

from naftiko_runtime.errors import InvocationError, StartupError, UpstreamError
from naftiko_runtime.mapping import Shaper, compile_result
from naftiko_runtime.spec.index import PATH_VARIABLE, norm
from naftiko_runtime.spec.model import (
    ConsumedOperation,
    Input,
    Invocation,
    Param,
    StaticInvocation,
)
from naftiko_runtime.templating import Template, lookup
from naftiko_runtime.upstream import Upstream, UpstreamReply, UpstreamRequest

_JSON_TYPES = ("json",)
_MAX_ERROR_BODY = 64 * 1024


@dataclass(slots=True)
class CallResult:
    """What an operation produced: raw JSON bytes, shaped data, or a stream."""

    status: int
    content_type: str
    raw: bytes | None = None
    shaped: Any = None
    stream: AsyncIterator[bytes] | None = None

    @property
    def data(self) -> Any:
        """The result as a JSON value (parses raw bytes when the body was passed through)."""
        if self.raw is not None:
            return orjson.loads(self.raw) if self.raw else None
        return self.shaped

    def body(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return orjson.dumps(self.shaped)


# ------------------------------------------------------------------ input coercion
class _Bad(ValueError):
    pass


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise _Bad("expected a boolean (true or false)")


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise _Bad("expected an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    try:
        return int(str(value).strip())
    except ValueError:
        raise _Bad("expected an integer") from None


def _to_number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise _Bad("expected a number")
    if isinstance(value, int | float):
        return value
    try:
        number = float(str(value).strip())
    except ValueError:
        raise _Bad("expected a number") from None
    return int(number) if number.is_integer() and "." not in str(value) else number


def _to_array(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, str) and value.startswith("["):
        try:
            parsed = json.loads(value)
        except ValueError:
            raise _Bad("expected an array") from None
        if isinstance(parsed, list):
            return parsed
    return [value]


def _to_object(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            raise _Bad("expected a JSON object") from None
        if isinstance(parsed, dict):
            return parsed
    raise _Bad("expected a JSON object")


def _to_string(value: Any) -> Any:
    if isinstance(value, list):
        return value  # repeated query keys stay a list
    if isinstance(value, dict):
        raise _Bad("expected a string")
    return value if isinstance(value, str) else _text(value)


COERCE: dict[str | None, Callable[[Any], Any]] = {
    "boolean": _to_bool,
    "integer": _to_int,
    "number": _to_number,
    "array": _to_array,
    "object": _to_object,
    "string": _to_string,
    None: lambda value: value,
}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


# ------------------------------------------------------------------ compiled pieces
@dataclass(frozen=True, slots=True)
class _InputSpec:
    name: str
    key: str  # normalised
    coerce: Callable[[Any], Any]
    required: bool
    type: str | None


@dataclass(frozen=True, slots=True)
class _ArgSpec:
    key: str  # normalised consumed parameter name
    reference: str | None
    template: Template | None
    literal: Any


@dataclass(frozen=True, slots=True)
class _ParamSpec:
    name: str
    key: str
    location: str
    coerce: Callable[[Any], Any]
    required: bool
    fixed: Template | None


def coerce_inputs(specs: tuple[_InputSpec, ...], inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Inputs by normalised name, coerced to their declared types; every problem at once."""
    values: dict[str, Any] = {}
    problems: list[dict[str, str]] = []
    for spec in specs:
        raw = inputs.get(spec.name)
        if raw is None and spec.key != spec.name:
            raw = inputs.get(spec.key)
        if raw is None:
            if spec.required:
                problems.append({"name": spec.name, "problem": "required"})
            continue
        try:
            values[spec.key] = spec.coerce(raw)
        except _Bad as exc:
            problems.append({"name": spec.name, "problem": str(exc)})
    if problems:
        raise _invalid(problems)
    return values


@dataclass
class CompiledOperation:
    """`await op(inputs)` runs one exposed operation end to end."""

    operation: ConsumedOperation
    inputs: tuple[Input, ...]
    upstream: Upstream
    variables: Mapping[str, str]
    base_url: str
    _inputs: tuple[_InputSpec, ...] = ()
    _args: tuple[_ArgSpec, ...] = ()
    _params: tuple[_ParamSpec, ...] = ()
    _path_parts: tuple[str | tuple[str], ...] = ()
    _static_headers: tuple[tuple[str, str], ...] = ()
    _static_query: tuple[tuple[str, str], ...] = ()
    _digest: tuple[str, str] | None = None
    _body_template: Any = None
    _body_kind: str | None = None
    _shape: Shaper | None = None
    _needs_scope: bool = False
    _json_output: bool = True
    _aliases: tuple[str, ...] = ()
    _content_type: str = "application/json"
    _single_body: bool = False  # one `in: body` parameter: its value is the whole body

    @property
    def name(self) -> str:
        return self.operation.target

    async def __call__(self, inputs: Mapping[str, Any]) -> CallResult:
        values = self._coerce_inputs(inputs)
        request = self._build(values)
        reply = await self.upstream.send(request)
        return self._result(reply)

    # -- request
    def _coerce_inputs(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        return coerce_inputs(self._inputs, inputs)

    @property
    def description(self) -> str | None:
        return self.operation.description

    def _scope(self, values: dict[str, Any]) -> dict[str, Any]:
        """Bound variables plus the inputs, under their spelled and normalised names
        (`{{job-id}}` and `job_id` are the same parameter)."""
        scope: dict[str, Any] = dict(self.variables)
        named = {**values, **{s.name: values[s.key] for s in self._inputs if s.key in values}}
        scope.update(named)
        for alias in self._aliases:
            scope[alias] = named
        return scope

    def _arguments(self, values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
        scope = self._scope(values) if self._needs_scope else None
        args: dict[str, Any] = {}
        for spec in self._args:
            if spec.reference is not None:
                value = values.get(spec.reference)
            elif spec.template is not None:
                assert scope is not None
                single = spec.template.single_variable
                value = lookup(scope, single) if single else spec.template.render(scope)
                if value == "":
                    value = None
            else:
                value = spec.literal
            if value is not None:
                args[spec.key] = value
        return args, scope

    def _build(self, values: dict[str, Any]) -> UpstreamRequest:
        args, scope = self._arguments(values)
        path_values: dict[str, str] = {}
        query = list(self._static_query)
        headers = list(self._static_headers)
        cookies: list[str] = []
        body_values: dict[str, Any] = {}
        problems: list[dict[str, str]] = []
        for spec in self._params:
            if spec.fixed is not None:
                value: Any = spec.fixed.render(scope if scope is not None else self._scope(args))
            else:
                value = args.get(spec.key)
            if value is None:
                if spec.required:
                    problems.append({"name": spec.name, "problem": "required"})
                continue
            try:
                value = spec.coerce(value)
            except _Bad as exc:
                problems.append({"name": spec.name, "problem": str(exc)})
                continue
            location = spec.location
            if location == "path":
                try:
                    path_values[spec.key] = _segment(value)
                except _Bad as exc:
                    problems.append({"name": spec.name, "problem": str(exc)})
            elif location == "query":
                if isinstance(value, list):
                    query.extend((spec.name, _text(v)) for v in value)
                else:
                    query.append((spec.name, _text(value)))
            elif location == "header":
                headers.append((spec.name, _text(value)))
            elif location == "cookie":
                cookies.append(f"{spec.name}={quote(_text(value), safe='')}")
            elif location == "body":
                body_values[spec.name] = value
        reported = {norm(p["name"]) for p in problems}
        for part in self._path_parts:
            if isinstance(part, tuple) and part[0] not in path_values and part[0] not in reported:
                if part[0] in args:
                    try:
                        path_values[part[0]] = _segment(args[part[0]])
                    except _Bad as exc:
                        problems.append({"name": part[0], "problem": str(exc)})
                else:
                    problems.append({"name": part[0], "problem": "required"})
        if problems:
            raise _invalid(problems)
        url = self.base_url + "".join(
            p if isinstance(p, str) else path_values[p[0]] for p in self._path_parts
        )
        if query:
            url += ("&" if "?" in url else "?") + "&".join(
                f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query
            )
        if cookies:
            headers.append(("Cookie", "; ".join(cookies)))
        body = self._body(body_values, args, scope)
        if body is not None:
            headers.append(("Content-Type", self._content_type))
        return UpstreamRequest(
            self.operation.method, url, headers, body, self.name, digest=self._digest
        )

    def _body(
        self, body_values: dict[str, Any], args: dict[str, Any], scope: dict[str, Any] | None
    ) -> bytes | None:
        if self._body_template is not None:
            render_scope = scope if scope is not None else self._scope(args)
            render_scope = {**render_scope, **args}
            data = _render_data(self._body_template, render_scope)
            if self._body_kind == "formUrlEncoded" and isinstance(data, dict):
                return "&".join(
                    f"{quote(k, safe='')}={quote(_text(v), safe='')}" for k, v in data.items()
                ).encode()
            if isinstance(data, str) and self._body_kind != "json":
                return data.encode()
            return orjson.dumps(data)
        if not body_values:
            return None
        if self._single_body:
            return orjson.dumps(next(iter(body_values.values())))
        return orjson.dumps(body_values)

    # -- response
    def _result(self, reply: UpstreamReply) -> CallResult:
        if reply.stream is not None:
            return CallResult(reply.status, reply.content_type, stream=reply.stream)
        if reply.status >= 400:
            raise _status_error(reply, self.name)
        if not reply.body or reply.status == 204:
            return CallResult(reply.status, reply.content_type, shaped=None, raw=b"")
        if not self._json_output:
            return CallResult(
                reply.status,
                reply.content_type,
                shaped=_decode(reply, self.operation.output_format, self._shape),
            )
        try:
            document = orjson.loads(reply.body)
        except orjson.JSONDecodeError:
            raise UpstreamError(
                "bad_response",
                f"upstream answered {self.name} with a body that is not JSON",
                operation=self.name,
                upstream_status=reply.status,
            ) from None
        if self._shape is None:
            return CallResult(reply.status, "application/json", raw=reply.body)
        return CallResult(reply.status, "application/json", shaped=self._shape(document))


def _segment(value: Any) -> str:
    """One percent-encoded path segment. `.` and `..` are refused: URL parsers (WHATWG,
    yarl) collapse them even when encoded, which would change the upstream path."""
    text = quote(_text(value), safe="")
    if text in (".", ".."):
        raise _Bad("a path value cannot be '.' or '..'")
    return text


def _render_data(node: Any, scope: Mapping[str, Any]) -> Any:
    """Render templates inside a JSON body; a lone `{{x}}` keeps x's JSON type."""
    if isinstance(node, Template):
        single = node.single_variable
        if single is not None:
            return lookup(scope, single)
        return node.render(scope)
    if isinstance(node, dict):
        return {key: _render_data(value, scope) for key, value in node.items()}
    if isinstance(node, list):
        return [_render_data(value, scope) for value in node]
    return node


def _compile_data(node: Any) -> Any:
    if isinstance(node, str):
        return Template(node)
    if isinstance(node, dict):
        return {key: _compile_data(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_compile_data(value) for value in node]
    return node


def _status_error(reply: UpstreamReply, name: str) -> UpstreamError:
    if reply.status < 500:
        return UpstreamError(
            "status",
            f"upstream answered {name} with HTTP {reply.status}",
            operation=name,
            upstream_status=reply.status,
            body=reply.body[:_MAX_ERROR_BODY],
            content_type=reply.content_type,
        )
    return UpstreamError(
        "status",
        f"upstream failed on {name} with HTTP {reply.status}",
        operation=name,
        upstream_status=reply.status,
    )


def _decode(reply: UpstreamReply, output_format: str, shape: Shaper | None) -> Any:
    text = reply.body.decode("utf-8", errors="replace")
    data: Any = text
    fmt = output_format
    if fmt == "yaml":
        import yaml

        data = yaml.safe_load(text)
    elif fmt in ("csv", "tsv", "psv"):
        import csv
        import io

        delimiter = {"csv": ",", "tsv": "\t", "psv": "|"}[fmt]
        data = list(csv.DictReader(io.StringIO(text), delimiter=delimiter))
    return shape(data) if shape is not None else data


# ------------------------------------------------------------------ compilation
_CONTENT_TYPES = {
    "text": "text/plain; charset=utf-8",
    "xml": "application/xml",
    "sparql": "application/sparql-query",
    "formUrlEncoded": "application/x-www-form-urlencoded",
    "raw": "text/plain; charset=utf-8",
}


def _invalid(problems: list[dict[str, str]]) -> InvocationError:
    names = ", ".join(f"{p['name']} ({p['problem']})" for p in problems)
    return InvocationError(f"invalid input: {names}", problems)


def _split_path(path: str) -> tuple[str | tuple[str], ...]:
    parts: list[str | tuple[str]] = []
    position = 0
    for match in PATH_VARIABLE.finditer(path):
        if match.start() > position:
            parts.append(path[position : match.start()])
        parts.append((norm(match.group(1) or match.group(2)),))
        position = match.end()
    if position < len(path):
        parts.append(path[position:])
    return tuple(parts)


def _join(base: str, path: str) -> tuple[str, str]:
    base = base.rstrip("/")
    if path and not path.startswith("/"):
        path = "/" + path
    return base, path


def compile_invocation(
    invocation: Invocation,
    upstream: Upstream,
    variables: Mapping[str, str],
    aliases: tuple[str, ...],
    base_uri: str | None = None,
) -> CompiledOperation:
    """Compile one exposed operation; `variables` are the resolved binds of its spec."""
    op = invocation.operation
    base_template = Template(base_uri or op.base_uri)  # `{{VAR}}` from binds, once
    base, path = _join(base_template.render(variables), op.path)
    if re.search(r"\{[^/]*\}", base):
        raise StartupError(
            f"{op.target}: base URI {base!r} has placeholders nothing fills; "
            f"serve with --upstream {op.namespace}=URL"
        )
    compiled = CompiledOperation(op, invocation.inputs, upstream, variables, base)
    compiled._aliases = aliases
    compiled._inputs = tuple(
        _InputSpec(i.name, norm(i.name), COERCE.get(i.type, COERCE[None]), i.required, i.type)
        for i in invocation.inputs
    )
    args = []
    needs_scope = False
    for argument in invocation.arguments:
        template = None
        if argument.template is not None:
            template = Template(argument.template)
            if template.constant is not None:
                args.append(_ArgSpec(norm(argument.key), None, None, template.constant))
                continue
            needs_scope = True
        reference = norm(argument.reference) if argument.reference is not None else None
        args.append(_ArgSpec(norm(argument.key), reference, template, argument.literal))
    compiled._args = tuple(args)
    params = []
    for param in op.params:
        fixed = Template(param.value) if param.value is not None else None
        if fixed is not None and fixed.variables:
            needs_scope = True
        params.append(_param_spec(param, fixed))
    compiled._params = tuple(params)
    compiled._single_body = sum(p.location == "body" for p in params) == 1
    compiled._needs_scope = needs_scope
    compiled._path_parts = _split_path(path)
    _compile_auth(compiled, op, variables)
    if op.body is not None:
        compiled._body_kind = op.body.type
        compiled._content_type = _CONTENT_TYPES.get(op.body.type, "application/json")
        compiled._body_template = _compile_data(op.body.data)
    compiled._json_output = op.output_format in _JSON_TYPES
    compiled._shape = compile_result(invocation.outputs, op.outputs)
    return compiled


def _param_spec(param: Param, fixed: Template | None) -> _ParamSpec:
    required = param.required or param.location == "path"
    return _ParamSpec(
        param.name,
        norm(param.name),
        param.location,
        COERCE.get(param.type, COERCE[None]),
        required and fixed is None,
        fixed,
    )


def _compile_auth(
    compiled: CompiledOperation, op: ConsumedOperation, variables: Mapping[str, str]
) -> None:
    auth = op.auth
    if auth is None:
        return

    def render(text: str | None) -> str:
        return Template(text).render(variables) if text else ""

    headers: list[tuple[str, str]] = []
    query: list[tuple[str, str]] = []
    if auth.type == "bearer":
        headers.append(("Authorization", f"Bearer {render(auth.token)}"))
    elif auth.type == "basic":
        pair = f"{render(auth.username)}:{render(auth.password)}".encode()
        headers.append(("Authorization", "Basic " + base64.b64encode(pair).decode()))
    elif auth.type == "apikey":
        key, value = render(auth.key) or "X-API-Key", render(auth.value)
        (query if auth.placement == "query" else headers).append((key, value))
    elif auth.type == "digest":
        compiled._digest = (render(auth.username), render(auth.password))
    compiled._static_headers = tuple(headers)
    compiled._static_query = tuple(query)


def secret_values(compiled: CompiledOperation) -> list[str]:
    """Everything derived from secrets that could end up in text: header values, keys."""
    values = [value for _, value in compiled._static_headers]
    values += [value for _, value in compiled._static_query]
    for _, value in compiled._static_headers:
        if value.startswith(("Bearer ", "Basic ")):
            values.append(value.split(" ", 1)[1])
    if compiled._digest:
        values.append(compiled._digest[1])
    return values


class Operation(Protocol):
    """What adapters call: an exposed operation or tool, however it produces its result."""

    inputs: tuple[Input, ...]

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str | None: ...

    async def __call__(self, inputs: Mapping[str, Any]) -> CallResult: ...


_STATIC_TYPES: dict[str, Callable[[Any], Any]] = {"number": _to_number, "boolean": _to_bool}


@dataclass
class StaticOperation:
    """Answers from the spec alone: mock outputs rendered from the caller's inputs."""

    inputs: tuple[Input, ...]
    label: str
    summary: str | None
    _inputs: tuple[_InputSpec, ...]
    _outputs: tuple[tuple[str, Template, Callable[[Any], Any] | None], ...]
    _shape: Shaper | None = None
    _mapped: bool = False

    @property
    def name(self) -> str:
        return self.label

    @property
    def description(self) -> str | None:
        return self.summary

    async def __call__(self, inputs: Mapping[str, Any]) -> CallResult:
        values = coerce_inputs(self._inputs, inputs)
        scope = {**values, **{s.name: values[s.key] for s in self._inputs if s.key in values}}
        if self._mapped:  # mapped outputs shape the operation's own inputs
            shaped = self._shape(scope) if self._shape is not None else scope
            return CallResult(200, "application/json", shaped=shaped)
        result: dict[str, Any] = {}
        for name, template, convert in self._outputs:
            text = template.render(scope)
            try:
                result[name] = convert(text) if convert is not None else text
            except _Bad:
                result[name] = text
        return CallResult(200, "application/json", shaped=result)


def compile_static(invocation: StaticInvocation, label: str) -> StaticOperation:
    """Compile a mock tool or operation (no upstream)."""
    specs = tuple(
        _InputSpec(i.name, norm(i.name), COERCE.get(i.type, COERCE[None]), i.required, i.type)
        for i in invocation.inputs
    )
    outputs = tuple(
        (o.name, Template(o.value), _STATIC_TYPES.get(o.type)) for o in invocation.outputs
    )
    return StaticOperation(
        invocation.inputs,
        label,
        invocation.description,
        specs,
        outputs,
        compile_result(invocation.mapped, []) if invocation.mapped else None,
        bool(invocation.mapped),
    )
