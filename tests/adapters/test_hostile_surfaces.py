"""The surfaces added since the last hardening, attacked from outside (Reliability III):
secrets bound into paths and headers echoed back (R-1), `forward` echoing its own credential
in bodies that are not text (F-1), traversal in every encoding (F-2), an oversized forwarded
body (F-3), and a reset in the middle of a body that ends with its connection (H1-1), over
each HTTP client, on REST and MCP."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from http.client import HTTPConnection
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from mcp import Client

from tests.fixtures.process import serve
from tests.fixtures.raw_upstream import RESET, http, raw_upstream

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]
TOKEN = "123456:AAH-bot/t0ken"  # a Telegram-style token: it goes in the path
HEADER_KEY = "hk-9f2c1e7a5b"  # sent as a fixed header input, not as authentication
BEARER = "fwd-bearer-8d7e6f5a4b3c"
SPEC = """\
naftiko: "1.0.0-alpha2"
binds:
  - namespace: env
    keys:
      BOT_TOKEN: BOT_TOKEN
      HEADER_KEY: HEADER_KEY
      FWD_TOKEN: FWD_TOKEN
      PAGE_SIZE: PAGE_SIZE
capability:
  consumes:
    - type: http
      namespace: bot
      baseUri: "http://127.0.0.1:9"
      inputParameters:
        - name: X-Api-Token
          in: header
          value: "{{env.HEADER_KEY}}"
      resources:
        - name: echo
          path: "/bot{{token}}/{{kind}}"
          operations:
            - name: get-echo
              method: GET
              inputParameters:
                - name: token
                  in: path
                  value: "{{env.BOT_TOKEN}}"
                - name: kind
                  in: path
                - name: limit
                  in: query
                  value: "{{env.PAGE_SIZE}}"
        - name: blob
          path: "/blob/{{kind}}"
          operations:
            - name: get-blob
              method: GET
              outputRawFormat: binary
              inputParameters:
                - name: kind
                  in: path
        - name: rows
          path: "/rows/{{kind}}"
          operations:
            - name: get-rows
              method: GET
              outputRawFormat: csv
              inputParameters:
                - name: kind
                  in: path
    - type: http
      namespace: fwd
      baseUri: "http://127.0.0.1:9/base"
      authentication:
        type: bearer
        token: "{{env.FWD_TOKEN}}"
      resources:
        - name: unused
          path: "/unused"
          operations:
            - name: unused
              method: GET
  exposes:
    - type: rest
      namespace: surfaces
      port: 8080
      resources:
        - path: "/echo/{kind}"
          operations:
            - method: GET
              name: echo
              inputParameters:
                - name: kind
                  in: path
                  type: string
                  description: "Which reply"
              call: bot.get-echo
        - path: "/rows/{kind}"
          operations:
            - method: GET
              name: rows
              inputParameters:
                - name: kind
                  in: path
                  type: string
                  description: "Which reply"
              call: bot.get-rows
        - path: "/fwd/{path}"
          forward:
            targetNamespace: fwd
        - path: "/trace/{path}"
          forward:
            targetNamespace: fwd
            methods: [GET, TRACE]
            trustedHeaders: [X-Tenant, X-Trace]
    - type: mcp
      namespace: surfaces-mcp
      port: 9090
      tools:
        - name: echo
          description: "The upstream's echo"
          inputParameters:
            - name: kind
              type: string
              description: "Which reply"
          call: bot.get-echo
        - name: blob
          description: "The upstream's echo, as bytes"
          inputParameters:
            - name: kind
              type: string
              description: "Which reply"
          call: bot.get-blob
        - name: rows
          description: "Rows of a CSV"
          inputParameters:
            - name: kind
              type: string
              description: "Which reply"
          call: bot.get-rows
