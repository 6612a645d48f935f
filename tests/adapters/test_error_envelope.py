"""The one error envelope and the one status map (adapters/errors.py), and authentication as
one ASGI middleware (adapters/auth/middleware.py), in process: every error the tree holds
maps to one status, a client's mistake to a 4xx; the OpenAPI `Error` schema describes what
`problem` writes; a guard answers before the app sees the request."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from naftiko_runtime.adapters.asgi import Message, Receive, Scope, Send
from naftiko_runtime.adapters.auth.base import METADATA_PATH, Guard
from naftiko_runtime.adapters.auth.middleware import AnyOf, Guarded, guarded
from naftiko_runtime.adapters.errors import (
    PayloadTooLarge,
    error_reply,
    error_schema,
    problem,
    status_of,
)
from naftiko_runtime.engine.scripting.base import ScriptError
from naftiko_runtime.errors import (
    InvocationError,
    UpstreamBusyError,
    UpstreamConnectError,
    UpstreamError,
    UpstreamStatusError,
    UpstreamTimeoutError,
)
from naftiko_runtime.policies.errors import CircuitOpen
from naftiko_runtime.secrets.redactor import Redactor
from tests.fixtures.probe import probe

KINDS: dict[str, type[UpstreamError]] = {
    cls.kind: cls
    for cls in (
        UpstreamStatusError,
        UpstreamConnectError,
        UpstreamTimeoutError,
        UpstreamBusyError,
    )
}


def upstream(kind: str, status: int | None = None) -> UpstreamError:
    return KINDS[kind](f"{kind} went wrong", operation="api.op", upstream_status=status)


def test_problem_is_the_envelope_in_json() -> None:
    status, body, content_type = problem(404, "not_found", "no such thing", extra=[1])
    assert (status, content_type) == (404, b"application/json")
    assert json.loads(body) == {
        "error": {"type": "not_found", "message": "no such thing", "extra": [1]}
    }


def test_every_error_of_the_tree_has_one_status_and_a_clients_mistake_is_a_4xx() -> None:
    assert status_of(InvocationError("bad", [])) == 400
    assert status_of(PayloadTooLarge("big")) == 413
    assert status_of(upstream("status", 404)) == 404  # the upstream's own 4xx, passed on
    assert status_of(upstream("status", 500)) == 502
    assert status_of(upstream("connect")) == 502
    assert status_of(upstream("timeout")) == 504
    assert status_of(upstream("busy")) == 503
    assert status_of(CircuitOpen("api", "api.op", 2.5)) == 503
    assert status_of(ScriptError("timeout", "step", "slow")) == 504
    assert status_of(ScriptError("failed", "step", "broke")) == 500
    assert status_of(RuntimeError("a defect")) == 500


def test_error_replies_carry_what_a_client_can_act_on() -> None:
    redact = Redactor()
    redact.add(["s3cret-value"])
    bad = error_reply(InvocationError("bad", [{"name": "limit", "problem": "required"}]), redact)
    assert json.loads(bad.body)["error"]["problems"] == [{"name": "limit", "problem": "required"}]
    failed = UpstreamStatusError("said s3cret-value", operation="o", upstream_status=503)
    answer = error_reply(failed, redact)
    assert answer.status == 502
    assert json.loads(answer.body) == {
        "error": {"type": "upstream_status", "message": "said ***", "upstream_status": 503}
    }
    circuit = json.loads(error_reply(CircuitOpen("api", "api.op", 2.5), redact).body)["error"]
    assert (circuit["type"], circuit["retry_after"]) == ("upstream_circuit_open", 3)
    passed = UpstreamStatusError(
        "m", operation="o", upstream_status=409, body=b"{}", content_type="text/x"
    )
    assert error_reply(passed, redact) == (409, b"{}", b"text/x")
    defect = json.loads(error_reply(RuntimeError("s3cret-value"), redact).body)["error"]
    assert defect == {"type": "internal_error", "message": "internal error; see the server log"}


def test_the_openapi_error_schema_names_every_member_the_answers_carry() -> None:
    schema = error_schema()
    members = schema["properties"]["error"]["properties"]
    assert schema["required"] == ["error"]
    assert {"type", "message", "upstream_status", "problems"} <= set(members)


class Fixed(Guard):
    def __init__(self, token: bytes, metadata: dict[str, Any] | None = None) -> None:
        self.token, self.document = token, metadata

    def metadata(self) -> dict[str, Any] | None:
        return self.document

    async def passes(self, scope: Scope) -> bool:
        return (b"authorization", self.token) in scope["headers"]

    async def reject(self, send: Send, scope: Scope | None = None) -> None:
        await send({"type": "http.response.start", "status": 401, "headers": []})
        await send({"type": "http.response.body", "body": self.token})


async def reached(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"app"})


def call(app: Any, scope: Scope) -> list[Message]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    asyncio.run(app(scope, receive, send))
    return sent


def http(path: str = "/x", *headers: tuple[bytes, bytes]) -> Scope:
    return {"type": "http", "method": "GET", "path": path, "headers": list(headers)}


def test_a_guard_answers_before_the_app_and_none_adds_no_layer() -> None:
    assert guarded(reached, None) is reached
    app = guarded(reached, Fixed(b"t1"))
    assert call(app, http())[0]["status"] == 401
    assert call(app, http("/x", (b"authorization", b"t1")))[1]["body"] == b"app"
    lifespan = call(app, {"type": "lifespan"})  # other scopes pass untouched
    assert lifespan[1]["body"] == b"app"


def test_the_guard_may_be_replaced_and_serves_its_metadata_in_the_clear() -> None:
    app = Guarded(reached, None, metadata=True)
    assert call(app, http())[1]["body"] == b"app"
    app.guard = Fixed(b"t1", {"resource": "https://api.example/mcp"})
    public = call(app, http(METADATA_PATH + "/mcp"))
    assert public[0]["status"] == 200
    assert json.loads(public[1]["body"]) == {"resource": "https://api.example/mcp"}
    assert call(app, http("/mcp"))[0]["status"] == 401


def test_any_of_passes_what_one_passes_and_refuses_as_the_first() -> None:
    gate = guarded(reached, AnyOf((Fixed(b"t1"), Fixed(b"t2"))))
    assert call(gate, http("/x", (b"authorization", b"t2")))[1]["body"] == b"app"
    assert call(gate, http())[1]["body"] == b"t1"


@pytest.mark.e2e  # a fresh interpreter: what importing the base alone loads
def test_the_guard_base_imports_no_kind_of_guard() -> None:
    """No import circle: the base (which digest and oauth import) imports neither."""
    script = """
import json, sys
import naftiko_runtime.adapters.auth.base
print(json.dumps(sorted(m for m in sys.modules if m.startswith("naftiko_runtime.adapters.auth."))))
"""
    assert probe(script) == ["naftiko_runtime.adapters.auth.base"]
