"""What `check --exercise` reports about one call, each at the capability's own node: the
requests the upstream's document refuses (`openapi-core`), an error for valid input, an
answer outside the published `/openapi.json` (`openapi-core`) or the tool's `outputSchema`
(`jsonschema`), and declared outputs left null where the upstream's example has the field.
"""

from __future__ import annotations

import contextlib
import difflib
import http.cookies
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from naftiko_runtime.capability.source import DataPath, SourceDocument
from naftiko_runtime.diagnostics import Severity
from naftiko_runtime.model import ConsumedOperation, Invocation, MappedOutput
from naftiko_runtime.openapi.mock import Exchange
from naftiko_runtime.openapi.targets import (
    MESSAGE_CHARS,
    Answer,
    Target,
    Upstream,
    calls,
    node,
)
from naftiko_runtime.text.jsonpath import simple_steps
from naftiko_runtime.text.placeholders import norm


@dataclass
class Finding:
    at: DataPath
    rule: str
    message: str
    hint: str | None = None
    severity: Severity = Severity.ERROR


def skipped(target: Target, why: str) -> Finding:
    """A warning: the operation or tool was left uncalled, and why."""
    return Finding(
        target.at,
        "exercise-skipped",
        f"{target.label} was not exercised: {why}",
        "The rest of the capability was exercised.",
        Severity.WARNING,
    )


def call_at(target: Target) -> DataPath:
    """Its `call` (what fails is what it calls), else the operation or tool itself."""
    return (*target.at, "call") if "call" in target.data else target.at


# ---------------------------------------------------------------------- where things are
class ConsumedIndex:
    """The consumed operations of one document by position, and their parameters' paths."""

    def __init__(self, document: SourceDocument) -> None:
        self.document = document
        self.by_position: dict[tuple[int, int], DataPath] = {}
        capability = (document.data or {}).get("capability") or {}
        for i, entry in enumerate(capability.get("consumes") or []):
            for j, resource in enumerate((entry or {}).get("resources") or []):
                for k, _ in enumerate((resource or {}).get("operations") or []):
                    path: DataPath = ("capability", "consumes", i, "resources", j, "operations", k)
                    self.by_position[document.source_map.locate(path)] = path

    def operation_at(self, operation: ConsumedOperation) -> DataPath | None:
        if operation.where.file != self.document.display:
            return None
        return self.by_position.get((operation.where.line, operation.where.column))

    def parameter_at(self, operation: ConsumedOperation, name: str) -> DataPath | None:
        """The `inputParameters` entry named `name`: the operation's, its resource's or its
        namespace's."""
        at = self.operation_at(operation)
        if at is None:
            return None
        for level in (at, at[:5], at[:3]):
            found = node(self.document, level)
            for n, p in enumerate((found or {}).get("inputParameters") or []):
                if isinstance(p, dict) and norm(str(p.get("name"))) == norm(name):
                    return (*level, "inputParameters", n)
        return None


def _with_at(target: Target, key: str) -> DataPath | None:
    block = target.data.get("with")
    if isinstance(block, dict):
        for k in block:
            if norm(str(k)) == norm(key):
                return (*target.at, "with", k)
    return None


# ---------------------------------------------------------------------- findings
class WireRequest:
    """A recorded request as openapi-core reads one."""

    def __init__(
        self,
        host_url: str,
        path: str,
        method: str,
        query: str,
        headers: Sequence[tuple[str, str]],
        body: bytes,
    ) -> None:
        from openapi_core.datatypes import RequestParameters
        from werkzeug.datastructures import Headers, ImmutableMultiDict

        self.host_url = host_url
        self.path = path
        self.method = method.lower()
        self.body = body or None
        found = Headers(list(headers))
        self.content_type = str(found.get("Content-Type", "")).lower()
        jar: http.cookies.SimpleCookie = http.cookies.SimpleCookie()
        with contextlib.suppress(http.cookies.CookieError):
            jar.load(str(found.get("Cookie", "")))
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qsl(query, keep_blank_values=True)),
            header=found,
            cookie=ImmutableMultiDict({k: m.value for k, m in jar.items()}),
        )


class _WireResponse:
    def __init__(self, status: int, content_type: str, body: bytes) -> None:
        from werkzeug.datastructures import Headers

        self.status_code = status
        self.content_type = content_type.lower()
        self.headers = Headers([("Content-Type", content_type)] if content_type else [])
        self.data = body


def _why(error: BaseException) -> str:
    """openapi-core's error in a sentence: the schema's own best message where there is one."""
    from jsonschema.exceptions import best_match

    cause = error.__cause__
    problems = getattr(cause, "schema_errors", None) or getattr(error, "schema_errors", None)
    if problems:
        best = best_match(problems)
        if best is not None:
            return short(best.message)
    return short(str(cause or error))


