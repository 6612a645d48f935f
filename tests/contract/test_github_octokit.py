"""GitHub through the gateway, as a user of the official SDK sees it: GitHub's own OpenAPI
description (npm `@octokit/openapi`) imported with `import openapi --select`, served against
a Prism mock of that description, and called with the official `@octokit/rest`. A recording
proxy between the gateway and Prism asserts the exact request GitHub would receive, and adds
what Prism cannot play: GitHub's paging `Link`s across three pages, an `ETag` answered 304,
the rate-limit headers, a `Location` into the API, and the diff media type. The same
operations run as MCP tools through the official Python client."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from mcp import Client

from tests.conftest import REPO
from tests.fixtures.openapi_slice import slice_document
from tests.fixtures.prism import PRISM, running_prism
from tests.fixtures.process import serve
from tests.fixtures.upstream import read_body, running

pytestmark = pytest.mark.anyio
DESCRIPTION = REPO / "node_modules" / "@octokit" / "openapi" / "generated" / "api.github.com.json"
SDK = REPO / "node_modules" / "@octokit" / "rest"
PATHS = [
    "/repos/{owner}/{repo}",
    "/orgs/{org}/repos",
    "/repos/{owner}/{repo}/issues",
    "/repos/{owner}/{repo}/issues/{issue_number}",
    "/repos/{owner}/{repo}/issues/{issue_number}/comments",
    "/repos/{owner}/{repo}/pulls",
    "/repos/{owner}/{repo}/pulls/{pull_number}",
]
OPERATIONS = [
    "repos/get",
    "repos/list-for-org",
    "issues/list-for-repo",
    "issues/get",
    "issues/create",
    "issues/create-comment",
    "pulls/create",
    "pulls/get",
]
ETAG = '"644b5b0155e6404a9cc4bd9d8b1ae730"'
DIFF = "diff --git a/README b/README\nindex 1..2 100644\n"
needs_tools = pytest.mark.skipif(
    not (DESCRIPTION.exists() and SDK.exists() and PRISM.exists() and shutil.which("node")),
    reason="needs npm's @octokit/openapi, @octokit/rest and Prism (scripts/install) and node",
)


@dataclass
class Seen:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


@dataclass
class GitHubProxy:
    """Records each request the gateway sends, then answers as GitHub would: from Prism,
    with what Prism does not play added."""

    prism: str
    base: str = ""
    seen: list[Seen] = field(default_factory=list)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = await read_body(receive)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        path, query = scope["path"], scope["query_string"].decode()
        self.seen.append(Seen(scope["method"], path, query, headers, body))
        accept = headers.get("accept", "")
        extra = [("x-ratelimit-limit", "5000"), ("x-ratelimit-remaining", "4999")]
        if "diff" in accept:  # GitHub's media type for a pull request's diff
            kind = "application/vnd.github.diff; charset=utf-8"
            await _answer(send, 200, DIFF.encode(), kind, extra)
            return
        if path == "/repos/octo-org/hello-world" and headers.get("if-none-match") == ETAG:
            await _answer(send, 304, b"", None, [*extra, ("etag", ETAG)])
            return
        forwarded = {k: v for k, v in headers.items() if k not in ("host", "content-length")}
        if "vnd.github" in accept and "json" in accept:  # GitHub reads it as JSON; Prism
            forwarded["accept"] = "application/json"  # negotiates only what is declared
        async with httpx.AsyncClient(base_url=self.prism) as client:
            reply = await client.request(
                scope["method"], path, params=query, headers=forwarded, content=body or None
            )
        if scope["method"] == "GET" and path == "/repos/octo-org/hello-world":
            extra.append(("etag", ETAG))
        if path.endswith("/issues") and scope["method"] == "GET" and "per_page" in query:
            page = int(dict(httpx.QueryParams(query)).get("page", "1"))
            link = f'<{self.base}/repositories/1296269/issues?per_page=2&page=1>; rel="first"'
            if page < 3:  # GitHub pages through the repository's id, not its name
                more = f"{self.base}/repositories/1296269/issues?per_page=2&page={page + 1}"
                link = f'<{more}>; rel="next", ' + link
            extra.append(("link", link))
        if reply.status_code == 201 and path.endswith("/issues"):
            extra.append(("location", f"{self.base}/repos/octo-org/hello-world/issues/1347"))
        await _answer(
            send, reply.status_code, reply.content, reply.headers.get("content-type"), extra
        )


async def _answer(
    send: Any, status: int, body: bytes, kind: str | None, extra: list[tuple[str, str]]
) -> None:
    headers = [(k.encode(), v.encode()) for k, v in extra]
    if kind:
        headers.append((b"content-type", kind.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not (DESCRIPTION.exists() and SDK.exists() and PRISM.exists() and shutil.which("node")):
        pytest.skip("needs npm's @octokit/openapi, @octokit/rest and Prism, and node")
    folder = tmp_path_factory.mktemp("github")
    document = slice_document(DESCRIPTION, PATHS, folder / "github-slice.json")
    spec = folder / "github.yaml"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "naftiko_runtime",
            "import",
            "openapi",
            str(document),
            "--namespace",
            "github",
            "-o",
            str(spec),
            "--select",
            *OPERATIONS,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "would refuse" not in done.stderr, done.stderr
    with running_prism(document, folder / "prism.log") as prism:
        proxy = GitHubProxy(prism)
        with running(proxy) as base:
            proxy.base = base
            with serve(spec, "--upstream", f"github={base}") as process:
                yield {**process.urls, "proxy": proxy, "process": process}


@pytest.fixture(scope="module")
def octokit(gateway: dict[str, Any]) -> dict[str, Any]:
    """The SDK's results, and the requests the upstream received for them."""
    done = subprocess.run(
        ["node", str(REPO / "tests" / "fixtures" / "octokit_driver.mjs")],
        env={**os.environ, "GATEWAY": gateway["rest"], "NODE_PATH": str(REPO / "node_modules")},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def _sent(gateway: dict[str, Any], method: str, path: str) -> list[Seen]:
    return [s for s in gateway["proxy"].seen if (s.method, s.path) == (method, path)]


def test_reads_parse_in_the_sdk(octokit: dict[str, Any], gateway: dict[str, Any]) -> None:
    assert octokit["repo"] == "octocat/Hello-World"  # the description's example, parsed
    assert isinstance(octokit["orgRepos"], int) and isinstance(octokit["issues"], int)
    # GitHub's versioned example for this one is not an issue: what Prism answers, parsed
    assert octokit["issue"] == {"status": 200, "type": "object"}
    assert _sent(gateway, "GET", "/repos/octo-org/hello-world/issues/1347")
    (listing, *_) = _sent(gateway, "GET", "/repos/octo-org/hello-world/issues")
    assert dict(httpx.QueryParams(listing.query)) == {"state": "open", "labels": "bug,ui"}
    assert "vnd.github.v3+json" in listing.headers["accept"]  # the SDK's own Accept, passed up


def test_an_issue_is_created_with_every_field_the_sdk_sent(
    octokit: dict[str, Any], gateway: dict[str, Any]
) -> None:
    created = octokit["created"]
    assert created["status"] == 201 and isinstance(created["number"], int), created
    (sent,) = _sent(gateway, "POST", "/repos/octo-org/hello-world/issues")
    assert orjson.loads(sent.body) == {
        "title": "Found a bug",
        "body": "I'm having a problem with this.",
        "labels": ["bug"],
        "assignees": ["octocat"],
    }
    assert sent.headers["content-type"] == "application/json"
    # the API's own Location, rewritten to the gateway's route for it
    assert created["location"] == "/repos/octo-org/hello-world/issues/1347"


def test_a_comment_and_a_pull_request_send_their_bodies(
    octokit: dict[str, Any], gateway: dict[str, Any]
) -> None:
    assert octokit["comment"] == 201 and octokit["pull"] == 201, octokit
    (comment,) = _sent(gateway, "POST", "/repos/octo-org/hello-world/issues/1347/comments")
    assert orjson.loads(comment.body) == {"body": "Me too"}
    (pull,) = _sent(gateway, "POST", "/repos/octo-org/hello-world/pulls")
    assert orjson.loads(pull.body) == {
        "title": "Amazing new feature",
        "body": "Please pull these awesome changes in!",
        "head": "octocat:new-feature",
        "base": "master",
    }


def test_paginate_walks_three_pages_through_the_gateway(
    octokit: dict[str, Any], gateway: dict[str, Any]
) -> None:
    assert len(octokit["paginated"]) == 3, octokit["paginated"]
    pages = [
        dict(httpx.QueryParams(s.query)).get("page")
        for s in _sent(gateway, "GET", "/repos/octo-org/hello-world/issues")
        if "per_page=2" in s.query
    ]
    assert pages == [None, "2", "3"]  # every page went through the gateway's own route


def test_a_conditional_get_is_answered_304(octokit: dict[str, Any]) -> None:
    assert octokit["conditional"] == {"status": 304, "etag": ETAG}


def test_the_diff_media_type_reaches_the_sdk(
    octokit: dict[str, Any], gateway: dict[str, Any]
) -> None:
    assert octokit["diff"]["diff"] == DIFF
    assert octokit["diff"]["type"].startswith("application/vnd.github.diff")
    (sent, *_) = _sent(gateway, "GET", "/repos/octo-org/hello-world/pulls/1347")
    assert sent.headers["accept"] == "application/vnd.github.v3.diff"


def test_rate_limit_headers_reach_the_sdk(octokit: dict[str, Any]) -> None:
    assert octokit["rateLimit"] == "4999"


async def test_mcp_tools_send_every_argument_as_its_body_member(gateway: dict[str, Any]) -> None:
    async with Client(gateway["mcp"]) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        schema = tools["issues-create"].input_schema
        assert {"title", "body", "labels", "assignees", "milestone"} <= set(schema["properties"])
        assert schema["properties"]["labels"]["type"] == "array"
        arguments = {"owner": "octo-org", "repo": "hello-world", "title": "From an agent"}
        arguments |= {"body": "Details", "labels": ["agent"]}
        result = await client.call_tool("issues-create", arguments)
        assert not result.is_error, result.content
        comment = {"owner": "octo-org", "repo": "hello-world", "issue_number": 1347}
        result = await client.call_tool("issues-create-comment", {**comment, "body": "ok"})
        assert not result.is_error, result.content
    sent = _sent(gateway, "POST", "/repos/octo-org/hello-world/issues")[-1]
    assert orjson.loads(sent.body) == {
        "title": "From an agent",
        "body": "Details",
        "labels": ["agent"],
    }
    comment_sent = _sent(gateway, "POST", "/repos/octo-org/hello-world/issues/1347/comments")[-1]
    assert orjson.loads(comment_sent.body) == {"body": "ok"}


@pytest.mark.slow
def test_the_whole_description_imports_validates_and_serves(tmp_path: Path) -> None:
    """All of GitHub's 1,223 operations: one capability that validates, serves REST and
    MCP, and publishes an OpenAPI document that openapi-spec-validator accepts."""
    if not DESCRIPTION.exists():
        pytest.skip("needs npm's @octokit/openapi (scripts/install)")
    from openapi_spec_validator import validate

    spec = tmp_path / "github.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "naftiko_runtime", "import", "openapi", str(DESCRIPTION)]
        + ["--namespace", "github", "-o", str(spec)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and "would refuse" not in done.stderr, done.stderr
    checked = subprocess.run(
        [sys.executable, "-m", "naftiko_runtime", "validate", str(spec)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stdout[-2000:]
    with serve(spec, ready=None) as process:
        process.wait_ready(process.rest + "/openapi.json", timeout=60)
        published = httpx.get(process.rest + "/openapi.json", timeout=30).json()
        assert "(1223 operations)" in process.output()
        assert "(1223 tools)" in process.output()
    validate(published)
    operations = [op for item in published["paths"].values() for op in item.values()]
    assert len(operations) >= 1223
