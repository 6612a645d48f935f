"""Inbound `oauth2`: REST and MCP adapters as OAuth 2.1 resource servers, against a real
authorization server started here (npm `oidc-provider`, an OpenID Certified provider)
issuing JWT access tokens with the client-credentials grant and RFC 8707 resources. A valid
token passes; an expired one, one for another audience or issuer, a bad signature or a
missing scope gets the RFC 6750 401/403 and nothing reaches the upstream; a key rotation is
picked up without a restart; the official MCP client finds the authorization server through
our RFC 9728 metadata and runs its own client-credentials flow."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.conftest import REPO
from tests.fixtures.ports import free_port
from tests.fixtures.process import serve
from tests.fixtures.upstream import RecordingUpstream, running

PROVIDER = REPO / "tests" / "fixtures" / "oidc" / "provider.mjs"
pytestmark = [
    pytest.mark.contract,
    pytest.mark.skipif(
        not (REPO / "node_modules" / "oidc-provider").exists(),
        reason="oidc-provider is not installed (npm ci)",
    ),
]
CLIENT = ("agent", "agent-secret-0123456789")

SPEC = """\
# naftiko-runtime: ignore naftiko-oauth2-https-authserver - a loopback authorization server
# naftiko-runtime: ignore naftiko-oauth2-resource-https - loopback resources under test
naftiko: "1.0.0-alpha2"
info:
  label: "Protected"
  description: "Adapters behind an OAuth 2.1 authorization server."
binds:
  - namespace: env
    keys:
      GATEWAY_SECRET: GATEWAY_SECRET
capability:
  consumes:
    - type: http
      namespace: api
      description: "The upstream."
      baseUri: "{upstream}"
      resources:
        - name: items
          path: "/items"
          operations:
            - name: list-items
              method: GET
  exposes:
    - type: rest
      namespace: api-rest
      port: 8080
      authentication:
        type: oauth2
        authorizationServerUri: "{issuer}"
        resource: "{rest_resource}"
        scopes: ["jobs:read"]
      resources:
        - path: "/items"
          description: "Items."
          operations:
            - method: GET
              name: list-items
              call: api.list-items
    - type: rest
      namespace: api-introspected
      port: 8081
      authentication:
        type: oauth2
        authorizationServerUri: "{issuer}"
        resource: "{opaque_resource}"
        scopes: ["jobs:read"]
        tokenValidation: introspection
        clientId: "gateway"
        clientSecret: "{{{{env.GATEWAY_SECRET}}}}"
      resources:
        - path: "/items"
          description: "Items."
          operations:
            - method: GET
              name: list-items
              call: api.list-items
    - type: mcp
      namespace: api-mcp
      port: 9090
      transport: http
      description: "Items as tools."
      authentication:
        type: oauth2
        authorizationServerUri: "{issuer}"
        resource: "{mcp_resource}"
        scopes: ["jobs:read"]
      tools:
        - name: list-items
          description: "List items."
          call: api.list-items
