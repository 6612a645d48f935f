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
from typing import Any
from urllib.parse import parse_qs

import pytest

from tests.conftest import REPO
from tests.fixtures.openapi_slice import slice_document
from tests.fixtures.prism import PRISM, running_prism
from tests.fixtures.process import serve
from tests.fixtures.recording_proxy import RecordingProxy
from tests.fixtures.upstream import running

DESCRIPTION = REPO / "node_modules" / "@okta" / "openapi" / "dist" / "spec.json"
DRIVER = REPO / "tests" / "fixtures" / "okta_contract_driver.py"
PATHS = ["/api/v1/groups", "/api/v1/groups/{groupId}"]


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
        recorder = RecordingProxy(prism)
        with running(recorder) as base:
            args = [spec, "--upstream", f"okta={base}"]
            with serve(*args, env={"OKTA_API_KEY": "gateway-token"}) as process:
                env = {**os.environ, "OKTA_TESTING_TESTINGDISABLEHTTPSCHECK": "true"}
                sdk = subprocess.run(
                    [sys.executable, str(DRIVER), process.rest],
                    capture_output=True,
                    text=True,
                    timeout=120,
                    env=env,
                )
                assert sdk.returncode == 0, sdk.stderr[-3000:]
                yield {"sdk": json.loads(sdk.stdout), "seen": recorder.seen, "spec": spec}


def test_the_sdk_lists_groups_through_the_gateway(called: dict[str, Any]) -> None:
    assert called["sdk"]["error"] is None and called["sdk"]["ids"], called["sdk"]
    ((method, path, query, headers, _),) = called["seen"]
    assert (method, path) == ("GET", "/api/v1/groups")
    assert parse_qs(query) == {"q": ["Eng"], "limit": ["2"]}
    assert headers["authorization"] == "SSWS gateway-token"  # never the SDK's own token


def test_the_scheme_word_comes_from_the_description(called: dict[str, Any]) -> None:
    text = called["spec"].read_text()
    assert 'value: "SSWS {{env.OKTA_API_KEY}}"' in text
    assert "guessed: the key is sent as 'SSWS' then the key" in text
