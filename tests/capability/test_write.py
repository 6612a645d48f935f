"""`naftiko-runtime create capability`: every combination of auth and adapters validates
under `--strict` as generated, and a generated file serves REST and MCP against a real
upstream, sending its credential and the caller's inputs."""

from __future__ import annotations

import asyncio
import io
import itertools
from pathlib import Path

import httpx
import pytest
from mcp import Client

from naftiko_runtime.cli import run
from tests.fixtures.process import serve
from tests.fixtures.upstream import RecordingUpstream, Reply, running


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return run(list(args), out, err, {}), out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("auth", "expose"),
    list(itertools.product(("none", "bearer", "basic", "apikey"), ("rest", "mcp", "rest,mcp"))),
)
def test_every_scaffold_validates_strictly(tmp_path: Path, auth: str, expose: str) -> None:
    out = tmp_path / "shop.yaml"
    code, _, err = cli(
        "create", "capability", "--namespace", "My Shop", "--auth", auth, "--expose", expose,
        "-o", str(out),
    )  # fmt: skip
    assert code == 0 and "wrote" in err
    code, report, _ = cli("validate", "--strict", "--compile", str(out))
    assert code == 0 and "0 error(s), 0 warning(s)" in report, report
    text = out.read_text()
    assert 'namespace: "my-shop"' in text and ("type: mcp" in text) == ("mcp" in expose)


def test_create_refuses_to_overwrite_and_writes_to_stdout(tmp_path: Path) -> None:
    out = tmp_path / "x.yaml"
    out.write_text("mine")
    code, _, err = cli("create", "capability", "--namespace", "x", "-o", str(out))
    assert code == 2 and "exists" in err and out.read_text() == "mine"
    code, text, _ = cli("create", "capability", "--namespace", "x", "-o", "-")
    assert code == 0 and text.startswith("# X: a Naftiko capability")


@pytest.mark.e2e
def test_a_generated_capability_serves_rest_and_mcp(tmp_path: Path) -> None:
    upstream = RecordingUpstream()
    upstream.script["/v2/items"] = Reply(body=b'[{"id": 1}, {"id": 2}]')
    with running(upstream) as url:
        spec = tmp_path / "shop.yaml"
        code, _, _ = cli(
            "create", "capability", "--namespace", "shop", "--base-uri", url + "/v2",
            "--auth", "bearer", "-o", str(spec),
        )  # fmt: skip
        assert code == 0
        with serve(spec, env={"SHOP_TOKEN": "sk-shop"}) as process:
            base = process.rest
            reply = httpx.get(base + "/items", params={"limit": "2"}, timeout=10)
            assert reply.status_code == 200 and reply.json() == [{"id": 1}, {"id": 2}]
            seen = upstream.seen[-1]
            assert seen.raw_path == "/v2/items" and seen.query == "limit=2"
            assert seen.headers["authorization"] == "Bearer sk-shop"

            async def tool() -> tuple[bool | None, object]:
                async with Client(process.mcp) as client:
                    (listed,) = (await client.list_tools()).tools
                    hints = listed.annotations
                    result = await client.call_tool("list-items", {"limit": 1})
                    return (hints.read_only_hint if hints else None), result.structured_content

            read_only, structured = asyncio.run(tool())
            assert read_only is True and structured == {"result": [{"id": 1}, {"id": 2}]}
            assert upstream.seen[-1].query == "limit=1"
