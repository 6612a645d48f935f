"""The OAuth guard without sockets (its HTTP client injected): an issuer with a trailing
slash is matched exactly, a JWK without `alg` verifies the algorithms its key type allows,
an unreachable authorization server is asked once per back-off window instead of once per
request, expired keys are refreshed behind the requests whose key is known, and a
plain-http authorization server is refused unless it is on this machine."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from naftiko_runtime.adapters.auth import oauth_server
from naftiko_runtime.adapters.auth.build import build_guard
from naftiko_runtime.adapters.auth.oauth import OAuthGuard
from naftiko_runtime.adapters.auth.oauth_server import OAuthSettings
from naftiko_runtime.errors import StartupError
from naftiko_runtime.model import Auth

ISSUER = "https://auth.example/"  # with its trailing slash, as some servers name themselves
RESOURCE = "https://api.example"


def keys() -> tuple[Any, dict[str, Any]]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    public.update(kid="k1", use="sig")  # no `alg`: any RSA algorithm
    return private, public


def guard_for(handler: Any) -> OAuthGuard:
    transport = httpx.MockTransport(handler)
    return OAuthGuard(
        OAuthSettings(ISSUER, RESOURCE, scopes=("read",)),
        client=lambda: httpx.AsyncClient(transport=transport),
    )


def server(public: dict[str, Any], calls: list[str]) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path.startswith("/.well-known/"):
            return httpx.Response(
                200, json={"issuer": ISSUER, "jwks_uri": "https://auth.example/jwks"}
            )
        return httpx.Response(200, json={"keys": [public]})

    return handler


def scope(token: str) -> dict[str, Any]:
    return {"type": "http", "headers": [(b"authorization", f"Bearer {token}".encode())]}


def token(private: Any, algorithm: str = "RS256", **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": RESOURCE, "scope": "read", "exp": now + 60, **claims}
    return jwt.encode(body, private, algorithm=algorithm, headers={"kid": "k1"})


@pytest.mark.parametrize("algorithm", ["RS256", "RS384", "PS256", "PS512"])
def test_an_issuer_with_a_slash_and_a_jwk_without_alg(algorithm: str) -> None:
    private, public = keys()
    guard = guard_for(server(public, []))
    verdict = asyncio.run(guard.verify(scope(token(private, algorithm))))
    assert verdict.status == 200, verdict
    other = asyncio.run(guard.verify(scope(token(private, iss="https://auth.example"))))
    assert other.status == 401  # exactly the configured issuer


def test_an_unreachable_server_is_asked_once_per_back_off_window() -> None:
    calls: list[str] = []

    def down(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        raise httpx.ConnectError("refused", request=request)

    guard = guard_for(down)
    private, _ = keys()

    async def many() -> list[int]:
        verdicts = await asyncio.gather(*(guard.verify(scope(token(private))) for _ in range(10)))
        return [v.status for v in verdicts]

    started = time.monotonic()
    assert asyncio.run(many()) == [503] * 10
    assert len(calls) <= 2 and time.monotonic() - started < 2  # one discovery, not ten


def test_expired_keys_are_refreshed_in_the_background_while_known_keys_serve(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past `KEYS_TTL` a token whose key is known is checked at once with it while the key
    set is fetched again behind it, so a slow server delays nobody."""
    monkeypatch.setattr(oauth_server, "KEYS_TTL", 0.2)
    private, public = keys()
    calls: list[str] = []
    plain = server(public, calls)

    async def slow(request: httpx.Request) -> httpx.Response:
        if calls:  # every fetch after the first takes 2 s
            await asyncio.sleep(2.0)
        return plain(request)  # type: ignore[no-any-return]

    guard = guard_for(slow)

    async def run() -> float:
        assert (await guard.verify(scope(token(private)))).status == 200
        await asyncio.sleep(0.3)
        started = time.monotonic()
        assert (await guard.verify(scope(token(private)))).status == 200
        elapsed = time.monotonic() - started
        for _ in range(50):  # the refresh lands
            if calls.count("/jwks") == 2:
                break
            await asyncio.sleep(0.1)
        return elapsed

    assert asyncio.run(run()) < 0.5
    assert calls.count("/jwks") == 2


@pytest.mark.parametrize(
    ("issuer", "accepted"),
    [
        ("https://auth.example", True),
        ("http://127.0.0.1:9000", True),
        ("http://auth.example", False),
    ],
)
def test_plain_http_authorization_servers_only_on_this_machine(issuer: str, accepted: bool) -> None:
    auth = Auth("oauth2", authorization_server=issuer, resource=RESOURCE)
    if accepted:
        assert build_guard(auth, {}, "test") is not None
    else:
        with pytest.raises(StartupError, match="https"):
            build_guard(auth, {}, "test")
