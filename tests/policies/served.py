"""A capability, its policy file and a real `serve --policies` process, for the policy
tests: one consumed namespace `api` (sent to a loopback upstream the test runs) exposed as
REST routes and MCP tools."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import uvicorn

from tests.fixtures.process import ServeProcess, serve
from tests.fixtures.specs import api_header
from tests.fixtures.upstream import RecordingUpstream, Reply

SPEC = (
    api_header()
    + """\
        - name: items
          path: "/items/{{id}}"
          operations:
            - name: get-item
              method: GET
              inputParameters:
                - name: id
                  in: path
                  type: string
            - name: create-item
              method: POST
              inputParameters:
                - name: id
                  in: path
                  type: string
              body:
                type: json
                data: {"name": "{{id}}"}
        - name: slow
          path: "/slow/{{id}}"
          operations:
            - name: get-slow
              method: GET
              inputParameters:
                - name: id
                  in: path
                  type: string
  exposes:
    - type: rest
      namespace: shop
      port: 8080
      resources:
        - path: "/items/{id}"
          operations:
            - method: GET
              name: item
              inputParameters:
                - name: id
                  in: path
                  type: string
                  description: "Which item"
              call: api.get-item
            - method: POST
              name: create
              inputParameters:
                - name: id
                  in: path
                  type: string
                  description: "Which item"
              call: api.create-item
        - path: "/slow/{id}"
          operations:
            - method: GET
              name: slow
              inputParameters:
                - name: id
                  in: path
                  type: string
                  description: "Which item"
              call: api.get-slow
    - type: mcp
      namespace: shop-mcp
      port: 9090
      tools:
        - name: get-item
          description: "One item"
          inputParameters:
            - name: id
              type: string
              description: "Which item"
          call: api.get-item
"""
)


def write(tmp_path: Path, policies: str) -> tuple[Path, Path]:
    spec, policy = tmp_path / "shop.yaml", tmp_path / "policies.yaml"
    spec.write_text(SPEC)
    policy.write_text(policies)
    return spec, policy


@contextlib.contextmanager
def serve_with_policies(
    spec: Path, policy: Path | None, upstream: str, *extra: str
) -> Iterator[tuple[ServeProcess, dict[str, str]]]:
    args = [spec, "--upstream", f"api={upstream}", *extra]
    if policy is not None:
        args += ["--policies", str(policy)]
    with serve(*args, control=True) as process:
        yield process, process.urls


@contextlib.contextmanager
def running_on(app: Any, port: int) -> Iterator[str]:
    """`app` served by uvicorn on this very port (an upstream that comes back)."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("upstream did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)


def metric(text: str, name: str, **labels: str) -> float:
    """One sample's value from a Prometheus exposition (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        head, _, value = line.rpartition(" ")
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            return float(value)
    return 0.0


class Scripted(RecordingUpstream):
    """A recording upstream whose answers per path prefix come in order (the last one
    repeats): a flapping or recovering upstream."""

    def __init__(self, plan: dict[str, list[Reply]]) -> None:
        super().__init__()
        self.plan = plan

    def reply_for(self, path: str) -> Reply | None:
        for prefix, replies in self.plan.items():
            if path.startswith(prefix):
                return replies.pop(0) if len(replies) > 1 else replies[0]
        return None

    def hits(self, prefix: str, method: str = "GET") -> int:
        return sum(1 for s in self.seen if s.raw_path.startswith(prefix) and s.method == method)


VERSION = "2026-07-28"
META = {
    "io.modelcontextprotocol/protocolVersion": VERSION,
    "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}
FAST = {
    "content-type": "application/json",
    "accept": "application/json, text/event-stream",
    "mcp-protocol-version": VERSION,
    "mcp-method": "tools/call",
    "mcp-name": "get-item",
}


def fast_call(url: str, request_id: int) -> httpx.Response:
    body = {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": "get-item", "arguments": {"id": "1"}, "_meta": META},
    }
    return httpx.post(url, content=orjson.dumps(body), headers=FAST, timeout=10)


def json_rpc(response: httpx.Response) -> dict[str, Any]:
    if response.headers["content-type"].startswith("text/event-stream"):
        data = [line[5:] for line in response.text.splitlines() if line.startswith("data:")]
        reply: dict[str, Any] = orjson.loads(data[-1])
        return reply
    reply = response.json()
    return reply
