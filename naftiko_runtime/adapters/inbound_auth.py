"""Authentication that callers of an exposed adapter must present (`exposes[].authentication`).

Expected credentials are rendered once from the binds; each request is compared in constant
time. Kinds that cannot be verified locally (digest, oauth2) refuse to start rather than
serve an adapter the spec says is protected without protection.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson

from naftiko_runtime.errors import StartupError
from naftiko_runtime.spec.model import Auth
from naftiko_runtime.templating import Template

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]
_UNAUTHORIZED = orjson.dumps(
    {"error": {"type": "unauthorized", "message": "missing or invalid credentials"}}
)


@dataclass(frozen=True)
class Guard:
    """Checks one request's credentials; `challenge` is the WWW-Authenticate value."""

    header: bytes | None
    query: str | None
    expected: bytes  # the credential (for Authorization: after the scheme)
    challenge: bytes
    scheme: bytes | None = None  # lower-case; compared case-insensitively, as RFC 9110 says

    @property
    def secrets(self) -> list[str]:
        text = self.expected.decode("latin-1")
        return [text, text.split(" ", 1)[-1]]

    def allows(self, scope: dict[str, Any]) -> bool:
        if self.header is not None:
            for key, value in scope["headers"]:
                if key == self.header:
                    if self.scheme is None:
                        return hmac.compare_digest(value, self.expected)
                    scheme, _, credential = value.strip().partition(b" ")
                    same_scheme = scheme.lower() == self.scheme
                    return hmac.compare_digest(credential.strip(), self.expected) and same_scheme
            return False
        assert self.query is not None
        for key, value in parse_qsl(scope["query_string"].decode("latin-1")):
            if key == self.query:
                return hmac.compare_digest(value.encode("latin-1"), self.expected)
        return False

    async def reject(self, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(_UNAUTHORIZED)).encode()),
                    (b"www-authenticate", self.challenge),
                ],
            }
        )
        await send({"type": "http.response.body", "body": _UNAUTHORIZED})


def build_guard(auth: Auth | None, variables: Mapping[str, str], where: str) -> Guard | None:
    """The guard for an adapter's declared authentication, or None when it declares none."""
    if auth is None:
        return None

    def render(text: str | None) -> str:
        return Template(text).render(variables) if text else ""

    if auth.type == "bearer":
        token = render(auth.token)
        if not token:
            raise StartupError(f"{where}: bearer authentication has an empty token")
        return Guard(b"authorization", None, token.encode(), b'Bearer realm="naftiko"', b"bearer")
    if auth.type == "basic":
        user, password = render(auth.username), render(auth.password)
        if not user or not password:
            raise StartupError(f"{where}: basic authentication has an empty user or password")
        pair = f"{user}:{password}".encode()
        return Guard(
            b"authorization", None, base64.b64encode(pair), b'Basic realm="naftiko"', b"basic"
        )
    if auth.type == "apikey":
        key, value = render(auth.key) or "X-API-Key", render(auth.value)
        if not value:
            raise StartupError(f"{where}: apikey authentication has an empty value")
        if auth.placement == "query":
            return Guard(None, key, value.encode(), f'ApiKey in="query" name="{key}"'.encode())
        return Guard(
            key.lower().encode(), None, value.encode(), f'ApiKey in="header" name="{key}"'.encode()
        )
    raise StartupError(
        f"{where}: inbound {auth.type} authentication is not supported by this "
        "runtime; refusing to serve the adapter unprotected"
    )


def guarded(app: ASGIApp, guard: Guard | None) -> ASGIApp:
    """Wrap an ASGI app so that HTTP requests without valid credentials get 401."""
    if guard is None:
        return app

    async def check(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not guard.allows(scope):
            await guard.reject(send)
            return
        await app(scope, receive, send)

    return check
