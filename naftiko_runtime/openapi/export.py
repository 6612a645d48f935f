"""OpenAPI 3.1 for each REST port, derived from the spec: what `/openapi.json` serves."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from naftiko_runtime.adapters.errors import error_schema
from naftiko_runtime.adapters.rest.endpoint import RestEndpoint
from naftiko_runtime.adapters.rest.inputs import member_of
from naftiko_runtime.engine.inputs import value_schema
from naftiko_runtime.model import Input
from naftiko_runtime.text.placeholders import norm, path_variables

_PASSED_THROUGH = {
    "401": "Unauthorized (passed through from the upstream)",
    "404": "Not found (passed through from the upstream)",
    "409": "Conflict (passed through from the upstream)",
    "422": "Validation error (passed through from the upstream)",
}

# The answers every operation can give besides its own 200, defined once under `components`
# and referenced from each operation: inline they were 2 KB of every operation's entry, the
# larger part of the document (15 MB for 5,000 operations).
_ERROR_JSON = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
_ANY_JSON: dict[str, Any] = {"application/json": {"schema": {}}}
_SHARED_RESPONSES: dict[str, dict[str, Any]] = {
    "InvalidInput": {"description": "Invalid input", "content": _ERROR_JSON},
    **{
        f"PassedThrough{code}": {"description": text, "content": _ANY_JSON}
        for code, text in _PASSED_THROUGH.items()
    },
    "UpstreamFailed": {
        "description": "The upstream failed or answered garbage",
        "content": _ERROR_JSON,
    },
    "UpstreamTimedOut": {
        "description": "The upstream did not answer in time",
        "content": _ERROR_JSON,
    },
}
_SHARED_REFS = {
    "400": {"$ref": "#/components/responses/InvalidInput"},
    **{code: {"$ref": f"#/components/responses/PassedThrough{code}"} for code in _PASSED_THROUGH},
    "502": {"$ref": "#/components/responses/UpstreamFailed"},
    "504": {"$ref": "#/components/responses/UpstreamTimedOut"},
}


def _member(item: Input) -> str | None:
    """The body member a body input reads (`$.title`, `$['a.b']`), `$` for the whole body,
    None when it names none (the reference's rule: its own name, else the whole body)."""
    value = (item.value or "").strip()
    return "$" if value == "$" else member_of(value or None)


def _schema(item: Input) -> dict[str, Any]:
    return value_schema(item, with_description=False)


def _operation_id(endpoint: RestEndpoint, used: set[str]) -> str:
    base = endpoint.name or re.sub(r"\W+", "_", f"{endpoint.method}_{endpoint.path}").strip("_")
    candidate, n = base, 2
    while candidate in used:
        candidate, n = f"{base}_{n}", n + 1
    used.add(candidate)
    return candidate


def build_openapi(
    title: str, description: str | None, endpoints: Sequence[RestEndpoint]
) -> dict[str, Any]:
    """The OpenAPI document for one port."""
    paths: dict[str, dict[str, Any]] = {}
    used: set[str] = set()
    for endpoint in endpoints:
        parameters = []
        body_inputs = []
        for item in endpoint.operation.inputs:
            if item.location == "body":
                body_inputs.append(item)
                continue
            parameter: dict[str, Any] = {
                "name": _path_name(endpoint.path, item.name)
                if item.location == "path"
                else item.name,
                "in": item.location
                if item.location in ("path", "query", "header", "cookie")
                else "query",
                "required": item.location == "path" or item.required,
                "schema": _schema(item),
            }
            if item.description:
                parameter["description"] = item.description
            if item.type == "array" and item.location == "query":
                parameter["style"], parameter["explode"] = "form", True
            parameters.append(parameter)
        operation: dict[str, Any] = {
            "operationId": _operation_id(endpoint, used),
            "summary": endpoint.description or endpoint.name or endpoint.operation.name,
            "description": endpoint.operation.description or "",
            "parameters": parameters,
            "responses": {
                "200": {
                    "description": "The mapped upstream response",
                    "content": {"application/json": {"schema": {}}},
                },
                **_SHARED_REFS,
            },
        }
        if endpoint.event_stream:
            operation["responses"]["200"]["content"]["text/event-stream"] = {
                "schema": {"type": "string", "description": "Server-sent events, as they come"}
            }
        if body_inputs:
            members = [(_member(i), i) for i in body_inputs]
            whole = next((i for m, i in members if m == "$"), None)
            if whole is not None or (len(body_inputs) == 1 and members[0][0] is None):
                schema = _schema(whole or body_inputs[0])
            else:  # each input is a member: `value: "$.title"`, else the input's own name
                schema = {
                    "type": "object",
                    "properties": {m or i.name: _schema(i) for m, i in members},
                    "required": [m or i.name for m, i in members if i.required],
                }
            operation["requestBody"] = {
                "required": any(i.required for i in body_inputs),
                "content": {"application/json": {"schema": schema}},
            }
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1.0.0", "description": description or ""},
        "paths": paths,
        "components": {"schemas": {"Error": error_schema()}, "responses": _SHARED_RESPONSES},
    }


def _path_name(path: str, name: str) -> str:
    """The placeholder as written in the path (`job-id`) for the input `job_id`."""
    for variable in path_variables(path):
        if norm(variable) == norm(name):
            return variable
    return name
