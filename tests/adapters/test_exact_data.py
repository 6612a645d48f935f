"""Data is not changed on the way (hardening item 5): integers past 64 bits stay exact through
output mapping, pass-through, REST request bodies and MCP, over real loopback HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from mcp import Client

from tests.fixtures.process import serve
from tests.fixtures.specs import api_header
from tests.fixtures.upstream import RecordingUpstream, Reply, running

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]
BIG = 123456789012345678901234567890
WIDE = 18446744073709551616  # 2**64: one past what orjson reads as an integer
DOCUMENT = b'{"id": %d, "wide": %d, "small": 7, "ratio": 1.5, "label": "x"}' % (BIG, WIDE)
SPEC = (
    api_header()
    + """\
        - name: big
          path: "/big"
          operations:
            - name: get-big
              method: GET
              outputParameters:
                - name: id
                  type: number
                  value: "$.id"
                - name: wide
                  type: number
                  value: "$.wide"
        - name: raw
          path: "/raw"
          operations:
            - name: get-raw
              method: GET
        - name: sink
          path: "/sink"
          operations:
            - name: post-sink
              method: POST
              body:
                type: json
                data:
                  amount: "{{amount}}"
  exposes:
    - type: rest
      namespace: exact
      port: 8080
      resources:
        - path: "/mapped"
          operations:
            - method: GET
              name: mapped
              call: api.get-big
        - path: "/raw"
          operations:
            - method: GET
              name: raw
              call: api.get-raw
        - path: "/sink"
          operations:
            - method: POST
              name: sink
              inputParameters:
                - name: amount
                  in: body
                  type: number
                  description: "An amount"
              call: api.post-sink
    - type: mcp
      namespace: exact-mcp
      port: 9090
      tools:
        - name: mapped
          description: "Mapped"
          call: api.get-big
        - name: sink
          description: "Sink"
          inputParameters:
            - name: amount
              type: number
              description: "An amount"
          call: api.post-sink
"""
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    spec = tmp_path_factory.mktemp("exact") / "exact.yaml"
    spec.write_text(SPEC)
    upstream = RecordingUpstream(
        script={"/big": Reply(body=DOCUMENT), "/raw": Reply(body=DOCUMENT)}
    )
    with running(upstream) as base, serve(spec, "--upstream", f"api={base}") as process:
        yield {**process.urls, "upstream": upstream}


def test_mapped_output_keeps_wide_integers(served: dict[str, Any]) -> None:
    reply = httpx.get(served["rest"] + "/mapped", timeout=10)
    assert reply.status_code == 200, reply.text
    assert json.loads(reply.text) == {"id": BIG, "wide": WIDE}


def test_passed_through_output_keeps_wide_integers(served: dict[str, Any]) -> None:
    reply = httpx.get(served["rest"] + "/raw", timeout=10)
    assert json.loads(reply.text)["id"] == BIG


def test_request_body_keeps_wide_integers(served: dict[str, Any]) -> None:
    sent = b'{"amount": %d}' % BIG
    reply = httpx.post(
        served["rest"] + "/sink", content=sent, headers={"content-type": "application/json"}
    )
    assert reply.status_code == 200, reply.text
    body = served["upstream"].seen[-1].body
    assert json.loads(body) == {"amount": BIG}, body


async def test_mcp_keeps_wide_integers_both_ways(served: dict[str, Any]) -> None:
    async with Client(served["mcp"]) as client:
        result = await client.call_tool("mapped", {})
        text = result.content[0].text  # type: ignore[union-attr]
        assert json.loads(text) == {"id": BIG, "wide": WIDE}
        assert result.structured_content == {"id": BIG, "wide": WIDE}
        sunk = await client.call_tool("sink", {"amount": WIDE})
        assert not sunk.is_error, sunk
    assert json.loads(served["upstream"].seen[-1].body) == {"amount": WIDE}
