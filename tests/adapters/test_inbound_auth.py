"""Exposed adapters that declare `authentication` are protected: 401 without valid credentials,
served with them; kinds we cannot verify refuse to start instead of serving unprotected."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.fixtures.process import ServeProcess, serve
from tests.fixtures.specs import items_consumes
from tests.fixtures.upstream import RecordingUpstream, running

SPEC = """\
naftiko: "1.0.0-alpha2"
info:
  label: "Guarded"
  description: "Adapters behind inbound authentication."
binds:
  - namespace: env
    keys:
      INBOUND_TOKEN: INBOUND_TOKEN
capability:
CONSUMES  exposes:
    - type: rest
      namespace: api-rest
      port: 8080
      authentication:
{rest_auth}
      resources:
        - path: "/items"
          operations:
            - method: GET
              name: list-items
              call: api.list-items
    - type: mcp
      namespace: api-mcp
      port: 9090
      authentication:
        type: bearer
        token: "{{env.INBOUND_TOKEN}}"
      tools:
        - name: list-items
          description: "List items"
          call: api.list-items
"""
SPEC = SPEC.replace("CONSUMES", items_consumes())
BEARER = '        type: bearer\n        token: "{{env.INBOUND_TOKEN}}"'
APIKEY_QUERY = (
    "        type: apikey\n        key: access_key\n        placement: query\n"
    '        value: "{{env.INBOUND_TOKEN}}"'
)

pytestmark = pytest.mark.e2e
TOKEN = "in-7f3a9c2e"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"},
    },
}


@pytest.fixture
def upstream() -> Iterator[str]:
    with running(RecordingUpstream()) as url:
        yield url


@contextmanager
def guarded(
    tmp_path: Path, upstream: str, rest_auth: str, ready: str | None = "/openapi.json"
) -> Iterator[tuple[ServeProcess, dict[str, str]]]:
    spec = tmp_path / "guarded.yaml"
    spec.write_text(SPEC.replace("{rest_auth}", rest_auth))
    env = {"INBOUND_TOKEN": TOKEN}
    with serve(spec, "--upstream", f"api={upstream}", env=env, ready=ready) as process:
        yield process, process.urls


def test_bearer_protects_rest_and_mcp(tmp_path: Path, upstream: str) -> None:
    with guarded(tmp_path, upstream, BEARER) as (process, urls):
        anonymous = httpx.get(urls["rest"] + "/items", timeout=10)
        assert anonymous.status_code == 401
        assert anonymous.json()["error"]["type"] == "unauthorized"
        assert anonymous.headers["www-authenticate"].startswith("Bearer")
        wrong = httpx.get(
            urls["rest"] + "/items", headers={"Authorization": "Bearer nope"}, timeout=10
        )
        assert wrong.status_code == 401
        right = httpx.get(
            urls["rest"] + "/items", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
        )
        assert right.status_code == 200
        for scheme in ("bearer", "BEARER"):  # auth schemes are case-insensitive (RFC 9110)
            lower = httpx.get(
                urls["rest"] + "/items", headers={"Authorization": f"{scheme} {TOKEN}"}, timeout=10
            )
            assert lower.status_code == 200
        other_scheme = httpx.get(
            urls["rest"] + "/items", headers={"Authorization": f"Basic {TOKEN}"}, timeout=10
        )
        assert other_scheme.status_code == 401
        headers = {"Accept": "application/json, text/event-stream"}
        mcp_anonymous = httpx.post(urls["mcp"], json=INITIALIZE, headers=headers, timeout=10)
        assert mcp_anonymous.status_code == 401
        mcp_right = httpx.post(
            urls["mcp"],
            json=INITIALIZE,
            timeout=10,
            headers={**headers, "Authorization": f"Bearer {TOKEN}"},
        )
        assert mcp_right.status_code == 200
        assert TOKEN not in process.output()


def test_an_authenticated_port_reveals_no_route_without_credentials(
    tmp_path: Path, upstream: str
) -> None:
    """Unknown paths, wrong methods and trailing-slash redirects answer 401 to anonymous
    clients, exactly like real routes, so probing cannot map the API; with credentials they
    get their usual 404/405/307. `/openapi.json` stays public."""
    with guarded(tmp_path, upstream, BEARER) as (process, urls):
        auth = {"Authorization": f"Bearer {TOKEN}"}
        probes = [("GET", "/nope"), ("DELETE", "/items"), ("GET", "/items/")]
        for method, path in probes:
            anonymous = httpx.request(method, urls["rest"] + path, timeout=10)
            assert anonymous.status_code == 401, (method, path)
            assert anonymous.json()["error"]["type"] == "unauthorized"
        statuses = [
            httpx.request(method, urls["rest"] + path, headers=auth, timeout=10).status_code
            for method, path in probes
        ]
        assert statuses == [404, 405, 307]
        assert httpx.get(urls["rest"] + "/openapi.json", timeout=10).status_code == 200


def test_apikey_in_the_query(tmp_path: Path, upstream: str) -> None:
    with guarded(tmp_path, upstream, APIKEY_QUERY) as (process, urls):
        assert httpx.get(urls["rest"] + "/items", timeout=10).status_code == 401
        ok = httpx.get(urls["rest"] + f"/items?access_key={TOKEN}", timeout=10)
        assert ok.status_code == 200


def test_basic_with_an_empty_user_or_password_refuses_to_start(
    tmp_path: Path, upstream: str
) -> None:
    auth = '        type: basic\n        username: "admin"\n        password: ""'
    with guarded(tmp_path, upstream, auth, ready=None) as (process, _):
        assert process.process.wait(timeout=20) == 1
        assert "empty user or password" in process.output()


DIGEST = '        type: digest\n        username: "ops"\n        password: "{{env.INBOUND_TOKEN}}"'


def test_digest_protects_rest_for_real_digest_clients(tmp_path: Path, upstream: str) -> None:
    """RFC 7616 with two real clients (httpx's DigestAuth and curl --digest): the challenge
    offers SHA-256 then MD5 with qop=auth; the right password passes, a wrong one does not,
    and a replayed Authorization header (same nonce count) is refused."""
    import shutil
    import subprocess

    with guarded(tmp_path, upstream, DIGEST) as (process, urls):
        anonymous = httpx.get(urls["rest"] + "/items", timeout=10)
        assert anonymous.status_code == 401
        challenges = anonymous.headers.get_list("www-authenticate")
        assert [c.split("algorithm=")[1].split(",")[0] for c in challenges] == ["SHA-256", "MD5"]
        assert all('realm="naftiko"' in c and 'qop="auth"' in c for c in challenges)
        good = httpx.get(urls["rest"] + "/items?x=1", auth=httpx.DigestAuth("ops", TOKEN))
        assert good.status_code == 200
        bad = httpx.get(urls["rest"] + "/items", auth=httpx.DigestAuth("ops", "wrong"))
        assert bad.status_code == 401
        replay = good.request.headers["authorization"]
        again = httpx.get(urls["rest"] + "/items?x=1", headers={"authorization": replay})
        assert again.status_code == 401
        if shutil.which("curl"):
            done = subprocess.run(
                [
                    "curl",
                    "-s",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    "--digest",
                    "-u",
                    f"ops:{TOKEN}",
                    urls["rest"] + "/items",
                ],
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert done.stdout == "200"
        assert TOKEN not in process.output()


def test_digest_with_an_empty_password_refuses_to_start(tmp_path: Path, upstream: str) -> None:
    auth = '        type: digest\n        username: "ops"\n        password: ""'
    with guarded(tmp_path, upstream, auth, ready=None) as (process, _):
        assert process.process.wait(timeout=20) == 1
        assert "digest authentication has an empty user or password" in process.output()