"""


def private_jwk(kid: str) -> dict[str, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(key))
    jwk.update(kid=kid, use="sig", alg="RS256")
    return jwk


class AuthServer:
    """oidc-provider on a fixed port, restartable with other keys (a rotation)."""

    def __init__(self, folder: Path, resource_prefix: str) -> None:
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.keys_file = folder / "keys.json"
        self.prefix = resource_prefix
        self.process: subprocess.Popen[str] | None = None

    def start(self, keys: list[dict[str, Any]]) -> None:
        self.keys_file.write_text(json.dumps({"keys": keys}))
        self.process = subprocess.Popen(
            ["node", str(PROVIDER), str(self.port), self.prefix, str(self.keys_file)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        for _ in range(20):
            line = self.process.stdout.readline()
            if line.strip() == "ready":
                return
        raise RuntimeError("oidc-provider did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def token(self, resource: str, scope: str = "jobs:read") -> str:
        reply = httpx.post(
            self.issuer + "/token",
            data={"grant_type": "client_credentials", "scope": scope, "resource": resource},
            auth=CLIENT,
            timeout=10,
        )
        assert reply.status_code == 200, reply.text
        token: str = reply.json()["access_token"]
        return token


@pytest.fixture(scope="module")
def protected(tmp_path_factory: Any) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("oauth")
    rest, mcp, opaque = free_port(), free_port(), free_port()
    server = AuthServer(folder, "http://127.0.0.1:")
    first = private_jwk("k1")
    server.start([first])
    upstream = RecordingUpstream()
    try:
        with running(upstream) as url:
            spec = folder / "protected.yaml"
            resources = {
                "rest_resource": f"http://127.0.0.1:{rest}",
                "mcp_resource": f"http://127.0.0.1:{mcp}/mcp",
                "opaque_resource": f"http://127.0.0.1:{opaque}/opaque",
            }
            spec.write_text(SPEC.format(upstream=url, issuer=server.issuer, **resources))
            secret = {"GATEWAY_SECRET": "gateway-secret-0123456789"}
            ports = {8080: rest, 9090: mcp, 8081: opaque}
            with serve(spec, "--access-log", env=secret, ports=ports) as process:
                yield {
                    "server": server,
                    "process": process,
                    "upstream": upstream,
                    "rest": process.rest,
                    "mcp": process.mcp,
                    "introspected": process.url(8081),
                    "key": first,
                    **resources,
                }
    finally:
        server.stop()


def call(protected: dict[str, Any], token: str | None) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.get(protected["rest"] + "/items", headers=headers, timeout=10)


def forged(protected: dict[str, Any], key: dict[str, Any] | None = None, **claims: Any) -> str:
    """A token signed with the provider's own key (or another), claims as given."""
    now = int(time.time())
    body = {
        "iss": protected["server"].issuer,
        "aud": protected["rest_resource"],
        "sub": "agent",
        "scope": "jobs:read",
        "iat": now,
        "exp": now + 300,
        **claims,
    }
    signing = key or protected["key"]
    private = RSAAlgorithm.from_jwk(json.dumps(signing))
    return jwt.encode(body, private, algorithm="RS256", headers={"kid": protected["key"]["kid"]})


def test_a_valid_token_from_the_authorization_server_is_served(protected: dict[str, Any]) -> None:
    before = len(protected["upstream"].seen)
    token = protected["server"].token(protected["rest_resource"])
    reply = call(protected, token)
    assert reply.status_code == 200
    assert len(protected["upstream"].seen) == before + 1
    assert "authorization" not in protected["upstream"].seen[-1].headers  # not passed on
    assert token not in protected["process"].output()


def test_no_token_is_a_401_naming_the_protected_resource_metadata(
    protected: dict[str, Any],
) -> None:
    reply = call(protected, None)
    assert reply.status_code == 401 and reply.json()["error"]["type"] == "unauthorized"
    challenge = reply.headers["www-authenticate"]
    metadata_url = protected["rest"] + "/.well-known/oauth-protected-resource"
    assert challenge.startswith("Bearer ") and f'resource_metadata="{metadata_url}"' in challenge
    assert "error=" not in challenge  # RFC 6750 §3.1: no error code without credentials
    metadata = httpx.get(metadata_url, timeout=10).json()
    assert metadata == {
        "resource": protected["rest_resource"],
        "authorization_servers": [protected["server"].issuer],
        "bearer_methods_supported": ["header"],
        "scopes_supported": ["jobs:read"],
    }


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("expired", "the access token has expired"),
        ("wrong-audience", "the access token is for another resource"),
        ("wrong-issuer", "the access token is from another issuer"),
        ("bad-signature", "the access token's signature does not verify"),
        ("not-yet-valid", "the access token is not valid yet"),
        ("garbage", "the access token is malformed"),
        ("symmetric", "the access token is malformed"),
    ],
)
def test_bad_tokens_are_401_invalid_token_and_never_reach_the_upstream(
    protected: dict[str, Any], case: str, reason: str
) -> None:
    now = int(time.time())
    tokens = {
        "expired": lambda: forged(protected, exp=now - 120, iat=now - 600),
        "wrong-audience": lambda: protected["server"].token("https://elsewhere.example"),
        "wrong-issuer": lambda: forged(protected, iss="https://evil.example"),
        "bad-signature": lambda: forged(protected, key=private_jwk("k1")),
        "not-yet-valid": lambda: forged(protected, nbf=now + 600),
        "garbage": lambda: "not.a.jwt",
        "symmetric": lambda: jwt.encode({"iss": "x"}, "secret-0123456789-0123456789-012", "HS256"),
    }
    token = tokens[case]()
    before = len(protected["upstream"].seen)
    reply = call(protected, token)
    assert reply.status_code == 401, reply.text
    challenge = reply.headers["www-authenticate"]
    assert 'error="invalid_token"' in challenge and reason in challenge
    assert reply.json()["error"]["message"] == reason
    assert len(protected["upstream"].seen) == before
    assert token not in protected["process"].output()