def short(text: str) -> str:
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "…"


def request_finding(
    document: SourceDocument,
    consumed: ConsumedIndex,
    target: Target,
    error: BaseException,
    sent: str,
    namespace: Upstream | None,
) -> Finding:
    from openapi_core.validation.request.exceptions import (
        MissingParameterError,
        ParameterValidationError,
        RequestBodyValidationError,
        SecurityValidationError,
    )

    hint = "Make the request the capability sends match the upstream's OpenAPI."
    at = call_at(target)
    operations = [op for op, _ in calls(target.invocation)]
    if isinstance(error, ParameterValidationError):
        name, location = error.name, error.location
        if isinstance(error, MissingParameterError):
            message = (
                f"{sent}: the upstream requires {location} parameter `{name}`, which was not sent"
            )
        else:
            message = (
                f"{sent}: {location} parameter `{name}` is refused by the upstream: {_why(error)}"
            )
        at = _with_at(target, name) or next(
            (p for op in operations if (p := consumed.parameter_at(op, name)) is not None), at
        )
        hint = f"Check what `{name}` is given (its `with` value or fixed `value`)."
    elif isinstance(error, RequestBodyValidationError):
        message = f"{sent}: the request body is refused by the upstream: {_why(error)}"
        for op in operations:
            op_at = consumed.operation_at(op)
            body = [p for p in op.params if p.location == "body"]
            if op_at is not None and op.body is not None:
                at = (*op_at, "body")
                break
            if body and (p := consumed.parameter_at(op, body[0].name)) is not None:
                at = _with_at(target, body[0].name) or p
                break
        hint = "Send the body the upstream's schema describes."
    elif isinstance(error, SecurityValidationError):
        message = "requests carry none of the credentials the upstream's security requires"
        if namespace is not None:
            entry = node(document, namespace.at) or {}
            at = (
                (*namespace.at, "authentication")
                if "authentication" in entry
                else (*namespace.at, "namespace")
            )
        hint = "Declare the upstream's authentication on the consumed namespace."
    else:
        message = f"{sent}: {short(str(error))}"
    return Finding(at, "exercise-request", message, hint)


def status_findings(
    target: Target, answer: Answer, exchanges: Sequence[Exchange], invalid: bool
) -> list[Finding]:
    failed = [e for e in exchanges if e.status >= 400 or e.failure]
    if failed and not invalid:
        first = failed[0]
        detail = first.failure or short(first.reply.decode(errors="replace").strip())
        return [
            Finding(
                call_at(target),
                "exercise-status",
                f"{target.label}: the upstream answered {first.status} to "
                f"{first.method} {first.path} for generated valid input: {detail}",
                "Check the operation against the upstream's OpenAPI (what it requires, what it "
                "answers).",
            )
        ]
    if answer.error is not None and not failed:
        return [
            Finding(
                call_at(target),
                "exercise-status",
                f"{target.label}: the gateway answered an error for generated valid input: "
                f"{short(answer.error)}",
                "Check the operation's outputRawFormat and outputs against what the upstream "
                "answers.",
            )
        ]
    return []


def response_findings(target: Target, answer: Answer) -> list[Finding]:
    if target.published is not None and answer.request is not None:
        method, path, query, headers = answer.request
        request = WireRequest("http://localhost", path, method, query, headers, b"")
        response = _WireResponse(answer.status, answer.content_type, answer.body)
        try:
            errors = list(target.published.iter_response_errors(request, response))
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            errors = [exc]
        return [
            Finding(
                call_at(target),
                "exercise-response",
                f"{target.label}: the answer ({answer.status}, "
                f"{answer.content_type or 'no content type'}) does not fit the published "
                f"/openapi.json: {_why(error)}",
                "What /openapi.json promises must be what the operation answers.",
            )
            for error in errors[:1]
        ]
    if answer.output_schema is not None and answer.error is None:
        from jsonschema import Draft202012Validator
        from jsonschema.exceptions import best_match

        best = best_match(Draft202012Validator(answer.output_schema).iter_errors(answer.structured))
        if best is not None:
            return [
                Finding(
                    call_at(target),
                    "exercise-response",
                    f"{target.label}: the structured result does not fit its outputSchema: "
                    f"{short(best.message)}",
                    "What outputSchema promises must be what the tool answers.",
                )
            ]
    return []


