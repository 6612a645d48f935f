"""An upstream that echoes secrets in every encoding and speaks broken HTTP (hardening items
3 and 4): nothing a client or a log line sees holds a secret, and every fault of either HTTP
client is a documented 502/504 JSON on REST and an error result on MCP."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pytest
from mcp import Client

from tests.fixtures.process import serve
from tests.fixtures.raw_upstream import http, raw_upstream

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]
KEY = "k3y/with+plus=eq uals&€"
USER, PASSWORD = "ada", "pa ss/w0rd=="
BASIC = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
SPEC = """\
naftiko: "1.0.0-alpha2"
binds:
  - namespace: env
    keys:
      API_KEY: API_KEY
      USER_NAME: USER_NAME
      USER_PASS: USER_PASS
      PAGE_SIZE: PAGE_SIZE
capability:
  consumes:
    - type: http
      namespace: api
      baseUri: "http://127.0.0.1:9"
      authentication:
        type: apikey
        key: api_key
        placement: query
        value: "{{env.API_KEY}}"
      resources:
        - name: fault
          path: "/f/{{kind}}"
          operations:
            - name: get-fault
              method: GET
              inputParameters:
                - name: kind
                  in: path
                  type: string
    - type: http
      namespace: basic
      baseUri: "http://127.0.0.1:9"
      authentication:
        type: basic
        username: "{{env.USER_NAME}}"
        password: "{{env.USER_PASS}}"
      resources:
        - name: echo
          path: "/b/{{kind}}"
          operations:
            - name: get-echo
              method: GET
              inputParameters:
                - name: kind
                  in: path
                  type: string
  exposes:
    - type: rest
      namespace: faults
      port: 8080
      resources:
        - path: "/f/{kind}"
          operations:
            - method: GET
              name: fault
              inputParameters:
                - name: kind
                  in: path
                  type: string
                  description: "Which reply"
              call: api.get-fault
        - path: "/b/{kind}"
          operations:
            - method: GET
              name: echo
              inputParameters:
                - name: kind
                  in: path
                  type: string
                  description: "Which reply"
              call: basic.get-echo
    - type: mcp
      namespace: faults-mcp
      port: 9090
      tools:
        - name: fault
          description: "One fault of the upstream"
          inputParameters:
            - name: kind
              type: string
              description: "Which fault"
          call: api.get-fault
"""


def _target(head: str) -> str:
    return head.split(" ", 2)[1]


def _authorization(head: str) -> str:
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.lower() == "authorization":
            return value.strip()
    return ""


def _json(status: str, payload: str) -> bytes:
    return http(status, payload.encode(), b"Content-Type: application/json")


def _escaped(text: str) -> str:
    """Every character as a JSON \\u escape."""
    return "".join(f"\\u{ord(c):04X}" for c in text)


def _gson(text: str) -> str:
    """How Gson writes a string: `=` and `&` as \\u escapes, `/` as `\\/`."""
    return text.replace("/", "\\/").replace("=", "\\u003d").replace("&", "\\u0026")


ECHOES: dict[str, Any] = {
    # the request target as received: the key percent-encoded by the runtime
    "echo401": lambda h: _json("401 Unauthorized", json.dumps({"detail": f"bad {_target(h)}"})),
    "echo-plus": lambda h: http("400 Bad Request", f"key={quote_plus(KEY)}".encode()),
    "echo-safe": lambda h: http("404 Not Found", f"no {quote(KEY, safe='')}".encode()),
    "echo-gson": lambda h: _json("403 Forbidden", '{"key": "' + _gson(KEY) + '"}'),
    "echo-lowhex": lambda h: _json("422 Unprocessable", json.dumps({"key": quote(KEY).lower()})),
    "echo200": lambda h: _json("200 OK", json.dumps({"ok": False, "error": f"key {KEY}"})),
    "echo-unicode": lambda h: _json("200 OK", '{"k": "' + _escaped(KEY) + '"}'),
    "redirect": lambda h: http(
        "302 Found", _target(h).encode(), f"Location: {_target(h)}".encode()
    ),
    "stream": lambda h: [
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n",
        f"data: {quote(KEY)[:5]}".encode(),
        f"{quote(KEY)[5:]}\n\n".encode(),
        b"data: end\n\n",
    ],
}
BASIC_ECHOES: dict[str, Any] = {
    "basic401": lambda h: _json("401 Unauthorized", json.dumps({"got": _authorization(h)})),
    "basic200": lambda h: _json("200 OK", json.dumps({"got": _authorization(h)})),
}
FAULTS: dict[str, Any] = {
    "ok": lambda h: _json("200 OK", '{"ok": true}'),
    "bad-status": lambda h: b"HTTP/1.1 2OO OK\r\nContent-Length: 2\r\n\r\n{}",
    "garbage": lambda h: b"\x00\x01\x02 not http at all\r\n\r\n",
    "huge-headers": lambda h: http("200 OK", b"{}", b"X-Big: " + b"a" * 300_000),
    "after-length": lambda h: http("200 OK", b"{}", b"Content-Length: 2") + b"GARBAGE\r\n\r\n",
    "latin1-type": lambda h: http("200 OK", b"{}", b"Content-Type: application/j\xe9son"),
    "utf8-type": lambda h: http("400 Bad", b"{}", "Content-Type: text/\u00e9v".encode()),
    "cut": lambda h: http("200 OK", b'{"a": 1', b"Content-Length: 100", close=True),
    "cut-head": lambda h: [b"HTTP/1.1 200 OK\r\nContent-", None],
    "close": lambda h: None,
}
FORMS = [
    KEY,
    quote(KEY),
    quote(KEY, safe=""),
    quote_plus(KEY),
    quote(KEY).lower(),
    json.dumps(KEY)[1:-1],
    _gson(KEY),
    PASSWORD,
    quote(PASSWORD, safe=""),
    BASIC,
]


@pytest.fixture(scope="module", params=["pyreqwest", "aiohttp", "h1"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    spec = tmp_path_factory.mktemp("hostile") / "hostile.yaml"
    spec.write_text(SPEC)
    replies = {**ECHOES, **BASIC_ECHOES, **FAULTS, "page": lambda h: _json("200 OK", PAGE)}
    env = {"API_KEY": KEY, "USER_NAME": USER, "USER_PASS": PASSWORD, "PAGE_SIZE": "1000"}
    with raw_upstream(replies) as base:
        args = [spec, "--upstream", f"*={base}", "--http-client", request.param]
        args += ["--timeout", "5", "--access-log"]
        with serve(*args, env=env) as process:
            yield {**process.urls, "process": process}


PAGE = '{"limit": 1000, "items": []}'


def test_a_bound_value_that_is_no_credential_stays_in_bodies(served: dict[str, Any]) -> None:
    """Only credentials leave pass-through bodies: `PAGE_SIZE=1000` is bound but is not
    authentication, so an upstream's `{"limit": 1000}` stays valid JSON."""
    reply = httpx.get(f"{served['rest']}/f/page", timeout=10)
    assert reply.json() == {"limit": 1000, "items": []}