def test_a_missing_scope_is_403_insufficient_scope(protected: dict[str, Any]) -> None:
    before = len(protected["upstream"].seen)
    token = protected["server"].token(protected["rest_resource"], scope="jobs:write")
    reply = call(protected, token)
    assert reply.status_code == 403 and reply.json()["error"]["type"] == "forbidden"
    challenge = reply.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge and 'scope="jobs:read"' in challenge
    assert len(protected["upstream"].seen) == before


def test_mcp_answers_401_with_its_metadata_and_the_sdk_client_runs_its_own_flow(
    protected: dict[str, Any],
) -> None:
    import httpx2
    from mcp import Client
    from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
    from mcp.client.streamable_http import streamable_http_client

    bare = httpx.post(
        protected["mcp"],
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={"accept": "application/json, text/event-stream"},
        timeout=10,
    )
    assert bare.status_code == 401
    assert "/.well-known/oauth-protected-resource/mcp" in bare.headers["www-authenticate"]

    class Memory:
        tokens: Any = None
        client: Any = None

        async def get_tokens(self) -> Any:
            return self.tokens

        async def set_tokens(self, tokens: Any) -> None:
            self.tokens = tokens

        async def get_client_info(self) -> Any:
            return self.client

        async def set_client_info(self, info: Any) -> None:
            self.client = info

    async def flow() -> list[str]:
        auth = ClientCredentialsOAuthProvider(
            server_url=protected["mcp"],
            storage=Memory(),
            client_id=CLIENT[0],
            client_secret=CLIENT[1],
            scope="jobs:read",
            issuer=protected["server"].issuer,  # the flow stops if our metadata led elsewhere
        )
        async with httpx2.AsyncClient(auth=auth, timeout=10) as http:
            transport = streamable_http_client(protected["mcp"], http_client=http)
            async with Client(transport) as client:
                tools = [t.name for t in (await client.list_tools()).tools]
                result = await client.call_tool("list-items", {})
                assert not result.is_error
                return tools

    assert asyncio.run(flow()) == ["list-items"]


def test_a_rotated_signing_key_is_picked_up_without_a_restart(protected: dict[str, Any]) -> None:
    """The provider restarts signing with a new key; our cached key set lacks its id, so it
    is fetched again (at most every few seconds) and the new token passes; a token of the
    old key still passes while the server keeps publishing it."""
    server: AuthServer = protected["server"]
    assert call(protected, server.token(protected["rest_resource"])).status_code == 200
    server.stop()
    rotated = private_jwk("k2")
    server.start([rotated, protected["key"]])  # the new key signs; the old one stays listed
    time.sleep(5.5)  # past the refetch rate limit
    token = server.token(protected["rest_resource"])
    assert jwt.get_unverified_header(token)["kid"] == "k2"
    assert call(protected, token).status_code == 200
    assert call(protected, forged(protected)).status_code == 200


def test_introspection_checks_opaque_tokens_with_the_authorization_server(
    protected: dict[str, Any],
) -> None:
    """`tokenValidation: introspection` (RFC 7662): an opaque token is asked about, with
    this resource server's own client credentials (`clientId`/`clientSecret`, dialect);
    active with the scope passes, a made-up token is inactive (401), a missing scope 403."""
    server: AuthServer = protected["server"]
    url = protected["introspected"] + "/items"
    token = server.token(protected["opaque_resource"])
    assert token.count(".") != 2  # opaque, not a JWT
    assert httpx.get(url, headers={"authorization": f"Bearer {token}"}).status_code == 200
    unknown = httpx.get(url, headers={"authorization": "Bearer made-up-token-0123456789"})
    assert unknown.status_code == 401
    assert 'error="invalid_token"' in unknown.headers["www-authenticate"]
    narrow = server.token(protected["opaque_resource"], scope="jobs:write")
    refused = httpx.get(url, headers={"authorization": f"Bearer {narrow}"})
    assert refused.status_code == 403
    assert "gateway-secret-0123456789" not in protected["process"].output()
