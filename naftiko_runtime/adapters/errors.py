"""The one error envelope the HTTP adapters answer, and the one map from the error tree
(`naftiko_runtime.errors`) to HTTP statuses.

Every refusal and failure a client of REST, skill, control or a guard sees is
`{"error": {"type": ..., "message": ..., ...}}`, built by `problem`; `/openapi.json`
describes it with `error_schema()`. `status_of` says which status an error is, for the
adapters that answer HTTP and for those that only count it (MCP's metrics).
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

import orjson

from naftiko_runtime.adapters.asgi import JSON
from naftiko_runtime.engine.response import MAX_ERROR_BODY
from naftiko_runtime.engine.scripting.base import ScriptError
from naftiko_runtime.errors import InvocationError, UpstreamError
from naftiko_runtime.secrets.redactor import Redactor, is_text

log = logging.getLogger("naftiko_runtime.rest")


class Problem(NamedTuple):
    """An error answer: what `asgi.respond` takes after `send`."""

    status: int
    body: bytes
    content_type: bytes = JSON


def problem(status: int, kind: str, message: str, **extra: Any) -> Problem:
    """The envelope: `type` names the error for programs, `message` says it for people,
    `extra` members add what a client can act on (`problems`, `upstream_status`, ...)."""
    return Problem(status, orjson.dumps({"error": {"type": kind, "message": message, **extra}}))


# members besides `type` and `message` that /openapi.json documents, with their schema
DOCUMENTED_MEMBERS: dict[str, dict[str, Any]] = {
    "upstream_status": {"type": "integer"},
    "problems": {"type": "array", "items": {"type": "object"}},
}


def error_schema() -> dict[str, Any]:
    """The JSON Schema of what `problem` writes (the OpenAPI `Error` component)."""
    return {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["type", "message"],
                "properties": {
                    "type": {"type": "string"},
                    "message": {"type": "string"},
                    **DOCUMENTED_MEMBERS,
                },
            }
        },
    }


class PayloadTooLarge(InvocationError):
    """The client sent more than this runtime reads."""

    def __init__(self, message: str) -> None:
        super().__init__(message, [{"name": "body", "problem": "too large"}])


# every other upstream failure is a 502; `circuit_open` is a policy's (policies.errors)
_UPSTREAM_STATUS = {"timeout": 504, "busy": 503, "circuit_open": 503}
_SCRIPT_STATUS = {"timeout": 504, "busy": 503}  # every other script failure is a 500


def _passed_through(exc: UpstreamError) -> bool:
    """An upstream's own 4xx: the client's mistake as the upstream said it, passed on."""
    return exc.kind == "status" and exc.upstream_status is not None and exc.upstream_status < 500


def status_of(exc: Exception) -> int:
    """The HTTP status an error is: 4xx the client's mistake, 5xx the upstream's or ours."""
    if isinstance(exc, PayloadTooLarge):
        return 413
    if isinstance(exc, InvocationError):
        return 400
    if isinstance(exc, UpstreamError):
        if _passed_through(exc):
            assert exc.upstream_status is not None
            return exc.upstream_status
        return _UPSTREAM_STATUS.get(exc.kind, 502)
    if isinstance(exc, ScriptError):
        return _SCRIPT_STATUS.get(exc.kind, 500)
    return 500


def error_reply(exc: Exception, redact: Redactor) -> Problem:
    """The answer to an error: the envelope at its status, or an upstream's own 4xx body
    (redacted) passed through. Anything not of the tree is a logged 500 that says nothing."""
    status = status_of(exc)
    if isinstance(exc, PayloadTooLarge):
        return problem(status, "payload_too_large", exc.message)
    if isinstance(exc, InvocationError):
        return problem(status, "invalid_request", exc.message, problems=exc.problems)
    if isinstance(exc, UpstreamError):
        if _passed_through(exc):
            kind = (exc.content_type or "application/json").split(";")[0].encode()
            body = exc.body or b""
            if body:  # any type: an echoed credential is one whatever the label says
                body = redact.bodies.redact_bytes(body, is_text(kind.decode("latin-1")))
            return Problem(status, body[:MAX_ERROR_BODY], kind)
        extra: dict[str, Any] = {}
        if exc.upstream_status is not None:
            extra["upstream_status"] = exc.upstream_status
        if exc.kind == "circuit_open":  # policies.errors.CircuitOpen: when to come back
            extra["retry_after"] = getattr(exc, "retry_after", 1)
        return problem(status, f"upstream_{exc.kind}", redact(exc.message), **extra)
    if isinstance(exc, ScriptError):
        return problem(status, f"script_{exc.kind}", redact(exc.message), step=exc.step)
    log.exception("internal error: %s", redact(repr(exc)))
    return problem(status, "internal_error", "internal error; see the server log")


SHUTTING_DOWN = problem(
    503, "shutting_down", "the server stopped before this request finished; retry it"
)