"""
FORMS = [TOKEN, quote(TOKEN), quote(TOKEN, safe=""), HEADER_KEY, BEARER]
ROWS = b"".join(b"row-%d,value\n" % n for n in range(200))
CUT_AT = ROWS.index(b"row-91,")


def _json(status: str, payload: Any) -> bytes:
    return http(status, json.dumps(payload).encode(), b"Content-Type: application/json")


def _typed(status: str, kind: str) -> Any:
    """An echo of the whole request head, as a body of type `kind`."""
    return lambda head: http(status, head.encode(), f"Content-Type: {kind}".encode())


TYPES = {"octet200": "application/octet-stream", "octet404": "application/octet-stream"}
TYPES["yaml200"] = "application/yaml"
REPLIES: dict[str, Any] = {
    "json200": lambda head: _json("200 OK", {"you_sent": head}),
    "json404": lambda head: _json("404 Not Found", {"no_such_path": head.split(" ")[1]}),
    "page": lambda head: _json("200 OK", {"limit": 1000, "items": []}),
    "ok": lambda head: _json("200 OK", {"answer": "ok"}),
    "headers-echo": lambda head: http(
        "200 OK",
        b"{}",
        b"Content-Type: application/json",
        f'Link: </echo/x?page=2&key={HEADER_KEY}>; rel="next"'.encode(),
        f'Content-Disposition: attachment; filename="{HEADER_KEY}.csv"'.encode(),
        f"X-RateLimit-Key: {HEADER_KEY}".encode(),
        f'ETag: "{TOKEN}"'.encode(),
    ),
    "late": lambda head: [
        _json("200 OK", {"answer": "late"}),
        _json("200 OK", {"answer": "unsolicited"}),
    ],
    "octet200": _typed("200 OK", TYPES["octet200"]),
    "octet404": _typed("404 Not Found", TYPES["octet404"]),
    "yaml200": _typed("200 OK", TYPES["yaml200"]),
    "trace": _typed("200 OK", "message/http"),
    "whole": lambda head: [b"HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\n\r\n" + ROWS, None],
    "reset": lambda head: [
        b"HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\n\r\n" + ROWS[:CUT_AT],
        RESET,
    ],
    "reset-stream": lambda head: [
        b'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: {"n": 1}\n\n',
        RESET,
    ],
}


def _leaks(text: str) -> list[str]:
    return [form for form in FORMS if form in text]


@pytest.fixture(scope="module", params=["h1", "aiohttp", "pyreqwest"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    spec = tmp_path_factory.mktemp("surfaces") / "surfaces.yaml"
    spec.write_text(SPEC)
    env = {"BOT_TOKEN": TOKEN, "HEADER_KEY": HEADER_KEY, "FWD_TOKEN": BEARER, "PAGE_SIZE": "1000"}
    with raw_upstream(REPLIES) as base:
        args = [spec, "--upstream", f"*={base}", "--http-client", request.param, "--timeout", "5"]
        with serve(*args, env=env) as process:
            yield {**process.urls, "process": process, "client": request.param}


@pytest.mark.parametrize("kind", ["json200", "json404", "octet404"])
def test_a_secret_bound_into_a_path_or_header_never_comes_back(
    served: dict[str, Any], kind: str
) -> None:
    """R-1: the bound token in `/bot{{token}}/` and the fixed `X-Api-Token` header are sent
    upstream, so an echo of them is redacted like an echo of `authentication`."""
    reply = httpx.get(f"{served['rest']}/echo/{kind}", timeout=10)
    assert reply.status_code in (200, 404), reply.text
    assert _leaks(reply.text) == [], reply.text
    assert "***" in reply.text


def test_a_bound_number_sent_upstream_stays_in_bodies(served: dict[str, Any]) -> None:
    """`PAGE_SIZE=1000` goes upstream as `limit`, but a JSON number is data: redacting it
    would break `{"limit": 1000}`."""
    reply = httpx.get(f"{served['rest']}/echo/page", timeout=10)
    assert reply.json() == {"limit": 1000, "items": []}


async def test_mcp_results_never_hold_a_secret_bound_into_a_path_or_header(
    served: dict[str, Any],
) -> None:
    async with Client(served["mcp"]) as client:
        for kind in ("json200", "json404"):
            result = await client.call_tool("echo", {"kind": kind})
            text = " ".join(getattr(c, "text", "") for c in result.content)
            assert _leaks(text) == [], (kind, text)
            assert _leaks(json.dumps(result.structured_content or {})) == []


@pytest.mark.parametrize("kind", ["octet200", "octet404", "yaml200"])
def test_forward_never_returns_its_own_bearer_in_any_content_type(
    served: dict[str, Any], kind: str
) -> None:
    """F-1: the namespace's bearer token, echoed in a body that is not text, is redacted."""
    reply = httpx.get(f"{served['rest']}/fwd/{kind}", timeout=10)
    assert reply.status_code in (200, 404)
    assert BEARER not in reply.text and "***" in reply.text
    assert reply.headers["content-type"] == TYPES[kind]


