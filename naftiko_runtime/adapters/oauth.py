"""Inbound `oauth2`: this adapter is an OAuth 2.1 resource server.

Access tokens are JWTs checked with PyJWT against the authorization server's published keys
(signature with an asymmetric algorithm, `iss`, `aud` = the spec's `resource` or `audience`,
`exp`/`nbf` with a small leeway, the spec's `scopes`), or, with `tokenValidation:
introspection`, asked of its RFC 7662 endpoint. The server's metadata (RFC 8414, else OpenID
discovery) and keys are fetched when first needed, kept for `KEYS_TTL` seconds, and fetched
again at once (at most every `REFETCH_AFTER` seconds) when a token names a key id not yet
seen: a rotation needs no restart. Clients discover the authorization server through this
resource's RFC 9728 metadata, named in every 401's `WWW-Authenticate`. Nothing about a token
is ever logged or echoed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import httpx
import jwt
import orjson

from naftiko_runtime.adapters.inbound_auth import METADATA_PATH, Guard

log = logging.getLogger("naftiko_runtime.oauth")
LEEWAY = 30.0  # seconds of clock skew tolerated on exp/nbf/iat
KEYS_TTL = 300.0
REFETCH_AFTER = 5.0
INTROSPECTION_TTL = 30.0  # an active answer is reused this long (never past the token's exp)
INACTIVE_TTL = 10.0  # an inactive answer too, so junk tokens cannot flood the server
FAILURE_BACKOFF = 5.0  # after the server failed, fail fast this long instead of queueing
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


class AuthServerUnavailable(Exception):
    """The authorization server could not be reached or answered garbage."""


@dataclass(frozen=True)
class OAuthSettings:
    issuer: str
    resource: str
    audience: str | None = None
    scopes: tuple[str, ...] = ()
    validation: str = "jwks"  # jwks | introspection
    client_id: str | None = None  # introspection: how this resource server authenticates
    client_secret: str | None = None


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
    _metadata: dict[str, Any] | None = field(default=None, init=False)
    _keys: dict[str, dict[str, Any]] = field(default_factory=dict, init=False)  # kid -> JWK
    _built: dict[tuple[str, str], jwt.PyJWK] = field(default_factory=dict, init=False)
    _keys_at: float = field(default=-1e18, init=False)
    _failed_at: float = field(default=-1e18, init=False)
    _fetch_lock: asyncio.Lock | None = field(default=None, init=False)
    _introspected: dict[bytes, tuple[float, dict[str, Any] | None]] = field(
        default_factory=dict, init=False
    )

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

    def metadata_url(self, scope: dict[str, Any]) -> str:
        """RFC 9728 §3.1: the well-known path inserted into the resource's own URL (never
        from the request's Host or scheme, which a proxy in front may change)."""
        parsed = urlparse(self.settings.resource)
        suffix = parsed.path.rstrip("/")
        return f"{parsed.scheme}://{parsed.netloc}{METADATA_PATH}{suffix}"

    async def passes(self, scope: dict[str, Any]) -> bool:
        return (await self.verify(scope)).status == 200

    async def admit(self, scope: dict[str, Any], send: Any) -> bool:
        verdict = await self.verify(scope)
        if verdict.status == 200:
            return True
        await self._refuse(scope, send, verdict)
        return False

    async def reject(self, send: Any, scope: dict[str, Any] | None = None) -> None:
        await self._refuse(scope, send, Verdict(401))

    async def _refuse(self, scope: dict[str, Any] | None, send: Any, verdict: Verdict) -> None:
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
        body = orjson.dumps({"error": {"type": kind[verdict.status], "message": message}})
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
        ]
        if verdict.status != 503:
            headers.append((b"www-authenticate", challenge.encode("latin-1")))
        await send({"type": "http.response.start", "status": verdict.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    # ------------------------------------------------------------ checking a token
    async def verify(self, scope: dict[str, Any]) -> Verdict:
        token = _bearer(scope)
        if token is None:
            return Verdict(401)  # RFC 6750 §3.1: no error code when no credentials were sent
        try:
            if self.settings.validation == "introspection":
                claims = await self._introspect(token)
            else:
                claims = await self._decode(token)
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
        key = await self._key(str(header.get("kid") or ""), str(algorithm))
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

    async def _key(self, kid: str, algorithm: str) -> jwt.PyJWK:
        now = time.monotonic()
        due = now - self._keys_at > KEYS_TTL or (
            kid not in self._keys and now - self._keys_at > REFETCH_AFTER
        )
        if due and now - self._failed_at > FAILURE_BACKOFF:
            try:
                await self._fetch_keys()
            except AuthServerUnavailable:
                self._failed_at = time.monotonic()
                if not self._keys:
                    raise  # nothing to check with: 503
                log.warning("keeping the last published keys: the server could not be reached")
        elif due and not self._keys:
            raise AuthServerUnavailable("the authorization server failed moments ago")
        if kid:
            entry = self._keys.get(kid)
        else:  # a key set of one may leave kid out
            entry = next(iter(self._keys.values())) if len(self._keys) == 1 else None
        if entry is None:
            raise jwt.InvalidKeyError("the token is signed with a key this server does not know")
        built = self._built.get((kid, algorithm))
        if built is None:  # a JWK without `alg` serves any algorithm its key type allows
            try:
                built = jwt.PyJWK(entry, algorithm=str(entry.get("alg") or algorithm))
            except jwt.PyJWTError:
                raise jwt.InvalidKeyError("the key cannot verify this algorithm") from None
            self._built[(kid, algorithm)] = built
        return built

    async def _fetch_keys(self) -> None:
        if self._fetch_lock is None:
            self._fetch_lock = asyncio.Lock()
        started = time.monotonic()
        async with self._fetch_lock:
            if self._keys_at >= started:  # another request fetched them meanwhile
                return
            metadata = await self._server_metadata()
            uri = metadata.get("jwks_uri")
            if not isinstance(uri, str):
                raise AuthServerUnavailable("the authorization server publishes no jwks_uri")
            document = await self._get_json(uri)
            keys = {
                str(entry.get("kid") or ""): entry
                for entry in document.get("keys") or []
                if isinstance(entry, dict)
                and entry.get("use", "sig") == "sig"
                and entry.get("kty") in ("RSA", "EC", "OKP")  # asymmetric keys only
            }
            self._keys, self._built, self._keys_at = keys, {}, time.monotonic()

    async def _server_metadata(self) -> dict[str, Any]:
        if self._metadata is not None:
            return self._metadata
        issuer = self.settings.issuer.rstrip("/")  # for building URLs; `iss` stays exact
        parsed = urlparse(issuer)
        origin, path = f"{parsed.scheme}://{parsed.netloc}", parsed.path
        candidates = [  # RFC 8414 §3.1 path insertion, then OpenID Connect discovery
            f"{origin}/.well-known/oauth-authorization-server{path}",
            f"{issuer}/.well-known/openid-configuration",
        ]
        problems = []
        for url in candidates:
            try:
                document = await self._get_json(url)
            except AuthServerUnavailable as exc:
                problems.append(str(exc))
                continue
            if str(document.get("issuer", "")).rstrip("/") != issuer:
                problems.append(f"{url} names another issuer")
                continue
            for key in ("jwks_uri", "introspection_endpoint"):
                endpoint = document.get(key)
                if isinstance(endpoint, str) and not secure_url(endpoint):
                    problems.append(f"{url}: {key} is not https")
                    document = {k: v for k, v in document.items() if k != key}
            self._metadata = document
            return document
        raise AuthServerUnavailable("; ".join(problems))

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            async with self.client() as client:
                reply = await client.get(url, headers={"accept": "application/json"})
        except httpx.HTTPError as exc:
            raise AuthServerUnavailable(f"{url}: {type(exc).__name__}") from None
        if reply.status_code != 200:
            raise AuthServerUnavailable(f"{url} answered {reply.status_code}")
        try:
            document = reply.json()
        except ValueError:
            raise AuthServerUnavailable(f"{url} did not answer JSON") from None
        if not isinstance(document, dict):
            raise AuthServerUnavailable(f"{url} did not answer a JSON object")
        return document

    async def _introspect(self, token: bytes) -> dict[str, Any] | None:
        digest = hashlib.sha256(token).digest()  # the cache never holds the token itself
        cached = self._introspected.get(digest)
        now = self.clock()
        if cached is not None and cached[0] > now:
            return cached[1]
        if now - self._failed_at < FAILURE_BACKOFF:
            raise AuthServerUnavailable("the authorization server failed moments ago")
        metadata = await self._server_metadata()
        endpoint = metadata.get("introspection_endpoint")
        if not isinstance(endpoint, str):
            raise AuthServerUnavailable("the authorization server has no introspection_endpoint")
        auth: httpx.BasicAuth | None = (
            httpx.BasicAuth(self.settings.client_id, self.settings.client_secret or "")
            if self.settings.client_id
            else None
        )
        try:
            async with self.client() as client:
                reply = await client.post(
                    endpoint,
                    data={"token": token.decode("latin-1"), "token_type_hint": "access_token"},
                    auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT,
                    headers={"accept": "application/json"},
                )
        except httpx.HTTPError as exc:
            self._failed_at = now
            raise AuthServerUnavailable(f"introspection: {type(exc).__name__}") from None
        if reply.status_code != 200:
            self._failed_at = now
            raise AuthServerUnavailable(f"introspection answered {reply.status_code}")
        try:
            claims = reply.json()
        except ValueError:
            raise AuthServerUnavailable("introspection did not answer JSON") from None
        if not isinstance(claims, dict) or claims.get("active") is not True:
            self._remember(digest, now + INACTIVE_TTL, None)  # a junk token asks once
            return None
        audience = self.settings.audience or self.settings.resource
        granted = claims.get("aud")
        audiences = granted if isinstance(granted, list) else [granted] if granted else []
        if audience not in audiences:
            raise jwt.InvalidAudienceError("the token is for another audience")
        if str(claims.get("iss", self.settings.issuer)).rstrip("/") != self.settings.issuer.rstrip(
            "/"
        ):
            raise jwt.InvalidIssuerError("the token is from another issuer")
        expires = float(claims.get("exp") or now + INTROSPECTION_TTL)
        if expires + LEEWAY < now:
            raise jwt.ExpiredSignatureError("the token has expired")
        self._remember(digest, min(now + INTROSPECTION_TTL, expires), claims)
        return claims

    def _remember(self, digest: bytes, until: float, claims: dict[str, Any] | None) -> None:
        if len(self._introspected) > 10_000:
            self._introspected.clear()  # bounded memory; answers are cheap to ask again
        self._introspected[digest] = (until, claims)


def secure_url(url: str) -> bool:
    """https, or plain http to this machine only (a development server)."""
    parsed = urlparse(url)
    return parsed.scheme == "https" or (
        parsed.scheme == "http" and parsed.hostname in ("127.0.0.1", "::1", "localhost")
    )


def _bearer(scope: dict[str, Any]) -> bytes | None:
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
