"""Inbound `oauth2`: this adapter is an OAuth 2.1 resource server.

Access tokens are JWTs checked with PyJWT against the authorization server's published keys
(signature with an asymmetric algorithm, `iss`, `aud` = the spec's `resource` or `audience`,
`exp`/`nbf` with a small leeway, the spec's `scopes`), or, with `tokenValidation:
introspection`, asked of its RFC 7662 endpoint; `oauth_server` fetches both and decides how
far to trust the server. Clients discover the authorization server through this resource's
RFC 9728 metadata, named in every 401's `WWW-Authenticate`. Nothing about a token is ever
logged or echoed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import httpx
import jwt

from naftiko_runtime.adapters.asgi import Scope, Send, respond
from naftiko_runtime.adapters.auth.base import METADATA_PATH, Guard
from naftiko_runtime.adapters.auth.oauth_server import (
    BUSY,
    LEEWAY,
    AuthorizationServer,
    AuthServerBusy,
    AuthServerUnavailable,
    OAuthSettings,
)
from naftiko_runtime.adapters.errors import problem

log = logging.getLogger("naftiko_runtime.oauth")
ALGORITHMS = [
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
]


@dataclass(frozen=True)
class Verdict:
    status: int  # 200 allowed, 401, 403, 503
    error: str | None = None  # RFC 6750: invalid_request, invalid_token, insufficient_scope
    description: str = ""


@dataclass(eq=False)
class OAuthGuard(Guard):
    settings: OAuthSettings
    client: Callable[[], httpx.AsyncClient] = field(
        default=lambda: httpx.AsyncClient(timeout=5.0, follow_redirects=False)
    )
    clock: Callable[[], float] = time.time
    server: AuthorizationServer = field(init=False)

    def __post_init__(self) -> None:
        self.server = AuthorizationServer(self.settings, self.client, self.clock)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OAuthGuard) and other.settings == self.settings

    def __hash__(self) -> int:
        return hash(self.settings)

    @property
    def secrets(self) -> list[str]:
        return [s for s in (self.settings.client_secret,) if s]

    # ------------------------------------------------------------ what clients see
    def metadata(self) -> dict[str, Any]:
        """RFC 9728 protected resource metadata."""
        document: dict[str, Any] = {
            "resource": self.settings.resource,
            "authorization_servers": [self.settings.issuer],
            "bearer_methods_supported": ["header"],
        }
        if self.settings.scopes:
            document["scopes_supported"] = list(self.settings.scopes)
        return document

    def metadata_url(self, scope: Scope) -> str:
        """RFC 9728 §3.1: the well-known path inserted into the resource's own URL (never
        from the request's Host or scheme, which a proxy in front may change)."""
        parsed = urlparse(self.settings.resource)
        suffix = parsed.path.rstrip("/")
        return f"{parsed.scheme}://{parsed.netloc}{METADATA_PATH}{suffix}"

    async def passes(self, scope: Scope) -> bool:
        return (await self.verify(scope)).status == 200

    async def admit(self, scope: Scope, send: Send) -> bool:
        verdict = await self.verify(scope)
        if verdict.status == 200:
            return True
        await self._refuse(scope, send, verdict)
        return False

    async def reject(self, send: Send, scope: Scope | None = None) -> None:
        await self._refuse(scope, send, Verdict(401))

    async def _refuse(self, scope: Scope | None, send: Send, verdict: Verdict) -> None:
        challenge = "Bearer"
        parts = []
        if scope is not None:
            parts.append(f'resource_metadata="{self.metadata_url(scope)}"')
        if verdict.error:
            parts.append(f'error="{verdict.error}"')
            if verdict.description:
                parts.append(f'error_description="{verdict.description}"')
        if verdict.error == "insufficient_scope" or (
            verdict.status == 401 and self.settings.scopes
        ):
            parts.append(f'scope="{" ".join(self.settings.scopes)}"')
        if parts:
            challenge += " " + ", ".join(parts)
        kind = {401: "unauthorized", 403: "forbidden", 503: "authorization_unavailable"}
        message = (
            verdict.description
            or {
                401: "a valid bearer access token is required",
                403: "the access token lacks a required scope",
                503: "the authorization server could not be reached",
            }[verdict.status]
        )
        refusal = problem(verdict.status, kind[verdict.status], message)
        headers = [(b"cache-control", b"no-store")]
        if verdict.status != 503:
            headers.append((b"www-authenticate", challenge.encode("latin-1")))
        await respond(send, *refusal, headers=headers)

    # ------------------------------------------------------------ checking a token
    async def verify(self, scope: Scope) -> Verdict:
        token = _bearer(scope)
        if token is None:
            return Verdict(401)  # RFC 6750 §3.1: no error code when no credentials were sent
        try:
            if self.settings.validation == "introspection":
                claims = await self.server.introspect(token)
            else:
                claims = await self._decode(token)
        except AuthServerBusy:
            return Verdict(503, description=BUSY)
        except AuthServerUnavailable as exc:
            log.warning("cannot check an access token: %s", exc)
            return Verdict(503)
        except jwt.PyJWTError as exc:
            return Verdict(401, "invalid_token", _reason(exc))
        if claims is None:
            return Verdict(401, "invalid_token", "the access token is not active")
        granted = _scopes(claims)
        if not set(self.settings.scopes) <= granted:
            return Verdict(403, "insufficient_scope", "the access token lacks a required scope")
        return Verdict(200)

    async def _decode(self, token: bytes) -> dict[str, Any]:
        header = jwt.get_unverified_header(token)
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise jwt.InvalidAlgorithmError("the token's algorithm is not accepted")
        key = await self.server.key(str(header.get("kid") or ""), str(algorithm))
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=self.settings.audience or self.settings.resource,
            issuer=self.settings.issuer,
            leeway=LEEWAY,
            options={"require": ["exp", "iss", "aud"]},
        )
        return claims


def _bearer(scope: Scope) -> bytes | None:
    for key, value in scope["headers"]:
        if key == b"authorization":
            kind, _, token = value.strip().partition(b" ")
            token = bytes(token).strip()
            if kind.lower() == b"bearer" and token:
                return token
            return None
    return None


def _scopes(claims: dict[str, Any]) -> set[str]:
    granted = claims.get("scope", claims.get("scp", ""))
    if isinstance(granted, list):
        return {str(s) for s in granted}
    return set(str(granted).split())


_REASONS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "the access token has expired"),
    (jwt.ImmatureSignatureError, "the access token is not valid yet"),
    (jwt.InvalidAudienceError, "the access token is for another resource"),
    (jwt.InvalidIssuerError, "the access token is from another issuer"),
    (jwt.InvalidSignatureError, "the access token's signature does not verify"),
    (jwt.InvalidKeyError, "the access token is signed with an unknown key"),
    (jwt.MissingRequiredClaimError, "the access token lacks a required claim"),
)


def _reason(exc: jwt.PyJWTError) -> str:
    """Why a token failed, in words that reveal nothing of the token."""
    return next(
        (text for kind, text in _REASONS if isinstance(exc, kind)), "the access token is malformed"
    )
