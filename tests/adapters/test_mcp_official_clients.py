"""The official TypeScript MCP SDK (`@modelcontextprotocol/sdk` from npm), and the Python one
in both protocol eras, list and call every tool of the bundled capabilities over Streamable
HTTP (TypeScript at `/mcp` and at the port's root, as the reference and every Naftiko client
configuration use it)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from naftiko_runtime.simulators.letta import _id
from tests.adapters.test_mcp_e2e import TOOLS
from tests.conftest import REPO
from tests.fixtures.process import serve_bundled

SDK = REPO / "node_modules" / "@modelcontextprotocol" / "sdk"
CLIENT = REPO / "tests" / "fixtures" / "mcp_ts" / "client.mjs"
pytestmark = [
    pytest.mark.contract,
    pytest.mark.skipif(not SDK.exists(), reason="npm ci installs the TypeScript SDK"),
]

JOB, RUN = _id("job", 1), _id("run", 1)
ARGUMENTS: dict[str, dict[str, Any]] = {
    "list-jobs": {"limit": 2},
    "list-active-jobs": {},
    "retrieve-job": {"job_id": JOB},
    "cancel-job": {"job_id": _id("job", 2)},
    "delete-job": {"job_id": _id("job", 3)},
    "list-runs": {"limit": 2},
    "list-active-runs": {},
    "retrieve-run": {"run_id": RUN},
    "delete-run": {"run_id": _id("run", 4)},
    "list-messages-run": {"run_id": RUN},
    "retrieve-usage-run": {"run_id": RUN},
    "retrieve-metrics-run": {"run_id": RUN},
    "list-steps-run": {"run_id": RUN},
    "retrieve-trace-run": {"run_id": RUN},
    "retrieve-stream-run": {"run_id": RUN},
}
READS = {name for name in ARGUMENTS if name.startswith(("list-", "retrieve-"))}


@pytest.fixture(scope="module")
def letta() -> Iterator[dict[str, str]]:
    with serve_bundled() as process:
        yield process.urls


def drive(url: str) -> dict[str, Any]:
    done = subprocess.run(
        ["node", str(CLIENT), url, json.dumps(ARGUMENTS)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize("where", ["/mcp", "/"])
def test_the_typescript_sdk_lists_and_calls_every_bundled_tool(
    letta: dict[str, str], where: str
) -> None:
    url = letta["mcp"].removesuffix("/mcp") + where
    found = drive(url)
    assert found["server"]["name"] == "letta-jobs-mcp+letta-runs-mcp"
    tools = {t["name"]: t for t in found["tools"]}
    assert set(tools) == TOOLS == set(ARGUMENTS)
    assert tools["delete-job"]["annotations"]["destructiveHint"] is True
    assert set(found["calls"]) == TOOLS
    failed = {name: c for name, c in found["calls"].items() if c["isError"] and name in READS}
    assert failed == {}
    listing = found["calls"]["list-jobs"]["text"]  # the upstream's JSON, as text content
    assert listing.startswith("[") and '"job-' in listing
    assert RUN in found["calls"]["retrieve-run"]["text"]


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
def test_the_python_sdk_lists_and_calls_every_bundled_tool_in_both_eras(
    letta: dict[str, str], mode: str
) -> None:
    """The same with the official Python SDK, in the handshake era (`legacy`) and the
    stateless `2026-07-28` era."""
    import asyncio

    from mcp import Client

    async def every() -> dict[str, bool]:
        async with Client(letta["mcp"], mode=mode) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert names == TOOLS
            errors = {}
            for name, arguments in ARGUMENTS.items():
                errors[name] = bool((await client.call_tool(name, arguments)).is_error)
            return errors

    errors = asyncio.run(every())
    assert set(errors) == TOOLS
    assert {name for name, failed in errors.items() if failed and name in READS} == set()
