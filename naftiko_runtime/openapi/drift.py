"""`naftiko-runtime check PATH --against OPENAPI...`: does each consumed operation still say
what its upstream's OpenAPI says? Path and method, parameter names, locations, types and
required flags, whether a request body is required, and the response's content type. Each
difference is a diagnostic at the capability's own line, in the same formats as `validate`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from naftiko_runtime.capability.source import DataPath, SourceDocument
from naftiko_runtime.diagnostics import Diagnostic, Severity
from naftiko_runtime.openapi.documents import (
    OpenApiDocument,
    Operation,
    as_dict,
    as_list,
    schema_types,
)
from naftiko_runtime.text.placeholders import shape

WIRE = ("path", "query", "header", "cookie")
_OPENAPI_TEMPLATE = re.compile(r"\{[^}/]*\}")  # an OpenAPI path's `{name}`: not our grammar

# outputRawFormat -> media types that satisfy it (structured suffixes count: +json, +xml)
FORMAT_MEDIA = {
    "json": ("application/json", "+json", "application/x-ndjson"),
    "xml": ("application/xml", "text/xml", "+xml"),
    "csv": ("text/csv",),
    "tsv": ("text/tab-separated-values",),
    "yaml": ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"),
    "html": ("text/html",),
    "markdown": ("text/markdown",),
    "event-stream": ("text/event-stream",),
    "avro": ("avro",),
    "protobuf": ("protobuf",),
}


@dataclass(frozen=True)
class _Param:
    name: str
    location: str
    type: str | None
    required: bool
    at: DataPath


def _upstream_shape(path: str) -> str:
    """An upstream OpenAPI path shaped as `text/placeholders.shape` shapes ours."""
    return _OPENAPI_TEMPLATE.sub("{}", path)


def _consumed_params(
    entry: dict[str, Any],
    resource: dict[str, Any],
    op: dict[str, Any],
    at: tuple[DataPath, DataPath, DataPath],
) -> list[_Param]:
    """Inputs of the namespace, the resource and the operation (the innermost wins)."""
    found: dict[tuple[str, str], _Param] = {}
    for level, base in zip((entry, resource, op), at, strict=True):
        for n, p in enumerate(level.get("inputParameters") or []):
            if not isinstance(p, dict) or "name" not in p:
                continue
            location = str(p.get("in") or "query")
            required = bool(p.get("required", location == "path"))
            param = _Param(
                str(p["name"]), location, p.get("type"), required, (*base, "inputParameters", n)
            )
            found[(param.name, location)] = param
    return list(found.values())


def _documents_for(base_uri: str, specs: Sequence[OpenApiDocument]) -> list[OpenApiDocument]:
    """The documents whose servers name the namespace's host, else all of them."""
    host = urlparse(base_uri).netloc.lower()
    matching = [s for s in specs if any(urlparse(u).netloc.lower() == host for u in s.servers())]
    return matching or list(specs)


def _find(
    full_path: str, method: str, specs: Sequence[OpenApiDocument]
) -> tuple[OpenApiDocument, Operation] | tuple[None, str | None]:
    """The upstream operation; else (None, a hint: the path under another method or with a
    different trailing slash)."""
    near: str | None = None
    ours = shape(full_path)
    for spec in specs:
        base = spec.base_path()
        for operation in spec.operations():
            upstream = base + operation.path
            if _upstream_shape(upstream) == ours:
                if operation.method == method:
                    return spec, operation
                near = near or f"the upstream has {operation.method} {upstream}, not {method}"
            elif _upstream_shape(upstream).rstrip("/") == ours.rstrip("/") and near is None:
                near = f"the upstream path is {upstream!r} (trailing slash)"
    return None, near


def check(
    documents: Sequence[SourceDocument], specs: Sequence[OpenApiDocument]
) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for document in documents:
        found.extend(_check_document(document, specs))
    return sorted(found, key=Diagnostic.sort_key)