def test_trace_is_not_forwarded_unless_declared(served: dict[str, Any]) -> None:
    """F-1: TRACE echoes the request with the gateway's credential, CONNECT opens a tunnel:
    neither passes a forward that does not declare it; one that does still redacts."""
    refused = httpx.request("TRACE", f"{served['rest']}/fwd/trace", timeout=10)
    assert refused.status_code == 405
    assert refused.json()["error"]["type"] == "method_not_allowed"
    assert "TRACE" not in refused.headers["allow"] and "GET" in refused.headers["allow"]
    declared = httpx.request("TRACE", f"{served['rest']}/trace/trace", timeout=10)
    assert declared.status_code == 200
    assert declared.headers["content-type"] == "message/http"
    assert "TRACE /trace HTTP/1.1" in declared.text
    assert BEARER not in declared.text and "Authorization: ***" in declared.text


@pytest.mark.parametrize(
    "path", ["..%2f..%2fadmin", "..%5c..%5cadmin", "..;/..;/admin", "%252e%252e/admin", "a/..%2F"]
)
def test_forward_refuses_traversal_in_every_encoding(served: dict[str, Any], path: str) -> None:
    """F-2: what a server decoding `%2F`/`%5C` or cutting `;params` would read as `..`."""
    connection = HTTPConnection("127.0.0.1", int(served["rest"].rsplit(":", 1)[1]))
    connection.request("GET", f"/fwd/{path}")
    response = connection.getresponse()
    body = json.loads(response.read())
    connection.close()
    assert response.status == 400, body
    assert body["error"]["type"] == "invalid_request"


def test_an_encoded_slash_that_is_no_traversal_still_passes(served: dict[str, Any]) -> None:
    reply = httpx.get(f"{served['rest']}/fwd/a%2Fb/octet200", timeout=10)
    assert reply.status_code == 200
    assert "GET /a%2Fb/octet200 HTTP/1.1" in reply.text


def test_a_forwarded_body_over_the_cap_is_a_413(served: dict[str, Any]) -> None:
    """F-3: declared too large, refused unread; streamed past the cap, cut with a 413."""
    size = 10 * 1024 * 1024 + 1
    declared = httpx.post(f"{served['rest']}/fwd/octet200", content=b"x" * size, timeout=30)
    assert declared.status_code == 413, declared.text
    assert declared.json()["error"]["type"] == "payload_too_large"

    def chunks() -> Iterator[bytes]:
        for _ in range(11):
            yield b"y" * (1024 * 1024)

    streamed = httpx.post(f"{served['rest']}/fwd/octet200", content=chunks(), timeout=30)
    assert streamed.status_code == 413, streamed.text
    assert streamed.json()["error"]["type"] == "payload_too_large"


def test_a_reset_mid_body_is_a_502_never_a_short_success(served: dict[str, Any]) -> None:
    """H1-1: 91 of 200 CSV rows and a TCP reset are no answer; an orderly close still is."""
    cut = httpx.get(f"{served['rest']}/rows/reset", timeout=10)
    assert cut.status_code == 502, (served["client"], cut.text[:200])
    assert cut.json()["error"]["type"] == "upstream_bad_response"
    whole = httpx.get(f"{served['rest']}/rows/whole", timeout=10)
    assert whole.status_code == 200, whole.text
    assert len(whole.json()) >= 199  # every row (the first may be read as the header)