def _leaks(text: str) -> list[str]:
    return [form for form in FORMS if form in text]


@pytest.mark.parametrize("kind", sorted(ECHOES))
def test_no_secret_in_any_echo_of_the_upstream(served: dict[str, Any], kind: str) -> None:
    reply = httpx.get(f"{served['rest']}/f/{kind}", timeout=10)
    assert _leaks(reply.text) == [], (reply.status_code, reply.text)
    assert _leaks(json.dumps(dict(reply.headers))) == []
    assert "***" in reply.text or kind == "redirect"


@pytest.mark.parametrize("kind", sorted(BASIC_ECHOES))
def test_no_basic_pair_in_any_echo(served: dict[str, Any], kind: str) -> None:
    reply = httpx.get(f"{served['rest']}/b/{kind}", timeout=10)
    assert _leaks(reply.text) == [], reply.text
    assert "***" in reply.text


def test_an_upstream_redirect_is_a_502_naming_its_status(served: dict[str, Any]) -> None:
    """Redirects are not followed: a 3xx is an upstream error, never a success."""
    reply = httpx.get(f"{served['rest']}/f/redirect", timeout=10)
    assert reply.status_code == 502
    assert reply.json()["error"]["type"] == "upstream_redirect"
    assert reply.json()["error"]["upstream_status"] == 302
    assert "location" not in reply.headers


@pytest.mark.parametrize("kind", [k for k in sorted(FAULTS) if k != "ok"])
def test_every_client_fault_is_a_json_502(served: dict[str, Any], kind: str) -> None:
    for _ in range(2):  # the second call may reuse what the first left on the connection
        reply = httpx.get(f"{served['rest']}/f/{kind}", timeout=10)
        assert reply.headers["content-type"] == "application/json", reply.text
        if reply.status_code != 200:
            assert reply.status_code == 502, reply.text
            assert reply.json()["error"]["type"].startswith("upstream_"), reply.text
    after = httpx.get(f"{served['rest']}/f/ok", timeout=10)
    assert after.status_code == 200 and after.json() == {"ok": True}


async def test_mcp_errors_hold_no_secret_and_no_foreign_exception(
    served: dict[str, Any],
) -> None:
    async with Client(served["mcp"]) as client:
        for kind in [*sorted(ECHOES), *sorted(FAULTS)]:
            result = await client.call_tool("fault", {"kind": kind})
            text = " ".join(getattr(c, "text", "") for c in result.content)
            assert _leaks(text) == [], (kind, text)
            if result.is_error:
                assert "upstream" in text, (kind, text)
                assert "Error" not in text and "Exception" not in text, (kind, text)


def test_the_log_holds_no_secret(served: dict[str, Any]) -> None:
    for kind in [*ECHOES, *FAULTS]:
        httpx.get(f"{served['rest']}/f/{kind}", params={"api_key": KEY}, timeout=10)
    log = served["process"].output()
    assert _leaks(log) == []
    assert " GET /f/{kind} 200 " in log  # the access line names the route, never the query
    assert "api_key" not in log