def _check_document(
    document: SourceDocument, specs: Sequence[OpenApiDocument]
) -> Iterator[Diagnostic]:
    capability = (document.data or {}).get("capability") or {}
    for i, entry in enumerate(capability.get("consumes") or []):
        if not isinstance(entry, dict) or "baseUri" not in entry:
            continue
        candidates = _documents_for(str(entry["baseUri"]), specs)
        prefix = urlparse(str(entry["baseUri"])).path.rstrip("/")
        entry_at: DataPath = ("capability", "consumes", i)
        for j, resource in enumerate(entry.get("resources") or []):
            resource_at: DataPath = (*entry_at, "resources", j)
            for k, op in enumerate(resource.get("operations") or []):
                op_at: DataPath = (*resource_at, "operations", k)
                yield from _check_operation(
                    document,
                    candidates,
                    prefix + str(resource.get("path", "")),
                    entry,
                    resource,
                    op,
                    (entry_at, resource_at, op_at),
                )


def _check_operation(
    document: SourceDocument,
    specs: Sequence[OpenApiDocument],
    full_path: str,
    entry: dict[str, Any],
    resource: dict[str, Any],
    op: dict[str, Any],
    at: tuple[DataPath, DataPath, DataPath],
) -> Iterator[Diagnostic]:
    op_at = at[2]
    method = str(op.get("method", "GET")).upper()
    name = op.get("name", "?")
    spec, hit = _find(full_path, method, specs)
    if spec is None or not isinstance(hit, Operation):
        near = hit if isinstance(hit, str) else None
        rule = "drift-method" if near and "not " + method in near else "drift-path"
        yield document.diag(
            (*op_at, "method") if rule == "drift-method" else (*at[1], "path"),
            rule,
            f"{name}: {method} {full_path} is not in the upstream's OpenAPI",
            hint=(near + ".") if near else "Check the path against the upstream's documentation.",
        )
        return
    where = f"{name} ({method} {hit.path})"
    params = _consumed_params(entry, resource, op, at)
    upstream = {(str(p.get("name")), str(p.get("in"))): p for p in hit.parameters}
    upstream_path = [p for p in hit.parameters if p.get("in") == "path"]
    ours_path = [p for p in params if p.location == "path"]
    by_name: dict[str, list[str]] = {}
    for key_name, key_in in upstream:
        by_name.setdefault(key_name, []).append(key_in)
    for param in params:
        if param.location not in WIRE:
            continue
        theirs = upstream.get((param.name, param.location))
        if theirs is None and param.location == "path" and len(ours_path) == len(upstream_path):
            theirs = upstream_path[ours_path.index(param)]  # path values go by position
        if theirs is None:
            elsewhere = by_name.get(param.name)
            if elsewhere:
                yield document.diag(
                    (*param.at, "in"),
                    "drift-parameter-location",
                    f"{where}: `{param.name}` is sent in {param.location}, the upstream reads "
                    f"it from {elsewhere[0]}",
                    hint=f"Use `in: {elsewhere[0]}`.",
                )
            else:
                yield document.diag(
                    (*param.at, "name"),
                    "drift-parameter-unknown",
                    f"{where}: the upstream declares no {param.location} parameter `{param.name}`",
                    severity=Severity.WARNING,
                    hint="Check the name; the upstream ignores or rejects unknown parameters.",
                )
            continue
        yield from _compare_param(document, spec, where, param, theirs)
    declared = {(p.name, p.location) for p in params}
    declared_path = len(ours_path)
    for (p_name, p_in), theirs in upstream.items():
        if p_in not in WIRE or not theirs.get("required"):
            continue
        if p_in == "path" and declared_path == len(upstream_path):
            continue
        if (p_name, p_in) not in declared and not _has_default(spec, theirs):
            yield document.diag(
                (*op_at, "name"),
                "drift-parameter-missing",
                f"{where}: the upstream requires {p_in} parameter `{p_name}`, which the "
                "capability never sends",
                hint=f"Declare `{p_name}` in `inputParameters`.",
            )
    yield from _compare_body(document, spec, where, hit, params, op, op_at)
    yield from _compare_format(document, spec, where, hit, op, op_at)


def _has_default(spec: OpenApiDocument, param: dict[str, Any]) -> bool:
    schema = spec.deref(param.get("schema") or {})
    return "default" in param or (isinstance(schema, dict) and "default" in schema)


