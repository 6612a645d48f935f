"""What `check --exercise` calls, and with what: each REST operation and MCP tool a compiled
capability exposes (found at its own node of the YAML), how to call it in this process, and
a value for each of its inputs, made from the upstream parameter it feeds (its example, else
its schema) and kept only where the upstream's schema accepts it.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlparse

from naftiko_runtime.capability.source import DataPath, SourceDocument
from naftiko_runtime.engine.inputs import value_schema
from naftiko_runtime.model import (
    AnyInvocation,
    Argument,
    Capability,
    ConsumedOperation,
    Input,
    Invocation,
    Orchestration,
)
from naftiko_runtime.openapi.documents import OpenApiDocument, OpenApiError
from naftiko_runtime.openapi.documents import Operation as UpstreamOperation
from naftiko_runtime.openapi.drift import WIRE, _documents_for, _find
from naftiko_runtime.openapi.export import _member as body_member  # as /openapi.json says
from naftiko_runtime.openapi.samples import NoSample, conforms, media_sample, parameter_sample
from naftiko_runtime.openapi.samples import sample as schema_sample
from naftiko_runtime.text.placeholders import norm, only_variable, split
from naftiko_runtime.text.values import to_text

MESSAGE_CHARS = 300  # longest error text quoted from an answer
NONE: Any = object()  # no value could be made


@dataclass
class Answer:
    """What the gateway answered one call: REST status and body, or an MCP result."""

    status: int
    content_type: str = ""
    body: bytes = b""
    error: str | None = None  # the error text an MCP result or a REST error body carries
    data: Any = None  # the result's JSON (REST body, MCP text content)
    structured: Any = None  # MCP structured content
    output_schema: dict[str, Any] | None = None
    request: tuple[str, str, str, list[tuple[str, str]]] | None = None  # REST: as sent


@dataclass
class Target:
    """One exposed REST operation or MCP tool, where it is written and how to call it."""

    label: str
    at: DataPath
    data: dict[str, Any]
    invocation: AnyInvocation
    send: Callable[[dict[str, Any]], Awaitable[Answer]]
    inputs: tuple[Input, ...]
    published: Any = None  # REST: the port's /openapi.json, as openapi-core reads it
    skip: str | None = None


@dataclass
class Upstream:
    """A consumed namespace's mock: the document and its index behind the proxy."""

    index: int
    prefix: str
    at: DataPath


# ---------------------------------------------------------------------- planning
def namespaces(document: SourceDocument, specs: Sequence[OpenApiDocument]) -> dict[str, Upstream]:
    """Each consumed namespace's document (the one holding most of its operations, among
    those its host names) and the path its baseUri puts before every resource."""
    plan: dict[str, Upstream] = {}
    capability = (document.data or {}).get("capability") or {}
    for i, entry in enumerate(capability.get("consumes") or []):
        if not isinstance(entry, dict) or "baseUri" not in entry or "namespace" not in entry:
            continue
        base = str(entry["baseUri"])
        prefix = urlparse(base).path.rstrip("/")
        candidates = _documents_for(base, specs)
        best, hits = candidates[0], -1
        for candidate in candidates:
            count = sum(
                isinstance(
                    _find(
                        prefix + str(r.get("path", "")),
                        str(o.get("method", "GET")).upper(),
                        [candidate],
                    )[1],
                    UpstreamOperation,
                )
                for r in entry.get("resources") or []
                if isinstance(r, dict)
                for o in r.get("operations") or []
                if isinstance(o, dict)
            )
            if count > hits:
                best, hits = candidate, count
        index = next(n for n, s in enumerate(specs) if s is best)
        plan[str(entry["namespace"])] = Upstream(index, prefix, ("capability", "consumes", i))
    return plan


def namespace_of(plan: dict[str, Upstream], index: int, path: str) -> Upstream | None:
    chosen = [u for u in plan.values() if u.index == index and path.startswith(u.prefix)]
    return max(chosen, key=lambda u: len(u.prefix)) if chosen else None


def _located(
    document: SourceDocument, paths: Iterator[DataPath]
) -> dict[tuple[int, int], DataPath]:
    return {document.source_map.locate(path): path for path in paths}


