"""`--strict`: report every use of the dialect that the reference engine would reject.

Our schema accepts deviations found in real specs because they carry meaning; the
reference `1.0.0-alpha2` schema does not. Each use becomes a `portability` error here.

The rows listed here are every finding about what one dialect or engine has and the other
lacks: `portability` (here), `ikanos-legacy-list` and `ikanos-unserved` (`dialects/
ikanos_checks.py`), `import-dialect` (the index), `migrate` (`dialects/migrate.py`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from naftiko_runtime.capability.index import consumes_lists
from naftiko_runtime.capability.rules.rule import ERR, WARN, ours
from naftiko_runtime.capability.source import DataPath, SourceDocument, as_dict, as_list
from naftiko_runtime.diagnostics import Diagnostic

RULES = (
    ours(
        "ikanos-legacy-list",
        WARN,
        "an Ikanos named collection is a map keyed by name, not the legacy list",
        "The Ikanos engine still reads a list of entries with `name`; its schema does not. "
        "Write `key: {...}` (`naftiko-runtime migrate --to ikanos` does).",
    ),
    ours(
        "import-dialect",
        WARN,
        "an import names a file of the same dialect",
        "This runtime reads both; neither reference engine reads the other's files.",
    ),
    ours(
        "ikanos-unserved",
        ERR,
        "every Ikanos construct is one this runtime serves (imported exposes, aggregates, "
        "binds; tunnels); beta5 fields read but not acted on yet are warnings",
        "Inline the imported section, or serve it with the Ikanos engine.",
    ),
    ours(
        "migrate",
        WARN,
        "`migrate`: a point that cannot be carried to the other dialect as it is",
        "The message says what was invented, dropped or kept; edit the output there.",
    ),
    ours(
        "portability",
        ERR,
        "`--strict`: dialect the reference engine would reject",
        "Write the portable form, or drop --strict.",
    ),
)

RULE = "portability"
_WHY = "the reference engine would reject this"
_KEBAB = re.compile(r"^[a-zA-Z0-9-]+$")
_TARGET = re.compile(r"^[a-zA-Z0-9-]+\.[a-zA-Z0-9-]+$")
_OUTPUT_OWNERS = ("operations", "tools", "resources", "functions")


def check_portability(doc: SourceDocument) -> list[Diagnostic]:
    """Every dialect use in `doc`, as errors."""
    found: list[Diagnostic] = []
    for pointer, message in _findings(doc.data):
        found.append(
            doc.diag(
                pointer,
                RULE,
                f"{message}: {_WHY}",
                key=pointer[-1] in ("type", "required", "description"),
            )
        )
    return found


def _findings(data: Any) -> Iterator[tuple[DataPath, str]]:
    for list_path, items in consumes_lists(data):
        for i, api in enumerate(items):
            api = as_dict(api)
            base = (*list_path, i)
            if "import" in api or "location" in api:
                continue
            yield from _name(api, base, "namespace", "consumed namespace")
            if "headerPolicy" in api:
                yield (*base, "headerPolicy"), "'headerPolicy' on a consumed API"
            yield from _consumed_params(api.get("inputParameters"), (*base, "inputParameters"))
            for r, resource in enumerate(as_list(api.get("resources"))):
                resource = as_dict(resource)
                rbase = (*base, "resources", r)
                yield from _name(resource, rbase, "name", "consumed resource name")
                yield from _consumed_params(
                    resource.get("inputParameters"), (*rbase, "inputParameters")
                )
                for o, op in enumerate(as_list(resource.get("operations"))):
                    op = as_dict(op)
                    obase = (*rbase, "operations", o)
                    yield from _name(op, obase, "name", "consumed operation name")
                    if op.get("outputRawFormat") == "binary":
                        yield (*obase, "outputRawFormat"), "outputRawFormat 'binary' (after alpha2)"
                    if op.get("outputRawFormat") == "event-stream":
                        yield (*obase, "outputRawFormat"), "outputRawFormat 'event-stream'"
                    yield from _consumed_params(
                        op.get("inputParameters"), (*obase, "inputParameters")
                    )
    capability = as_dict(as_dict(data).get("capability"))
    for e, expose in enumerate(as_list(capability.get("exposes"))):
        expose = as_dict(expose)
        base = ("capability", "exposes", e)
        auth = as_dict(expose.get("authentication"))
        for key in ("clientId", "clientSecret"):
            if auth.get("type") == "oauth2" and key in auth:
                yield (*base, "authentication", key), f"'{key}' on oauth2 authentication"
        if expose.get("type") == "rest":
            if "description" in expose:
                yield (*base, "description"), "'description' on a rest adapter"
            for r, resource in enumerate(as_list(expose.get("resources"))):
                resource = as_dict(resource)
                rbase = (*base, "resources", r)
                yield from _name(resource, rbase, "name", "REST resource name")
                if "methods" in as_dict(resource.get("forward")):
                    yield (*rbase, "forward", "methods"), "'methods' on forward"
                yield from _rest_required(
                    resource.get("inputParameters"), (*rbase, "inputParameters")
                )
                for o, op in enumerate(as_list(resource.get("operations"))):
                    obase = (*rbase, "operations", o)
                    yield from _name(as_dict(op), obase, "name", "REST operation name")
                    yield from _rest_required(
                        as_dict(op).get("inputParameters"), (*obase, "inputParameters")
                    )
                    yield from _caller(as_dict(op), obase)
        elif expose.get("type") == "mcp":
            for t, tool in enumerate(as_list(expose.get("tools"))):
                yield from _name(as_dict(tool), (*base, "tools", t), "name", "MCP tool name")
                yield from _caller(as_dict(tool), (*base, "tools", t))
            for r, resource in enumerate(as_list(expose.get("resources"))):
                yield from _caller(as_dict(resource), (*base, "resources", r))
    for a, aggregate in enumerate(as_list(capability.get("aggregates"))):
        for f, function in enumerate(as_list(as_dict(aggregate).get("functions"))):
            yield from _caller(as_dict(function), ("capability", "aggregates", a, "functions", f))


def _name(
    obj: dict[str, Any], base: DataPath, key: str, what: str
) -> Iterator[tuple[DataPath, str]]:
    value = obj.get(key)
    if isinstance(value, str) and not _KEBAB.match(value) and re.match(r"^[A-Za-z0-9_-]+$", value):
        yield (*base, key), f"{what} {value!r} uses '_'"


def _consumed_params(params: Any, base: DataPath) -> Iterator[tuple[DataPath, str]]:
    for p, param in enumerate(as_list(params)):
        for key in ("type", "required", "description"):
            if key in as_dict(param):
                yield (*base, p, key), f"{key!r} on a consumed input parameter"


def _rest_required(params: Any, base: DataPath) -> Iterator[tuple[DataPath, str]]:
    for p, param in enumerate(as_list(params)):
        if "required" in as_dict(param):
            yield (*base, p, "required"), "'required' on an exposed REST input parameter"


def _caller(obj: dict[str, Any], base: DataPath) -> Iterator[tuple[DataPath, str]]:
    for key in ("call", "ref"):
        value = obj.get(key)
        if (
            isinstance(value, str)
            and not _TARGET.match(value)
            and re.match(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$", value)
        ):
            yield (*base, key), f"{key} target {value!r} uses '_'"
    for s, step in enumerate(as_list(obj.get("steps"))):
        index = as_dict(step).get("index")
        if isinstance(index, str) and index.startswith("$"):
            yield (*base, "steps", s, "index"), f"lookup index {index!r} (a path into a step)"
        value = as_dict(step).get("call")
        if isinstance(value, str) and not _TARGET.match(value) and "_" in value:
            yield (*base, "steps", s, "call"), f"call target {value!r} uses '_'"
    if "call" in obj:
        for o, output in enumerate(as_list(obj.get("outputParameters"))):
            yield from _mapped_output(output, (*base, "outputParameters", o))


def _mapped_output(output: Any, base: DataPath) -> Iterator[tuple[DataPath, str]]:
    output = as_dict(output)
    kind = output.get("type")
    if kind == "object":
        if "properties" not in output:
            yield (*base, "type"), "an object output with 'mapping' but no 'properties'"
        for name, child in as_dict(output.get("properties")).items():
            yield from _mapped_output(child, (*base, "properties", name))
    elif kind == "array":
        if "items" not in output:
            yield (*base, "type"), "an array output with 'mapping' but no 'items'"
        elif isinstance(output.get("items"), dict):
            yield from _mapped_output(output["items"], (*base, "items"))