def null_findings(
    target: Target, consumed: ConsumedIndex, answer: Answer, exchanges: Sequence[Exchange]
) -> list[Finding]:
    """Declared outputs the answer leaves null while the upstream's example has the field."""
    invocation = target.invocation
    if not isinstance(invocation, Invocation):
        return []
    body = exchanges[-1].reply_json()
    if body is None:
        return []
    found: list[Finding] = []
    outputs = invocation.outputs
    declared = target.data.get("outputParameters")
    if outputs and isinstance(declared, list) and len(declared) == len(outputs):
        base: DataPath = (*target.at, "outputParameters")
        if len(outputs) == 1:
            _walk(outputs[0], (*base, 0), None, answer.data, body, found)
        elif isinstance(answer.data, list):
            for n, output in enumerate(outputs):
                value = answer.data[n] if n < len(answer.data) else None
                _walk(output, (*base, n), None, value, body, found)
        return found
    op_at = consumed.operation_at(invocation.operation)
    if outputs or op_at is None or not isinstance(answer.data, dict):
        return found
    params = (node(consumed.document, op_at) or {}).get("outputParameters") or []
    for n, param in enumerate(params):
        if not isinstance(param, dict) or "name" not in param or "value" not in param:
            continue
        if answer.data.get(str(param["name"])) is None:
            miss = _missing(str(param["value"]), body, str(param["name"]))
            if miss is not None:
                found.append(
                    _null_finding(
                        (*op_at, "outputParameters", n, "value"),
                        str(param["name"]),
                        str(param["value"]),
                        miss,
                    )
                )
    return found


def _walk(
    output: MappedOutput,
    at: DataPath,
    name: str | None,
    value: Any,
    upstream: Any,
    found: list[Finding],
) -> None:
    """Follow a mapped output and the answer together (and the upstream's body along the
    mapping): a leaf or object that came out null is checked against the example."""
    if output.const is not None or (output.value is not None and output.mapping is None):
        return
    mapping = output.mapping
    steps = simple_steps(mapping) if mapping else ()
    if steps is None:
        return
    inner = _follow(upstream, steps)
    if value is None:
        if mapping and steps:
            miss = _missing(mapping, upstream, name)
            if miss is not None:
                found.append(_null_finding((*at, "mapping"), name or "the output", mapping, miss))
        return
    if output.type == "object" and output.properties and isinstance(value, dict):
        for key, child in output.properties:
            _walk(child, (*at, "properties", key), key, value.get(key), inner, found)
    elif output.type == "array" and output.items is not None and isinstance(value, list) and value:
        first = inner[0] if isinstance(inner, list) and inner else inner
        _walk(output.items, (*at, "items"), name, value[0], first, found)


def _follow(here: Any, steps: Sequence[str | int]) -> Any:
    for step in steps:
        if isinstance(step, int):
            here = here[step] if isinstance(here, list) and step < len(here) else None
        else:
            here = here.get(step) if isinstance(here, dict) else None
        if here is None:
            return None
    return here


def _missing(mapping: str, upstream: Any, name: str | None) -> tuple[str, str, str] | None:
    """(the step that finds nothing, the key the example has there, the path to it), when the
    example has a non-null field the path was surely meant to read: a close spelling of the
    step that fails, or of the output's own name."""
    steps = simple_steps(mapping)
    if not steps:
        return None
    here = upstream
    for n, step in enumerate(steps):
        if isinstance(step, int):
            if not (isinstance(here, list) and step < len(here)):
                return None
            here = here[step]
            continue
        if not isinstance(here, dict) or step in here:
            if isinstance(here, dict) and here[step] is not None:
                here = here[step]
                continue
            return None  # not an object, or the example has it null: nothing to say
        keys = [str(k) for k, v in here.items() if v is not None]
        wanted = [step] + ([name] if name and n == len(steps) - 1 else [])
        close = next((c for w in wanted if (c := _close(w, keys)) is not None), None)
        if close is None:
            return None
        return step, close, _render((*steps[:n], close, *steps[n + 1 :]))
    return None


def _render(steps: Sequence[str | int]) -> str:
    """A definite JSONPath from its steps (`$.a[0]['b c']`)."""
    parts = [
        f"[{s}]" if isinstance(s, int) else f".{s}" if re.fullmatch(r"\w+", s) else f"['{s}']"
        for s in steps
    ]
    return "$" + "".join(parts)


def _close(word: str, keys: Sequence[str]) -> str | None:
    plain = re.sub(r"[-_]", "", word).lower()
    for key in keys:
        if re.sub(r"[-_]", "", key).lower() == plain:
            return key
    matches = difflib.get_close_matches(word, keys, n=1, cutoff=0.75)
    return matches[0] if matches else None


def _null_finding(at: DataPath, name: str, mapping: str, miss: tuple[str, str, str]) -> Finding:
    step, key, fixed = miss
    return Finding(
        at,
        "exercise-null-output",
        f"`{name}` stays null: `{mapping}` finds nothing in the upstream's example answer, "
        f"which has `{key}` where it looks for `{step}`",
        f"Read `{fixed}`.",
    )