def _exposed_paths(document: SourceDocument) -> Iterator[DataPath]:
    capability = (document.data or {}).get("capability") or {}
    for e, expose in enumerate(capability.get("exposes") or []):
        if not isinstance(expose, dict):
            continue
        base: DataPath = ("capability", "exposes", e)
        for r, resource in enumerate(expose.get("resources") or []):
            if isinstance(resource, dict):
                for o, _ in enumerate(resource.get("operations") or []):
                    yield (*base, "resources", r, "operations", o)
        for t, _ in enumerate(expose.get("tools") or []):
            yield (*base, "tools", t)


def node(document: SourceDocument, path: DataPath) -> Any:
    """The YAML value at `path` (None where there is none)."""
    value: Any = document.data
    for step in path:
        try:
            value = value[step]
        except (KeyError, IndexError, TypeError):
            return None
    return value


def targets(document: SourceDocument, capability: Capability, runtime: Any) -> list[Target]:
    """Every REST operation and MCP tool of the capability, each with its call."""
    import httpx

    located = _located(document, _exposed_paths(document))
    found: list[Target] = []
    taken: dict[int, int] = {}
    for adapter in capability.rest:
        port = adapter.port
        app = runtime.rest_apps.get(port)
        published = _published(app.openapi if app is not None else None)
        for op in adapter.operations:
            endpoints = runtime.rest_ops.get(port) or []
            index = taken.get(port, 0)
            taken[port] = index + 1
            at = located.get((op.where.line, op.where.column))
            if at is None or index >= len(endpoints) or app is None:
                continue
            endpoint = endpoints[index]
            data = node(document, at)
            label = f"{endpoint.method} {endpoint.path}"
            target = Target(
                label,
                at,
                data if isinstance(data, dict) else {},
                op.invocation,
                _rest_sender(httpx, app, endpoint, port),
                tuple(endpoint.operation.inputs),
                published,
            )
            target.skip = _guard_problem(endpoint.guard)
            found.append(target)
    stdio = list(runtime.stdio_servers)
    for mcp in capability.mcp:
        if mcp.transport == "stdio" or mcp.port is None:
            server_set = stdio.pop(0) if stdio else None
        else:
            server = runtime.mcp_servers.get(mcp.port)
            server_set = server.server_set if server is not None else None
        for tool in mcp.tools:
            at = located.get((tool.where.line, tool.where.column))
            entry = server_set.tools.get(tool.name) if server_set is not None else None
            if at is None or entry is None or server_set is None:
                continue
            data = node(document, at)
            found.append(
                Target(
                    f"tool {tool.name}",
                    at,
                    data if isinstance(data, dict) else {},
                    tool.invocation,
                    _tool_sender(server_set, tool.name, entry.tool.output_schema),
                    tuple(tool.invocation.inputs),
                )
            )
    return found


def core_view(data: dict[str, Any], base_uri: str = "") -> Any:
    """openapi-core over a document as it is: real documents often break the letter of the
    specification (a `description` beside a media type) where nothing here depends on it."""
    from openapi_core import OpenAPI
    from openapi_core.configurations import Config

    unchecked = Config(spec_validator_cls=None)  # type: ignore[arg-type]  # None: no check
    return OpenAPI.from_dict(data, config=unchecked, base_uri=base_uri)


def _published(openapi: dict[str, Any] | None) -> Any:
    return core_view(openapi) if openapi else None


def _guard_problem(guard: Any) -> str | None:
    """Why the exercise cannot present the adapter's inbound credential, if it cannot."""
    from naftiko_runtime.adapters.auth.credential import CredentialGuard

    if guard is None or isinstance(guard, CredentialGuard):
        return None
    return f"its adapter's {type(guard).__name__} cannot be satisfied offline"


def _credential(guard: Any) -> tuple[dict[str, str], dict[str, str]]:
    """Headers and query a CredentialGuard admits (the placeholder values it expects)."""
    from naftiko_runtime.adapters.auth.credential import CredentialGuard

    if not isinstance(guard, CredentialGuard):
        return {}, {}
    value = guard.expected.decode("latin-1")
    if guard.query is not None:
        return {}, {guard.query: value}
    assert guard.header is not None
    scheme = guard.scheme.decode().title() + " " if guard.scheme else ""
    return {guard.header.decode(): scheme + value}, {}


