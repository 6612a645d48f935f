"""Streams and pools (hardening item 6) over real loopback HTTP, with both HTTP clients: a
stream that keeps sending outlives `--timeout`, a silent one is cut with an error event, a
request finding the pool full gets a fast 503, and a digest namespace is challenged once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.adapters.test_auth_and_config_e2e import PASSWORD, USER, DigestUpstream
from tests.fixtures.process import serve
from tests.fixtures.upstream import running

pytestmark = pytest.mark.e2e

SPEC = """\
naftiko: "1.0.0-alpha2"
binds:
  - namespace: env
    keys:
      USER_NAME: USER_NAME
      USER_PASS: USER_PASS
capability:
  consumes:
    - type: http
      namespace: api
      baseUri: "http://127.0.0.1:9"
      resources:
        - name: stream
          path: "/stream/{{kind}}"
          operations:
            - name: get-stream
              method: GET
              inputParameters:
                - name: kind
                  in: path
                  type: string
        - name: slow
          path: "/slow"
          operations:
            - name: get-slow
              method: GET
    - type: http
      namespace: digest
      baseUri: "http://127.0.0.1:9"
      authentication:
        type: digest
        username: "{{env.USER_NAME}}"
        password: "{{env.USER_PASS}}"
      resources:
        - name: items
          path: "/items"
          operations:
            - name: list-items
              method: GET
  exposes:
    - type: rest
      namespace: streams
      port: 8080
      resources:
        - path: "/stream/{kind}"
          operations:
            - method: GET
              name: stream
              inputParameters:
                - name: kind
                  in: path
                  type: string
                  description: "long or stalled"
              call: api.get-stream
        - path: "/slow"
          operations:
            - method: GET
              name: slow
              call: api.get-slow
        - path: "/items"
          operations:
            - method: GET
              name: items
              call: digest.list-items
"""


class StreamingUpstream:
    """`/stream/long`: 8 events 0.25 s apart (2 s in all); `/stream/stalled`: one event, then
    silence; `/slow`: a JSON answer after 1.5 s; anything else: the digest upstream."""

    def __init__(self) -> None:
        self.digest = DigestUpstream()
        self.challenges = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope["path"]
        if path == "/slow":
            await asyncio.sleep(1.5)
            await _send(send, b"application/json", [b'{"slow": true}'])
        elif path.startswith("/stream/"):
            long = path.endswith("/long")
            events = [b"data: %d\n\n" % i for i in range(8 if long else 1)]
            await _send(send, b"text/event-stream", events, 0.25, stall=not long)
        else:
            if not any(k == b"authorization" for k, _ in scope["headers"]):
                self.challenges += 1
            await self.digest(scope, receive, send)


async def _send(
    send: Any, kind: bytes, chunks: list[bytes], gap: float = 0.0, stall: bool = False
) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", kind)]})
    for chunk in chunks:
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await asyncio.sleep(gap)
    if stall:
        await asyncio.sleep(5)
    await send({"type": "http.response.body", "body": b""})


@pytest.fixture(scope="module", params=["pyreqwest", "aiohttp", "h1"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    spec = tmp_path_factory.mktemp("streams") / "streams.yaml"
    spec.write_text(SPEC)
    upstream = StreamingUpstream()
    with running(upstream) as base:
        args = [spec, "--upstream", f"*={base}"]
        args += ["--http-client", request.param, "--timeout", "1"]
        args += ["--stream-idle-timeout", "0.75", "--upstream-connections", "1"]
        args += ["--pool-wait", "0.2"]
        env = {"USER_NAME": USER, "USER_PASS": PASSWORD}
        with serve(*args, env=env, ports=[8080]) as process:
            yield {"url": process.rest, "upstream": upstream}


def test_a_stream_that_keeps_sending_outlives_the_total_timeout(served: dict[str, Any]) -> None:
    reply = httpx.get(served["url"] + "/stream/long", timeout=10)
    assert reply.status_code == 200
    assert [line for line in reply.text.splitlines() if line] == [f"data: {i}" for i in range(8)]


def test_a_silent_stream_is_cut_with_an_error_event(served: dict[str, Any]) -> None:
    reply = httpx.get(served["url"] + "/stream/stalled", timeout=10)
    assert reply.text.startswith("data: 0\n\n")
    assert "event: error\ndata: " in reply.text
    assert '"type":"upstream_timeout"' in reply.text


def test_a_full_pool_answers_503_at_once(served: dict[str, Any]) -> None:
    """One connection per namespace: while a slow call holds it, the next is refused after
    --pool-wait instead of queueing for --timeout (and the slow one still answers)."""

    async def both() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=10) as client:
            first = asyncio.create_task(client.get(served["url"] + "/slow"))
            await asyncio.sleep(0.3)
            second = await client.get(served["url"] + "/slow")
            return [await first, second]

    first, second = asyncio.run(both())
    assert first.status_code == 504  # --timeout 1 against a 1.5 s upstream
    assert second.status_code == 503, second.text
    assert second.json()["error"]["type"] == "upstream_busy"


def test_a_digest_namespace_is_challenged_once(served: dict[str, Any]) -> None:
    before = served["upstream"].challenges
    for _ in range(5):
        reply = httpx.get(served["url"] + "/items", timeout=10)
        assert reply.status_code == 200 and reply.json() == {"ok": "digest"}
    assert served["upstream"].challenges - before <= 1


def test_a_client_leaving_a_stream_frees_its_upstream_connection(served: dict[str, Any]) -> None:
    """With one connection per namespace: a client that reads one event of a 2 s stream and
    leaves must not hold the connection for the rest of it (the next call would be a 503)."""
    with httpx.Client(timeout=10) as client:
        with client.stream("GET", served["url"] + "/stream/long") as reply:
            next(reply.iter_lines())
    time.sleep(0.3)
    again = httpx.get(served["url"] + "/stream/long", timeout=10)
    assert again.status_code == 200, again.text
