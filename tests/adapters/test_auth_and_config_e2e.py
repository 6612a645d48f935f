"""Auth types, env files, the upstream override variable and stdio specs, end to end."""

from __future__ import annotations

import base64
import hashlib
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client, StdioServerParameters

from tests.conftest import CAPABILITIES, REPO
from tests.fixtures.process import ServeProcess, serve
from tests.fixtures.specs import items_consumes
from tests.fixtures.upstream import RecordingUpstream, running

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]
SPEC = """\
naftiko: "1.0.0-alpha2"
info:
  label: "Auth"
  description: "One operation behind {kind} auth."
binds:
  - namespace: env
    keys:
      USER_NAME: USER_NAME
      USER_PASS: USER_PASS
capability:
{consumes}  exposes:
    - type: rest
      namespace: api-rest
      port: 8080
      resources:
        - path: "/items"
          operations:
            - method: GET
              name: list-items
              call: api.list-items
"""
AUTH = {
    "basic": '        type: basic\n        username: "{{env.USER_NAME}}"\n'
    '        password: "{{env.USER_PASS}}"',
    "apikey-query": "        type: apikey\n        key: api_key\n        placement: query\n"
    '        value: "{{env.USER_PASS}}"',
    "digest": '        type: digest\n        username: "{{env.USER_NAME}}"\n'
    '        password: "{{env.USER_PASS}}"',
}
USER, PASSWORD = "ada", "s3cret-pass"


class DigestUpstream:
    """RFC 7616 digest (MD5, qop=auth): a challenge, then a verified answer."""

    def __init__(self) -> None:
        self.nonce = secrets.token_hex(8)
        self.authorized = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        status, body = 401, b'{"detail": "auth required"}'
        extra = [
            (
                b"www-authenticate",
                f'Digest realm="api", nonce="{self.nonce}", qop="auth", algorithm=MD5'.encode(),
            )
        ]
        header = headers.get("authorization", "")
        if header.startswith("Digest "):
            fields = dict(part.strip().split("=", 1) for part in header[7:].split(","))
            fields = {k: v.strip('"') for k, v in fields.items()}
            ha1 = hashlib.md5(f"{USER}:api:{PASSWORD}".encode()).hexdigest()
            ha2 = hashlib.md5(f"{scope['method']}:{fields['uri']}".encode()).hexdigest()
            expected = hashlib.md5(
                f"{ha1}:{self.nonce}:{fields['nc']}:{fields['cnonce']}:"
                f"{fields['qop']}:{ha2}".encode()
            ).hexdigest()
            if fields.get("username") == USER and fields.get("response") == expected:
                status, body, extra = 200, b'{"ok": "digest"}', []
                self.authorized += 1
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), *extra],
            }
        )
        await send({"type": "http.response.body", "body": body})


@contextmanager
def serve_spec(
    tmp_path: Path, kind: str, upstream: str, *extra: str, env: dict[str, str] | None = None
) -> Iterator[tuple[ServeProcess, str]]:
    spec = tmp_path / f"{kind}.yaml"
    spec.write_text(SPEC.replace("{kind}", kind).replace("{consumes}", items_consumes(AUTH[kind])))
    with serve(spec, "--upstream", f"api={upstream}", *extra, env=env, ports=[8080]) as process:
        yield process, process.rest


@pytest.fixture
def recorder() -> Iterator[tuple[RecordingUpstream, str]]:
    app = RecordingUpstream()
    with running(app) as url:
        yield app, url