def test_a_reset_event_stream_ends_with_an_error_event(served: dict[str, Any]) -> None:
    with httpx.stream("GET", f"{served['rest']}/fwd/reset-stream", timeout=10) as reply:
        text = b"".join(reply.iter_raw()).decode()
    assert 'data: {"n": 1}' in text
    assert "event: error" in text, (served["client"], text)
    assert '"type":"upstream_bad_response"' in text, (served["client"], text)


async def test_mcp_a_reset_mid_body_is_an_error_result(served: dict[str, Any]) -> None:
    async with Client(served["mcp"]) as client:
        result = await client.call_tool("rows", {"kind": "reset"})
    assert result.is_error, result.content
    text = " ".join(getattr(c, "text", "") for c in result.content)
    assert "cut off" in text


def test_the_log_holds_no_secret(served: dict[str, Any]) -> None:
    for kind in ("json200", "json404", "octet200"):
        httpx.get(f"{served['rest']}/echo/{kind}", timeout=10)
        httpx.get(f"{served['rest']}/fwd/{kind}", timeout=10)
    assert _leaks(served["process"].output()) == []
    assert base64.b64encode(BEARER.encode()).decode() not in served["process"].output()


def test_a_trusted_header_the_client_calls_hop_by_hop_is_not_forwarded(
    served: dict[str, Any],
) -> None:
    """RFC 9110 7.6.1: a header named in `Connection` is for this hop only, trusted or not
    (a client would otherwise strip a header the gateway adds, or smuggle one past it)."""
    headers = {"Connection": "keep-alive, X-Tenant", "X-Tenant": "acme", "X-Trace": "t-1"}
    reply = httpx.get(f"{served['rest']}/trace/octet200", headers=headers, timeout=10)
    assert reply.status_code == 200
    assert "X-Trace: t-1" in reply.text
    assert "X-Tenant" not in reply.text


def test_a_late_unsolicited_reply_never_answers_the_next_request(served: dict[str, Any]) -> None:
    """A reply the upstream sends after the one asked for belongs to no request: the
    connection it came on is not reused, so the next request gets its own answer."""
    import time

    for _ in range(3):
        first = httpx.get(f"{served['rest']}/echo/late", timeout=10)
        assert first.json() == {"answer": "late"}
        time.sleep(0.1)  # the unsolicited reply has arrived on the idle connection
        after = httpx.get(f"{served['rest']}/echo/ok", timeout=10)
        assert after.json() == {"answer": "ok"}, served["client"]


def test_headers_passed_back_never_hold_a_secret(served: dict[str, Any]) -> None:
    """Found by review: the header policy passed `Link`, `Content-Disposition` and
    rate-limit headers back as the upstream sent them, echoed secret and all."""
    reply = httpx.get(f"{served['rest']}/echo/headers-echo", timeout=10)
    assert reply.status_code == 200
    sent = json.dumps(dict(reply.headers))
    assert _leaks(sent) == [], sent
    assert "***" in reply.headers["content-disposition"]
    assert reply.headers["x-ratelimit-key"] == "***"


async def test_an_mcp_binary_result_never_holds_a_secret(served: dict[str, Any]) -> None:
    """Found by review: bytes an MCP tool returned were base64-encoded unredacted."""
    import base64 as b64

    async with Client(served["mcp"]) as client:
        result = await client.call_tool("blob", {"kind": "octet200"})
    assert not result.is_error, result.content
    (block,) = result.content
    blob = getattr(getattr(block, "resource", None), "blob", None) or getattr(block, "data", "")
    decoded = b64.b64decode(blob).decode("latin-1")
    assert "X-Api-Token: ***" in decoded  # the echo itself, redacted
    assert _leaks(decoded) == [], decoded
