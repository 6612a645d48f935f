"""Contract: our REST adapter in front of a Prism mock of the Letta OpenAPI documents.

Prism validates each request against the OpenAPI (bearer auth, id patterns) and answers with
schema-shaped data; every GET operation must come back 2xx through our adapter.
Skipped when ../shared (the OpenAPI documents) or Prism (installed by scripts/install) is absent.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import CAPABILITIES, CORPUS
from tests.fixtures.prism import PRISM, running_prism
from tests.fixtures.process import serve

OPENAPI = CORPUS / "letta" / "openapi" / "letta-openapi-jobs-runs.json"
JOB_ID = "job-123e4567-e89b-42d3-8456-426614174000"
RUN_ID = "run-123e4567-e89b-42d3-8456-426614174000"

pytestmark = [
    pytest.mark.contract,
    pytest.mark.skipif(not OPENAPI.is_file(), reason="../shared/corpus is not beside the repo"),
    pytest.mark.skipif(not PRISM.exists(), reason="Prism is not installed (run scripts/install)"),
]


@pytest.fixture(scope="module")
def prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_prism(OPENAPI, tmp_path_factory.mktemp("prism") / "prism.log") as url:
        yield url


def _get_paths() -> list[str]:
    document = json.loads(OPENAPI.read_text())
    return [path for path, operations in document["paths"].items() if "get" in operations]


@pytest.fixture(scope="module")
def adapter(prism: str) -> Iterator[str]:
    with serve(
        CAPABILITIES, "--upstream", f"*={prism}", env={"LETTA_API_KEY": "prism-token"}
    ) as process:
        yield process.rest


@pytest.mark.timeout(180)
def test_every_get_operation_is_2xx_through_the_adapter(adapter: str) -> None:
    paths = _get_paths()
    assert len(paths) == 11
    failures = []
    for path in paths:
        url = adapter + path.replace("{job_id}", JOB_ID).replace("{run_id}", RUN_ID)
        response = httpx.get(url, timeout=30)
        if not 200 <= response.status_code < 300:
            failures.append((path, response.status_code, response.text[:200]))
    assert failures == []


@pytest.mark.timeout(180)
def test_prism_rejections_pass_through(adapter: str) -> None:
    response = httpx.get(adapter + "/v1/jobs/not-a-job-id", timeout=30)
    assert response.status_code == 422  # Prism validates the documented id pattern


def test_prism_enforces_auth_so_the_pass_is_meaningful(prism: str) -> None:
    assert httpx.get(prism + "/v1/jobs/", timeout=30).status_code == 401
    assert Path(PRISM).exists()
