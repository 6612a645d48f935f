"""Authentication that callers of an exposed adapter must present (`exposes[].authentication`).

Expected credentials are rendered once from the binds; each request is compared in constant
time; `digest` checks RFC 7616 answers (`digest`); `oauth2` makes the adapter an OAuth 2.1
resource server (`oauth`). Any other kind refuses to start rather than serve an adapter the
spec says is protected without protection.
"""

from __future__ import annotations

import abc
import base64
import hmac
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson

from naftiko_runtime.capability.model import Auth
from naftiko_runtime.errors import StartupError
from naftiko_runtime.text.templating import Template

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]
METADATA_PATH = "/.well-known/oauth-protected-resource"  # RFC 9728
# signs digest nonces: made when this module is imported, which is before any worker forks,
# so a reload (which may bring digest in for the first time) keeps it
NONCE_KEY = secrets.token_bytes(32)
_UNAUTHORIZED = orjson.dumps(
    {"error": {"type": "unauthorized", "message": "missing or invalid credentials"}}
)


class Guard(abc.ABC):
    """What callers of an adapter must present. `admit` answers the refusal itself (401, or
    403 for a token short of a scope); `passes` only says whether the request may pass."""

    @property
    def secrets(self) -> list[str]:
        return []

    def metadata(self) -> dict[str, Any] | None:
        """RFC 9728 protected resource metadata, for guards that have any."""
        return None

    @abc.abstractmethod
    async def passes(self, scope: dict[str, Any]) -> bool: ...

    @abc.abstractmethod
    async def reject(self, send: Any, scope: dict[str, Any] | None = None) -> None: ...

    async def admit(self, scope: dict[str, Any], send: Any) -> bool:
        if await self.passes(scope):
            return True
        await self.reject(send, scope)
        return False


@dataclass(frozen=True)
class CredentialGuard(Guard):
    """A fixed credential compared in constant time; `challenge` is the WWW-Authenticate
    value."""

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

    async def passes(self, scope: dict[str, Any]) -> bool:
        return self.allows(scope)

    async def admit(self, scope: dict[str, Any], send: Any) -> bool:
        if self.allows(scope):  # no second await on the hot path
            return True
        await self.reject(send, scope)
        return False

    async def reject(self, send: Any, scope: dict[str, Any] | None = None) -> None:
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
        return CredentialGuard(
            b"authorization", None, token.encode(), b'Bearer realm="naftiko"', b"bearer"
        )
    if auth.type == "basic":
        user, password = render(auth.username), render(auth.password)
        if not user or not password:
            raise StartupError(f"{where}: basic authentication has an empty user or password")
        pair = f"{user}:{password}".encode()
        return CredentialGuard(
            b"authorization", None, base64.b64encode(pair), b'Basic realm="naftiko"', b"basic"
        )
    if auth.type == "apikey":
        key, value = render(auth.key) or "X-API-Key", render(auth.value)
        if not value:
            raise StartupError(f"{where}: apikey authentication has an empty value")
        if auth.placement == "query":
            return CredentialGuard(
                None, key, value.encode(), f'ApiKey in="query" name="{key}"'.encode()
            )
        return CredentialGuard(
            key.lower().encode(), None, value.encode(), f'ApiKey in="header" name="{key}"'.encode()
        )
    if auth.type == "digest":
        from naftiko_runtime.adapters.auth.digest import DigestGuard

        user, password = render(auth.username), render(auth.password)
        if not user or not password:
            raise StartupError(f"{where}: digest authentication has an empty user or password")
        return DigestGuard(user, password)
    if auth.type == "oauth2":
        from naftiko_runtime.adapters.auth.oauth import OAuthGuard, OAuthSettings, secure_url

        issuer, resource = render(auth.authorization_server), render(auth.resource)
        if not secure_url(issuer) or not resource:
            raise StartupError(
                f"{where}: oauth2 needs an https authorizationServerUri (plain http only on "
                "this machine) and a resource"
            )
        return OAuthGuard(
            OAuthSettings(
                issuer,
                resource,
                render(auth.audience) or None,
                auth.scopes,
                auth.token_validation,
                render(auth.client_id) or None,
                render(auth.client_secret) or None,
            )
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
        if scope["type"] == "http" and not await guard.admit(scope, send):
            return
        await app(scope, receive, send)

    return check