def test_basic_auth_from_an_env_file(
    tmp_path: Path, recorder: tuple[RecordingUpstream, str]
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(f"# secrets\nexport USER_NAME={USER}\nUSER_PASS='{PASSWORD}'\n")
    with serve_spec(tmp_path, "basic", recorder[1], "--env-file", str(env_file)) as (_, base):
        assert httpx.get(base + "/items", timeout=10).status_code == 200
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert recorder[0].seen[-1].headers["authorization"] == f"Basic {token}"


def test_apikey_in_the_query(tmp_path: Path, recorder: tuple[RecordingUpstream, str]) -> None:
    with serve_spec(
        tmp_path, "apikey-query", recorder[1], env={"USER_NAME": USER, "USER_PASS": PASSWORD}
    ) as (process, base):
        assert httpx.get(base + "/items", timeout=10).status_code == 200
        assert PASSWORD not in process.output()
    seen = recorder[0].seen[-1]
    assert (seen.raw_path, seen.query) == ("/items", f"api_key={PASSWORD}")
    assert "authorization" not in seen.headers


def test_digest_auth_answers_the_challenge(tmp_path: Path) -> None:
    upstream = DigestUpstream()
    with running(upstream) as url:
        with serve_spec(
            tmp_path, "digest", url, env={"USER_NAME": USER, "USER_PASS": PASSWORD}
        ) as (_, base):
            response = httpx.get(base + "/items", timeout=10)
    assert (response.status_code, response.json()) == (200, {"ok": "digest"})
    assert upstream.authorized == 1


def test_upstream_override_from_the_environment(recorder: tuple[RecordingUpstream, str]) -> None:
    with serve(
        CAPABILITIES / "letta-jobs.yaml",
        env={"LETTA_API_KEY": "k-env-1234", "NAFTIKO_UPSTREAM": f"letta-jobs={recorder[1]}"},
    ) as process:
        assert httpx.get(process.rest + "/v1/jobs/active", timeout=10).status_code == 200
    assert recorder[0].seen[-1].raw_path == "/v1/jobs/active"
    assert recorder[0].seen[-1].headers["authorization"] == "Bearer k-env-1234"


async def test_a_spec_declaring_stdio_transport(
    tmp_path: Path, recorder: tuple[RecordingUpstream, str]
) -> None:
    spec = tmp_path / "stdio.yaml"
    spec.write_text(
        'naftiko: "1.0.0-alpha2"\ninfo:\n  label: "Stdio"\n  description: "A local tool '
        'server."\ncapability:\n' + items_consumes() + "  exposes:\n    - type: mcp\n"
        "      transport: stdio\n      namespace: local-tools\n      tools:\n"
        '        - name: list-items\n          description: "List the items"\n'
        "          call: api.list-items\n"
    )
    params = StdioServerParameters(
        command=sys.executable,
        cwd=str(REPO),
        args=[
            "-m",
            "naftiko_runtime",
            "serve",
            "--stdio",
            "--upstream",
            f"api={recorder[1]}",
            str(spec),
        ],
    )
    async with Client(params) as client:
        assert [t.name for t in (await client.list_tools()).tools] == ["list-items"]
        result = await client.call_tool("list-items", {})
        assert result.structured_content == {"path": "/items", "method": "GET"}


def test_templated_host_needs_an_override_and_mustache_host_is_rendered(
    tmp_path: Path, recorder: tuple[RecordingUpstream, str]
) -> None:
    host, port = recorder[1].removeprefix("http://").split(":")
    spec = tmp_path / "hosts.yaml"
    spec.write_text(
        SPEC.replace("{kind}", "none")
        .replace("{consumes}", items_consumes())
        .replace('baseUri: "http://127.0.0.1:9"', 'baseUri: "http://{tenant}.test"')
    )
    with serve(
        spec, env={"USER_NAME": host, "USER_PASS": "x"}, ports=[8080], ready=None
    ) as refused:
        assert refused.process.wait(timeout=20) == 1
        assert "serve with --upstream api=URL" in refused.output()
    spec.write_text(
        spec.read_text().replace(
            '"http://{tenant}.test"', '"http://{{env.USER_NAME}}:' + port + '"'
        )
    )
    with serve(spec, env={"USER_NAME": host, "USER_PASS": "x"}, ports=[8080]) as process:
        assert httpx.get(process.rest + "/items", timeout=10).status_code == 200
    assert recorder[0].seen[-1].raw_path == "/items"