def _rest_sender(
    httpx: Any, app: Any, endpoint: Any, port: int
) -> Callable[[dict[str, Any]], Awaitable[Answer]]:
    """A call of the REST app in this process (ASGI, no socket), as a client of its
    /openapi.json would make it: path, query, headers, cookies, a JSON body."""
    inputs = {norm(i.name): i for i in endpoint.operation.inputs}

    async def send(values: dict[str, Any]) -> Answer:
        path = ""
        for part in split(endpoint.path):
            if isinstance(part, str):
                path += part
                continue
            item = inputs.get(norm(part.name))
            value = values.get(item.name) if item is not None else None
            path += quote(to_text(value) if value is not None else "x", safe="")
        headers, query = _credential(endpoint.guard)
        params: list[tuple[str, str]] = list(query.items())
        body: dict[str, Any] = {}
        whole: Any = NONE
        cookies = []
        for item in endpoint.operation.inputs:
            if item.name not in values or item.location == "path":
                continue
            value = values[item.name]
            if item.location == "header":
                headers[item.name] = to_text(value)
            elif item.location == "cookie":
                cookies.append(f"{item.name}={quote(to_text(value))}")
            elif item.location == "body":
                member = body_member(item)
                if member == "$":
                    whole = value
                else:
                    body[member or item.name] = value
            elif isinstance(value, list):
                params += [(item.name, to_text(v)) for v in value]
            else:
                params.append((item.name, to_text(value)))
        if cookies:
            headers["Cookie"] = "; ".join(cookies)
        content = None
        if whole is not NONE or body:
            content = json.dumps(whole if whole is not NONE else body).encode()
            headers["Content-Type"] = "application/json"
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://127.0.0.1:{port}") as c:
            reply = await c.request(
                endpoint.method, path, params=params, headers=headers, content=content
            )
        query_text = str(reply.request.url.query.decode())
        answer = Answer(
            reply.status_code,
            reply.headers.get("content-type", ""),
            reply.content,
            request=(endpoint.method, path, query_text, list(headers.items())),
        )
        if "json" in answer.content_type:
            with contextlib.suppress(ValueError):
                answer.data = json.loads(reply.content)
        if reply.status_code >= 400:
            error = answer.data.get("error") if isinstance(answer.data, dict) else None
            message = error.get("message") if isinstance(error, dict) else None
            answer.error = str(message or reply.text[:MESSAGE_CHARS])
        return answer

    return send


def _tool_sender(
    server_set: Any, name: str, output_schema: dict[str, Any] | None
) -> Callable[[dict[str, Any]], Awaitable[Answer]]:
    """A `tools/call` of the MCP server set in this process (what the transport hands on)."""

    async def send(values: dict[str, Any]) -> Answer:
        result = await server_set.call(name, values)
        text = "".join(getattr(c, "text", "") for c in result.content[:1])
        answer = Answer(
            500 if result.is_error else 200,
            structured=result.structured_content,
            output_schema=output_schema,
        )
        if result.is_error:
            answer.error = text[:MESSAGE_CHARS]
        else:
            with contextlib.suppress(ValueError):
                answer.data = json.loads(text)
        return answer

    return send


def calls(invocation: AnyInvocation) -> Iterator[tuple[ConsumedOperation, tuple[Argument, ...]]]:
    """The consumed operations an operation or tool calls, with the `with` of each call."""
    if isinstance(invocation, Invocation):
        yield invocation.operation, invocation.arguments
    elif isinstance(invocation, Orchestration):
        for step in invocation.steps:
            operation = getattr(step, "operation", None)
            if isinstance(operation, ConsumedOperation):
                yield operation, (*invocation.arguments, *getattr(step, "arguments", ()))


def fed(name: str, arguments: Sequence[Argument], operation: ConsumedOperation) -> str | None:
    """The consumed parameter (or body member) an input feeds: by a `with` reference, else
    by its own name."""
    for argument in arguments:
        if argument.reference is not None and norm(argument.reference) == norm(name):
            return argument.key
    for argument in arguments:
        if _lone(argument.template, name):
            return argument.key
    if operation.param(name) is not None or _body_member(operation, name) is not None:
        return name
    return None


def _lone(text: Any, name: str) -> bool:
    return isinstance(text, str) and only_variable(text) == name


def _body_member(operation: ConsumedOperation, name: str) -> str | None:
    """The member of the consumed body template that is `{{name}}` alone ("$" when the
    whole body is)."""
    data = operation.body.data if operation.body is not None else None
    if _lone(data, name):
        return "$"
    if not isinstance(data, dict):
        return None
    return next((str(member) for member, value in data.items() if _lone(value, name)), None)


