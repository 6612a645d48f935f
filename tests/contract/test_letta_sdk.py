"""Letta through the gateway with the official `letta-client` SDK (1.x, PyPI): the Letta
server's own OpenAPI description (the canonical one in the shared corpus; no registry
ships it) imported, served against a Prism mock behind a recording proxy. Bearer upstream
with the gateway's key (the SDK's never passes), arrays in the query as repeated keys, a
JSON body member by member, and a multipart upload whose file keeps its name, type and
bytes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qs

import orjson
import pytest

from tests.conftest import REPO
from tests.fixtures.openapi_slice import slice_document
from tests.fixtures.prism import PRISM, running_prism
from tests.fixtures.process import serve
from tests.fixtures.recording_proxy import RecordingProxy
from tests.fixtures.sdk_venvs import sdk_python
from tests.fixtures.upstream import running

DESCRIPTION = REPO.parent / "shared" / "corpus" / "letta" / "openapi" / "letta-openapi-full.json"
DRIVER = REPO / "tests" / "fixtures" / "letta_contract_driver.py"
FOLDER = "source-123e4567-e89b-42d3-a456-426614174000"
PATHS = ["/v1/runs/", "/v1/folders/{folder_id}/upload", "/v1/blocks/"]
OPERATIONS = ["list_runs", "upload_file_to_folder", "create_block"]


@pytest.fixture(scope="module")
def called(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not (DESCRIPTION.exists() and PRISM.exists()):
        pytest.skip("needs the shared corpus's Letta OpenAPI and Prism (scripts/install)")
    folder = tmp_path_factory.mktemp("letta")
    document = slice_document(DESCRIPTION, PATHS, folder / "letta-slice.json")
    spec = folder / "letta.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "naftiko_runtime", "import", "openapi", str(document)]
        + ["--namespace", "letta", "-o", str(spec), "--select", *OPERATIONS],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "would refuse" not in done.stderr, done.stderr
    with running_prism(document, folder / "prism.log") as prism:
        recorder = RecordingProxy(prism)
        with running(recorder) as base:
            args = [spec, "--upstream", f"letta={base}"]
            with serve(*args, env={"LETTA_TOKEN": "gateway-key"}) as process:
                sdk = subprocess.run(
                    [str(sdk_python("1")), str(DRIVER), process.rest],
                    capture_output=True,
                    text=True,
                    timeout=120,
                )
                assert sdk.returncode == 0, sdk.stderr + process.output()[-3000:]
                yield {"sdk": json.loads(sdk.stdout), "seen": recorder.seen}


def _sent(called: dict[str, Any], method: str, path: str) -> tuple[str, dict[str, str], bytes]:
    (found,) = [(q, h, b) for m, p, q, h, b in called["seen"] if (m, p) == (method, path)]
    return found


def test_arrays_in_the_query_go_up_as_repeated_keys(called: dict[str, Any]) -> None:
    assert isinstance(called["sdk"]["runs"], int)
    query, headers, _ = _sent(called, "GET", "/v1/runs/")
    assert parse_qs(query) == {
        "agent_ids": ["agent-1", "agent-2"],
        "statuses": ["completed", "failed"],
        "limit": ["2"],
    }
    assert headers["authorization"] == "Bearer gateway-key"  # never the SDK's own key


def test_a_multipart_upload_keeps_its_file(called: dict[str, Any]) -> None:
    assert called["sdk"]["upload"] == "FileUploadResponse"
    query, headers, body = _sent(called, "POST", f"/v1/folders/{FOLDER}/upload")
    assert parse_qs(query) == {"duplicate_handling": ["replace"]}
    head = f"Content-Type: {headers['content-type']}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    (part,) = list(message.iter_parts())
    assert part.get_param("name", header="content-disposition") == "file"
    assert part.get_filename() == "notes.md" and part.get_content_type() == "text/markdown"
    assert part.get_payload(decode=True) == b"# Notes\nhello\n"


def test_a_json_body_carries_every_member_the_sdk_sent(called: dict[str, Any]) -> None:
    assert called["sdk"]["block"] == "BlockResponse"
    _, headers, body = _sent(called, "POST", "/v1/blocks/")
    assert orjson.loads(body) == {
        "label": "human",
        "value": "Ada",
        "limit": 5000,
        "tags": ["a", "b"],
    }
    assert headers["content-type"] == "application/json"
