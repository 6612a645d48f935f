"""Aggregate functions reached through `ref`: one definition served as REST and MCP, with
semantics turned into tool hints and the caller's overrides winning."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from mcp import Client

from tests.fixtures.process import serve
from tests.fixtures.specs import items_consumes
from tests.fixtures.upstream import RecordingUpstream, running

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]
SPEC = """\
naftiko: "1.0.0-alpha2"
info:
  label: "Aggregates"
  description: "One function, two adapters."
capability:
{consumes}  aggregates:
    - label: "Items"
      namespace: items
      functions:
        - name: list-items
          description: "List items of a kind."
          semantics:
            safe: true
            idempotent: true
          inputParameters:
            - name: kind
              type: string
              description: "Which kind"
          call: api.list-items
          with:
            kind: items.kind
  exposes:
    - type: rest
      namespace: items-rest
      port: 8080
      resources:
        - path: "/kinds/{kind}/items"
          operations:
            - method: GET
              ref: items.list-items
    - type: mcp
      namespace: items-mcp
      port: 9090
      tools:
        - ref: items.list-items
          name: list-items
          hints:
            openWorld: true
"""


@pytest.fixture
def served(tmp_path: object) -> Iterator[tuple[RecordingUpstream, dict[str, str]]]:
    from pathlib import Path

    spec = Path(str(tmp_path)) / "aggregates.yaml"
    consumes = items_consumes().replace(
        "              method: GET\n",
        "              method: GET\n"
        "              inputParameters:\n"
        "                - name: kind\n"
        "                  in: query\n",
    )
    spec.write_text(SPEC.replace("{consumes}", consumes))
    upstream = RecordingUpstream()
    with running(upstream) as url:
        with serve(spec, "--upstream", f"api={url}") as process:
            assert "unsupported" not in process.output()
            yield upstream, process.urls


async def test_ref_serves_the_function_over_rest_and_mcp(
    served: tuple[RecordingUpstream, dict[str, str]],
) -> None:
    upstream, urls = served
    assert httpx.get(urls["rest"] + "/kinds/tools/items", timeout=10).status_code == 200
    assert (upstream.seen[-1].raw_path, upstream.seen[-1].query) == ("/items", "kind=tools")
    async with Client(urls["mcp"]) as client:
        [tool] = (await client.list_tools()).tools
        assert tool.description == "List items of a kind."  # inherited from the function
        assert tool.input_schema["required"] == ["kind"]
        hints = tool.annotations
        assert hints is not None
        assert (
            hints.read_only_hint,
            hints.destructive_hint,
            hints.idempotent_hint,
            hints.open_world_hint,
        ) == (True, False, True, True)
        result = await client.call_tool("list-items", {"kind": "parts"})
        assert result.is_error is False
    assert upstream.seen[-1].query == "kind=parts"