def upstream_parameter(
    spec: OpenApiDocument, hit: UpstreamOperation, operation: ConsumedOperation, key: str
) -> tuple[str, Any] | None:
    """What the upstream declares for the consumed parameter `key`: ("param", parameter),
    ("media", media type) for the whole body, ("schema", schema) for a body member."""
    param = operation.param(key)
    if param is not None and param.location in WIRE:
        theirs = [p for p in hit.parameters if p.get("in") == param.location]
        named = [p for p in theirs if norm(str(p.get("name"))) == norm(param.name)]
        if named:
            return "param", named[0]
        if param.location == "path":
            ours = [p for p in operation.params if p.location == "path"]
            if len(ours) == len(theirs) and param in ours:
                return "param", theirs[ours.index(param)]
        return None
    media = _body_media(spec, hit)
    if media is None:
        return None
    member = _body_member(operation, key)
    if (param is not None and param.location == "body") or member == "$":
        return "media", media
    try:
        schema = spec.deref(media.get("schema"))
    except OpenApiError:
        return None
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if member is not None and isinstance(properties, dict) and member in properties:
        return "schema", properties[member]
    return None


def _body_media(spec: OpenApiDocument, hit: UpstreamOperation) -> dict[str, Any] | None:
    """The request body's media type object (JSON where offered)."""
    try:
        if spec.version == "2.0":
            body = [p for p in hit.parameters if p.get("in") == "body"]
            return {"schema": body[0].get("schema", {})} if body else None
        request_body = spec.deref(hit.data.get("requestBody"))
        content = request_body.get("content") if isinstance(request_body, dict) else None
        if not isinstance(content, dict) or not content:
            return None
        media_type = next((m for m in content if "json" in m), next(iter(content)))
        media = spec.deref(content[media_type])
    except OpenApiError:
        return None
    return media if isinstance(media, dict) else None


def value_for(item: Input, upstream: tuple[str, Any, OpenApiDocument] | None) -> Any:
    """The upstream's example or a value made from its schema, else one of the input's own
    type; only a value the upstream's schema accepts."""
    own = value_schema(item, with_description=False)
    if upstream is None:
        try:
            return schema_sample(own, None)
        except NoSample:
            return NONE
    kind, node, spec = upstream
    schema = node.get("schema", node) if kind in ("param", "media") else node
    if _read_only(schema, spec) and not item.required:
        return NONE  # the upstream refuses it in a request: a client would not send it
    makers: list[Callable[[], Any]] = [
        lambda: _example(kind, node, spec),
        lambda: schema_sample(own, None),
    ]
    for make in makers:
        try:
            value = make()
        except NoSample:
            continue
        value = _writable(value, schema, spec)
        if conforms(value, schema, spec) is None:
            return value
    return NONE


def _example(kind: str, node: Any, spec: OpenApiDocument) -> Any:
    if kind == "param":
        return parameter_sample(node, spec)
    if kind == "media":
        return media_sample(node, spec)
    return schema_sample(node, spec)


def _read_only(schema: Any, spec: OpenApiDocument) -> bool:
    with contextlib.suppress(OpenApiError):
        schema = spec.deref(schema)
    return isinstance(schema, dict) and schema.get("readOnly") is True


def _writable(value: Any, schema: Any, spec: OpenApiDocument) -> Any:
    """An example object without its read-only members (an example of the resource as the
    upstream answers it, used as a request)."""
    with contextlib.suppress(OpenApiError):
        schema = spec.deref(schema)
    if isinstance(value, list) and isinstance(schema, dict) and schema.get("items"):
        return [_writable(v, schema["items"], spec) for v in value]
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(value, dict) or not isinstance(properties, dict):
        return value
    return {k: v for k, v in value.items() if not _read_only(properties.get(k), spec)}


def as_declared(value: Any, kind: str | None) -> Any:
    """The value in the input's declared type (an MCP argument is typed): a list for a
    string input is its first item, as a client would give one value."""
    if kind == "string" and isinstance(value, list) and value:
        value = value[0]
    if kind == "string" and not isinstance(value, str):
        return to_text(value)
    if kind in ("integer", "number") and isinstance(value, str):
        with contextlib.suppress(ValueError):
            return int(value) if kind == "integer" else float(value)
    if kind == "boolean" and isinstance(value, str):
        return value.strip().lower() == "true"
    return value
