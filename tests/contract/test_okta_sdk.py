"""Okta through the gateway with the official `okta` Python SDK: Okta's own Swagger 2.0
description (npm `@okta/openapi`) imported, served against a Prism mock of it behind a
recording proxy: the Swagger 2.0 import path, and an API-key scheme whose value carries a
scheme word (`Authorization: SSWS {API Token}`, read from the scheme's description), sent with
the gateway's own token, never the SDK's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from tests.conftest import REPO
from tests.fixtures.openapi_slice import slice_document
from tests.fixtures.prism import PRISM, running_prism
from tests.fixtures.process import ServeProcess
from tests.fixtures.upstream import free_port, read_body, running

DESCRIPTION = REPO / "node_modules" / "@okta" / "openapi" / "dist" / "spec.json"
DRIVER = REPO / "tests" / "fixtures" / "okta_contract_driver.py"
PATHS = ["/api/v1/groups", "/api/v1/groups/{groupId}"]


@dataclass
class Recorder:
    prism: str
    seen: list[tuple[str, str, str, dict[str, str]]] = field(default_factory=list)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = await read_body(receive)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        query = scope["query_string"].decode()
        self.seen.append((scope["method"], scope["path"], query, headers))
        forwarded = {k: v for k, v in headers.items() if k not in ("host", "content-length")}
        async with httpx.AsyncClient(base_url=self.prism) as client:
            reply = await client.request(
                scope["method"], scope["path"], params=query, headers=forwarded, content=body
            )
        kind = reply.headers.get("content-type", "application/json").encode()
        start = {"type": "http.response.start", "status": reply.status_code}
        await send({**start, "headers": [(b"content-type", kind)]})
        await send({"type": "http.response.body", "body": reply.content})


@pytest.fixture(scope="module")
def called(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not (DESCRIPTION.exists() and PRISM.exists()):
        pytest.skip("needs npm's @okta/openapi and Prism (scripts/install)")
    pytest.importorskip("okta")
    folder = tmp_path_factory.mktemp("okta")
    document = slice_document(DESCRIPTION, PATHS, folder / "okta-slice.json")
    spec = folder / "okta.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "naftiko_runtime", "import", "openapi", str(document)]
        + ["--namespace", "okta", "-o", str(spec), "--select", "listGroups", "getGroup"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "would refuse" not in done.stderr, done.stderr
    with running_prism(document, folder / "prism.log") as prism:
        recorder = Recorder(prism)
        with running(recorder) as base:
            rest, mcp = free_port(), free_port()
            args = [str(spec), "--upstream", f"okta={base}"]
            args += ["--port", f"8080={rest}", "--port", f"9090={mcp}"]
            with ServeProcess(args, env={"OKTA_API_KEY": "gateway-token"}) as process:
                process.wait_ready(f"http://127.0.0.1:{rest}/openapi.json")
                env = {**os.environ, "OKTA_TESTING_TESTINGDISABLEHTTPSCHECK": "true"}
                sdk = subprocess.run(
                    [sys.executable, str(DRIVER), f"http://127.0.0.1:{rest}"],
                    capture_output=True,
                    text=True,
                    timeout=120,
                    env=env,
                )
                assert sdk.returncode == 0, sdk.stderr[-3000:]
                yield {"sdk": json.loads(sdk.stdout), "seen": recorder.seen, "spec": spec}


def test_the_sdk_lists_groups_through_the_gateway(called: dict[str, Any]) -> None:
    assert called["sdk"]["error"] is None and called["sdk"]["ids"], called["sdk"]
    ((method, path, query, headers),) = called["seen"]
    assert (method, path) == ("GET", "/api/v1/groups")
    assert parse_qs(query) == {"q": ["Eng"], "limit": ["2"]}
    assert headers["authorization"] == "SSWS gateway-token"  # never the SDK's own token


def test_the_scheme_word_comes_from_the_description(called: dict[str, Any]) -> None:
    text = called["spec"].read_text()
    assert 'value: "SSWS {{env.OKTA_API_KEY}}"' in text
    assert "guessed: the key is sent as 'SSWS' then the key" in text
