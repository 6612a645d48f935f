"""The policy file's JSON Schema: its shape; `load` checks what refers to the capabilities."""

from __future__ import annotations

from typing import Any

VERSION = "1"


def _seconds(maximum: float) -> dict[str, Any]:
    return {"type": "number", "exclusiveMinimum": 0, "maximum": maximum}


def _object(properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "properties": properties, **extra}


_OPERATION_TIMEOUTS = {
    "firstByte": _seconds(3600),
    "total": _seconds(3600),
    "streamIdle": _seconds(86400),
}
_RETRY = _object(
    {
        "attempts": {"type": "integer", "minimum": 1, "maximum": 10},
        "backoff": _object({"initial": _seconds(60), "max": _seconds(300)}),
        "on": {
            "type": "array",
            "minItems": 1,
            "items": {
                "anyOf": [
                    {"enum": ["connect", "timeout"]},
                    {"enum": [408, 425, 429]},
                    {"type": "integer", "minimum": 500, "maximum": 599},
                ]
            },
        },
        "retryAfterMax": {"type": "number", "minimum": 0, "maximum": 300},
        "budget": _object(
            {
                "ratio": {"type": "number", "minimum": 0, "maximum": 1},
                "minRetries": {"type": "integer", "minimum": 0, "maximum": 100000},
                "window": {"type": "number", "minimum": 1, "maximum": 3600},
            }
        ),
    }
)
_BREAKER = _object(
    {
        "failureRatio": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
        "minimumCalls": {"type": "integer", "minimum": 1, "maximum": 100000},
        "window": {"type": "number", "minimum": 1, "maximum": 3600},
        "openFor": {"type": "number", "minimum": 0.1, "maximum": 3600},
        "halfOpenCalls": {"type": "integer", "minimum": 1, "maximum": 100},
    }
)
_UPSTREAM = _object(
    {
        "timeouts": _object({"connect": _seconds(600), **_OPERATION_TIMEOUTS}),
        "retry": _RETRY,
        "circuitBreaker": _BREAKER,
        "operations": {
            "type": "object",
            "additionalProperties": _object(
                {"timeouts": _object(_OPERATION_TIMEOUTS), "retry": _RETRY}
            ),
        },
    }
)
_RATE_LIMIT = _object(
    {
        "name": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"},
        "limit": {"type": "integer", "minimum": 1, "maximum": 1_000_000_000},
        "window": {"type": "number", "exclusiveMinimum": 0, "maximum": 86400},
        "burst": {"type": "integer", "minimum": 1, "maximum": 1_000_000_000},
        "per": {"enum": ["client-address", "api-key", "jwt-subject", "global"]},
        "header": {"type": "string", "pattern": "^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$"},
        "routes": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "string",
                "pattern": "^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) /\\S*$",
            },
        },
        "tools": {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}},
    },
    required=["name", "limit", "window"],
    anyOf=[{"required": ["routes"]}, {"required": ["tools"]}],
)
SCHEMA: dict[str, Any] = _object(
    {
        "naftikoPolicies": {"const": VERSION},
        "upstreams": {"type": "object", "additionalProperties": _UPSTREAM},
        "rateLimits": {"type": "array", "items": _RATE_LIMIT},
    },
    required=["naftikoPolicies"],
)
