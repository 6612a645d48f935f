"""Mock outputs on MCP tools (the tutorial's first step): answers from the spec alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from tests.fixtures.process import serve

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]
SPEC = """\
naftiko: "1.0.0-alpha2"
info:
  label: "Mock shipyard"
  description: "No upstream yet."
capability:
  exposes:
    - type: mcp
      namespace: ships-mcp
      port: 9090
      tools:
        - name: get-ship
          description: "Retrieve a ship's details by IMO number"
          inputParameters:
            - name: imo_number
              type: string
              required: true
              description: "IMO number of the ship"
          outputParameters:
            - name: imo
              type: string
              value: "{{imo_number}}"
            - name: length
              type: number
              value: "120.5"
            - name: active
              type: boolean
              value: "true"
"""


async def test_mock_tool_and_operation(tmp_path: Path) -> None:
    spec = tmp_path / "mock.yaml"
    spec.write_text(SPEC)
    with serve(spec, ports=[9090], ready="/mcp") as process:
        assert "unsupported" not in process.output()
        async with Client(process.mcp) as client:
            result = await client.call_tool("get-ship", {"imo_number": "IMO-9"})
            assert result.structured_content == {"imo": "IMO-9", "length": 120.5, "active": True}
            missing = await client.call_tool("get-ship", {})
            assert missing.is_error and "imo_number (required)" in missing.content[0].text


def test_rest_operation_without_call_maps_its_own_inputs(tmp_path: Path) -> None:
    import httpx

    spec = tmp_path / "static-rest.yaml"
    spec.write_text(
        'naftiko: "1.0.0-alpha2"\ninfo:\n  label: "Static"\n  description: "No upstream."\n'
        "capability:\n  exposes:\n    - type: rest\n      namespace: static-rest\n"
        '      port: 8080\n      resources:\n        - path: "/ships/{imo}"\n'
        "          operations:\n            - method: GET\n              outputParameters:\n"
        "                - type: object\n                  properties:\n"
        "                    id:\n                      type: string\n"
        '                      mapping: "$.imo"\n'
        "                    fleet:\n                      type: string\n"
        '                      value: "north"\n'
    )
    with serve(spec, ports=[8080]) as process:
        response = httpx.get(process.rest + "/ships/IMO-3", timeout=10)
    assert response.json() == {"id": "IMO-3", "fleet": "north"}