def _compare_param(
    document: SourceDocument,
    spec: OpenApiDocument,
    where: str,
    param: _Param,
    theirs: dict[str, Any],
) -> Iterator[Diagnostic]:
    types = schema_types(theirs.get("schema", theirs), spec)
    numeric = {"integer", "number"}
    if (
        param.type
        and types
        and param.type not in types
        and not (param.type in numeric and types & numeric)
    ):
        yield document.diag(
            (*param.at, "type"),
            "drift-parameter-type",
            f"{where}: `{param.name}` is {param.type} here, {' or '.join(sorted(types))} upstream",
            hint=f"Use `type: {sorted(types)[0]}`.",
        )
    required = bool(theirs.get("required")) or theirs.get("in") == "path"
    if param.required != required:
        detail = (
            "required here, optional upstream (a client that leaves it out gets a 400 from "
            "us for a call the upstream accepts)"
            if param.required
            else "optional here, required upstream (a call without it fails upstream)"
        )
        yield document.diag(
            (*param.at, "required"),
            "drift-parameter-required",
            f"{where}: `{param.name}` is {detail}",
            hint=f"Use `required: {str(required).lower()}`.",
        )


def _upstream_body(spec: OpenApiDocument, hit: Operation) -> tuple[bool, bool]:
    """(has a body, the body is required)."""
    if spec.version == "2.0":
        bodies = [p for p in hit.parameters if p.get("in") in ("body", "formData")]
        return bool(bodies), any(p.get("required") for p in bodies)
    body = spec.deref(hit.data.get("requestBody"))
    if not isinstance(body, dict):
        return False, False
    return True, bool(body.get("required"))


def _compare_body(
    document: SourceDocument,
    spec: OpenApiDocument,
    where: str,
    hit: Operation,
    params: list[_Param],
    op: dict[str, Any],
    op_at: DataPath,
) -> Iterator[Diagnostic]:
    has, required = _upstream_body(spec, hit)
    ours = [p for p in params if p.location == "body"]
    template = op.get("body")
    if not ours and template is None:
        if required:
            yield document.diag(
                (*op_at, "name"),
                "drift-body-missing",
                f"{where}: the upstream requires a request body, which the capability never sends",
                hint="Declare an `in: body` input or a `body`.",
            )
        return
    if not has:
        at = (*ours[0].at, "name") if ours else (*op_at, "body")
        yield document.diag(
            at,
            "drift-body-unknown",
            f"{where}: the upstream declares no request body",
            severity=Severity.WARNING,
            hint="Check the operation; the body may be ignored.",
        )
        return
    for param in ours:
        if param.required and not required:
            yield document.diag(
                (*param.at, "required"),
                "drift-body-required",
                f"{where}: the request body `{param.name}` is required here, optional "
                "upstream (a client that sends none, as the upstream's own SDKs may, gets a "
                "400 from us)",
                hint="Use `required: false`.",
            )
        elif required and not param.required:
            yield document.diag(
                (*param.at, "required"),
                "drift-body-required",
                f"{where}: the request body `{param.name}` is optional here, required upstream",
                hint="Use `required: true`.",
            )


def _success_media(spec: OpenApiDocument, hit: Operation) -> list[str]:
    media: list[str] = []
    for code, response in as_dict(hit.data.get("responses")).items():
        if not str(code).startswith("2"):
            continue
        response = as_dict(spec.deref(response))
        if spec.version == "2.0":
            produces = hit.data.get("produces") or spec.data.get("produces")
            if response.get("schema") is not None:
                media.extend(str(m) for m in as_list(produces))
            continue
        media.extend(str(m) for m in as_dict(response.get("content")))
    return [m.split(";")[0].strip().lower() for m in media]


def _compare_format(
    document: SourceDocument,
    spec: OpenApiDocument,
    where: str,
    hit: Operation,
    op: dict[str, Any],
    op_at: DataPath,
) -> Iterator[Diagnostic]:
    media = _success_media(spec, hit)
    declared = str(op.get("outputRawFormat", "json"))
    if not media or declared == "binary" or declared not in FORMAT_MEDIA:
        return
    accepted = FORMAT_MEDIA[declared]
    if any(
        m == a or (a.startswith("+") and m.endswith(a)) or (a in m and "/" not in a)
        for m in media
        for a in accepted
    ):
        return
    at = (*op_at, "outputRawFormat") if "outputRawFormat" in op else (*op_at, "name")
    streams = "text/event-stream" in media
    yield document.diag(
        at,
        "drift-response-format",
        f"{where}: the upstream answers {', '.join(sorted(set(media)))}, not {declared}"
        + (" (an event stream, passed through as it comes)" if streams else ""),
        hint="Set `outputRawFormat` to the upstream's format.",
    )
