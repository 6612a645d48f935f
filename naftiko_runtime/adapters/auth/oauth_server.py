"""What an OAuth resource server asks of its authorization server, and how little it trusts
the answers: metadata (RFC 8414, else OpenID discovery), signing keys (RFC 7517) and token
introspection (RFC 7662).

Metadata and keys are fetched when first needed, kept for `KEYS_TTL` seconds, and fetched
again at once (at most every `REFETCH_AFTER` seconds) when a token names a key id not yet
seen: a rotation needs no restart. The server is not trusted to be quick, small or well
formed: a fetch of its metadata and keys must end within `FETCH_DEADLINE` seconds in all
(however slowly it drips), is made once for all the requests that need it at that moment
(they share its keys or its failure), and after a failure the next `FAILURE_BACKOFF` seconds
fail at once. Every document it sends is read up to `MAX_DOCUMENT` bytes and must have the
shape RFC 8414, 7517 and 7662 give it; anything else is the server failing
(`AuthServerUnavailable`: a 503), never this runtime (500).

Introspection asks about one token at a time: an error answer about a token is that token's
503 (remembered `ERROR_TTL` seconds), never the other tokens'; only a server that cannot be
connected to, or whose metadata cannot be read, makes every new token wait out the back-off.
At most `INTROSPECTION_SLOTS` introspection calls run at once; a token that finds none free
within `SLOT_WAIT` seconds is refused (`AuthServerBusy`), so a flood of made-up tokens costs
the server a bounded number of calls and leaves tokens already checked unaffected.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Hashable
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar, cast
from urllib.parse import urlparse

import httpx
import jwt
from pydantic import BaseModel, ConfigDict, ValidationError

log = logging.getLogger("naftiko_runtime.oauth")
LEEWAY = 30.0  # seconds of clock skew tolerated on exp/nbf/iat
KEYS_TTL = 300.0
REFETCH_AFTER = 5.0
INTROSPECTION_TTL = 30.0  # an active answer is reused this long (never past the token's exp)
INACTIVE_TTL = 10.0  # an inactive answer too, so junk tokens cannot flood the server
FAILURE_BACKOFF = 5.0  # after the server failed, fail fast this long instead of queueing
FETCH_DEADLINE = 5.0  # seconds for one whole fetch (metadata + keys, or one introspection)
MAX_DOCUMENT = 1 << 20  # bytes of metadata, key set or introspection answer read at most
ERROR_TTL = 5.0  # an introspection error about one token is that token's answer this long
INTROSPECTION_SLOTS = 8  # introspection calls in flight at once
SLOT_WAIT = 1.0  # seconds a token waits for a free slot before its 503
BUSY = "too many access tokens are being checked at once; retry shortly"
T = TypeVar("T")
D = TypeVar("D", bound="_Document")


class AuthServerUnavailable(Exception):
    """The authorization server could not be reached or answered garbage."""


class AuthServerUnreachable(AuthServerUnavailable):
    """No connection could be made: true of every token, so it starts the back-off."""


class AuthServerBusy(AuthServerUnavailable):
    """Every introspection slot stayed taken for `SLOT_WAIT` seconds."""


class _Document(BaseModel):
    """What the authorization server sends, checked at the boundary: members this runtime
    reads must have their RFC type (no coercion: `"exp": "tomorrow"` is garbage); others are
    ignored."""

    model_config = ConfigDict(strict=True, extra="ignore", allow_inf_nan=False, frozen=True)


class _ServerMetadata(_Document):  # RFC 8414 §2 / OpenID Connect Discovery §3
    issuer: str
    jwks_uri: str | None = None
    introspection_endpoint: str | None = None


class _KeySet(_Document):  # RFC 7517 §5: JWKs this runtime cannot use are skipped later
    keys: list[dict[str, Any]]


class _Introspection(_Document):  # RFC 7662 §2.2
    active: bool
    aud: str | list[str] | None = None
    iss: str | None = None
    exp: float | None = None
    scope: str | None = None
    scp: str | list[str] | None = None


class _Answer(NamedTuple):
    """What introspection said about one token, until when (`clock` time): its claims, None
    when inactive, or `problem` when the server gave no usable answer about it."""

    until: float
    claims: _Introspection | None
    problem: str | None = None


@dataclass(frozen=True)
class OAuthSettings:
    """The spec's `oauth2` authentication, rendered."""

    issuer: str
    resource: str
    audience: str | None = None
    scopes: tuple[str, ...] = ()
    validation: str = "jwks"  # jwks | introspection
    client_id: str | None = None  # introspection: how this resource server authenticates
    client_secret: str | None = None


class AuthorizationServer:
    """One authorization server as a resource server uses it: `key` for a JWT's signing key,
    `introspect` for an opaque token's claims. Both raise `AuthServerUnavailable` when the
    server fails them and a `jwt.PyJWTError` when the token is the problem."""

    def __init__(
        self,
        settings: OAuthSettings,
        client: Callable[[], httpx.AsyncClient],
        clock: Callable[[], float],
    ) -> None:
        self.settings = settings
        self.client = client
        self.clock = clock
        self._metadata: _ServerMetadata | None = None
        self._keys: dict[str, dict[str, Any]] = {}  # kid -> JWK
        self._built: dict[tuple[str, str], jwt.PyJWK] = {}
        self._keys_at = -1e18
        self._failed_at = -1e18  # monotonic; no token's fault
        self._flights: dict[Hashable, asyncio.Task[Any]] = {}
        self._slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None
        self._introspected: dict[bytes, _Answer] = {}

    # ------------------------------------------------------------ signing keys
    async def key(self, kid: str, algorithm: str) -> jwt.PyJWK:
        """The published key `kid` names, ready to verify `algorithm`."""
        now = time.monotonic()
        entry = self._entry(kid)
        if entry is None and now - self._keys_at > REFETCH_AFTER:  # no keys yet, or a rotation
            await self._refresh_keys(now)
            entry = self._entry(kid)
        elif now - self._keys_at > KEYS_TTL and now - self._failed_at >= FAILURE_BACKOFF:
            self._flight("keys", self._fetch_keys)  # the key is known: refresh in the background
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

    def _entry(self, kid: str) -> dict[str, Any] | None:
        if kid:
            return self._keys.get(kid)
        return next(iter(self._keys.values())) if len(self._keys) == 1 else None  # may omit kid

    async def _refresh_keys(self, now: float) -> None:
        """Fetch the keys (one fetch shared by every request that needs it); while the
        server fails, keep checking with the last keys it published, if any."""
        if now - self._failed_at < FAILURE_BACKOFF:
            if self._keys:
                return
            raise AuthServerUnavailable("the authorization server failed moments ago")
        try:
            await self._shared("keys", self._fetch_keys)
        except AuthServerUnavailable:
            if not self._keys:
                raise  # nothing to check with: 503

    async def _fetch_keys(self) -> None:
        async def fetch() -> None:
            metadata = self._metadata or await self._discover()
            if metadata.jwks_uri is None:
                raise AuthServerUnavailable("the authorization server publishes no jwks_uri")
            document = await self._document(_KeySet, metadata.jwks_uri)
            keys = {
                str(entry.get("kid") or ""): entry
                for entry in document.keys
                if entry.get("use", "sig") == "sig"
                and entry.get("kty") in ("RSA", "EC", "OKP")  # asymmetric keys only
            }
            self._keys, self._built, self._keys_at = keys, {}, time.monotonic()

        try:
            await self._bounded(fetch(), "keys")
        except AuthServerUnavailable as exc:
            if self._keys:  # said once per failed fetch, not once per waiting request
                log.warning("keeping the last published keys: %s", exc)
            raise

    async def _shared(self, key: Hashable, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Single flight: the requests that need `key` while it is being fetched wait for that
        one fetch and share its result or failure, instead of each fetching in turn. A waiter
        that gives up (its client left) does not cancel the fetch for the others."""
        return cast(T, await asyncio.shield(self._flight(key, work)))

    def _flight(
        self, key: Hashable, work: Callable[[], Coroutine[Any, Any, Any]]
    ) -> asyncio.Task[Any]:
        """The fetch of `key` in progress, else a new one."""
        loop = asyncio.get_running_loop()
        task = self._flights.get(key)
        if task is None or task.get_loop() is not loop:
            task = loop.create_task(work())
            self._flights[key] = task
            task.add_done_callback(functools.partial(self._landed, key))
        return task

    def _landed(self, key: Hashable, task: asyncio.Task[Any]) -> None:
        if self._flights.get(key) is task:
            del self._flights[key]
        if not task.cancelled():
            task.exception()  # its waiters may all have left: nothing unretrieved to report

    async def _bounded(self, work: Coroutine[Any, Any, T], what: str) -> T:
        """`work` within `FETCH_DEADLINE` seconds in all; its failure is the server's (no token
        is involved), so it starts the back-off."""
        try:
            async with asyncio.timeout(FETCH_DEADLINE):
                return await work
        except TimeoutError:
            self._failed_at = time.monotonic()
            raise AuthServerUnavailable(
                f"{what}: no complete answer within {FETCH_DEADLINE:g} s"
            ) from None
        except AuthServerUnavailable:
            self._failed_at = time.monotonic()
            raise

    async def _discover(self) -> _ServerMetadata:
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
                document = await self._document(_ServerMetadata, url)
            except AuthServerUnavailable as exc:
                problems.append(str(exc))
                continue
            if document.issuer.rstrip("/") != issuer:
                problems.append(f"{url} names another issuer")
                continue
            for key in ("jwks_uri", "introspection_endpoint"):
                endpoint = getattr(document, key)
                if endpoint is not None and not secure_url(endpoint):
                    problems.append(f"{url}: {key} is not https")
                    document = document.model_copy(update={key: None})
            self._metadata = document
            return document
        raise AuthServerUnavailable("; ".join(problems))

    async def _document(
        self,
        model: type[D],
        url: str,
        form: dict[str, str] | None = None,
        auth: httpx.BasicAuth | None = None,
    ) -> D:
        """One document from the authorization server: a 200, at most `MAX_DOCUMENT` bytes
        (read no further), of `model`'s shape; anything else is `AuthServerUnavailable`."""
        where = "introspection" if form is not None else url
        try:
            async with (
                self.client() as client,
                client.stream(
                    "POST" if form is not None else "GET",
                    url,
                    data=form,
                    auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT,
                    headers={"accept": "application/json", "accept-encoding": "identity"},
                ) as reply,
            ):
                if reply.status_code != 200:
                    raise AuthServerUnavailable(f"{where} answered {reply.status_code}")
                body = await _capped(reply, where)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise AuthServerUnreachable(f"{where}: {type(exc).__name__}") from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise AuthServerUnavailable(f"{where}: {type(exc).__name__}") from None
        try:
            return model.model_validate_json(body)
        except ValidationError as exc:
            first = exc.errors(include_input=False, include_url=False)[0]
            at = ".".join(str(part) for part in first["loc"]) or "the document"
            raise AuthServerUnavailable(
                f"{where} did not answer the expected document ({at}: {first['msg']})"
            ) from None

    # ------------------------------------------------------------ introspection
    async def introspect(self, token: bytes) -> dict[str, Any] | None:
        """The claims of an active `token` (for this resource and issuer), None if inactive."""
        digest = hashlib.sha256(token).digest()  # the cache never holds the token itself
        answer = self._introspected.get(digest)
        if answer is None or answer.until <= self.clock():
            answer = await self._shared(digest, functools.partial(self._ask, digest, token))
        if answer.problem is not None:
            raise AuthServerUnavailable(answer.problem)
        if answer.claims is None:
            return None
        self._check(answer.claims)
        return answer.claims.model_dump(exclude_none=True)

    async def _ask(self, digest: bytes, token: bytes) -> _Answer:
        """Ask the server about one token. What it answers, error or not, is about this token
        only and remembered for it; a server that cannot be connected to fails every token."""
        endpoint = await self._introspection_endpoint()
        auth = (
            httpx.BasicAuth(self.settings.client_id, self.settings.client_secret or "")
            if self.settings.client_id
            else None
        )
        form = {"token": token.decode("latin-1"), "token_type_hint": "access_token"}
        async with self._slot():
            self._unless_failed()  # the server may have failed while this token waited
            now = self.clock()
            try:
                async with asyncio.timeout(FETCH_DEADLINE):
                    claims = await self._document(_Introspection, endpoint, form, auth)
            except AuthServerUnreachable:
                self._failed_at = time.monotonic()
                raise
            except TimeoutError:
                problem = f"introspection: no complete answer within {FETCH_DEADLINE:g} s"
                answer = _Answer(now + ERROR_TTL, None, problem)
            except AuthServerUnavailable as exc:
                answer = _Answer(now + ERROR_TTL, None, str(exc))
            else:
                active = claims.active
                ttl = INTROSPECTION_TTL if active else INACTIVE_TTL  # a junk token asks once
                answer = _Answer(now + ttl, claims if active else None)
        self._remember(digest, answer)
        return answer

    def _unless_failed(self) -> None:
        if time.monotonic() - self._failed_at < FAILURE_BACKOFF:
            raise AuthServerUnavailable("the authorization server failed moments ago")

    async def _introspection_endpoint(self) -> str:
        self._unless_failed()
        metadata = self._metadata
        if metadata is None:
            metadata = await self._shared("metadata", self._discover_in_time)
        if metadata.introspection_endpoint is None:
            raise AuthServerUnavailable("the authorization server has no introspection_endpoint")
        return metadata.introspection_endpoint

    async def _discover_in_time(self) -> _ServerMetadata:
        return await self._bounded(self._discover(), "metadata")

    @contextlib.asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        """One of `INTROSPECTION_SLOTS`, waited for at most `SLOT_WAIT` seconds."""
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots[0] is not loop:
            self._slots = (loop, asyncio.Semaphore(INTROSPECTION_SLOTS))
        gate = self._slots[1]
        try:
            async with asyncio.timeout(SLOT_WAIT):
                await gate.acquire()
        except TimeoutError:
            raise AuthServerBusy(BUSY) from None
        try:
            yield
        finally:
            gate.release()

    def _check(self, claims: _Introspection) -> None:
        """An active answer still names this resource, this issuer and a time not past (checked
        on every use, so a remembered answer never outlives the token)."""
        audience = self.settings.audience or self.settings.resource
        granted = claims.aud
        audiences = granted if isinstance(granted, list) else [granted] if granted else []
        if audience not in audiences:
            raise jwt.InvalidAudienceError("the token is for another audience")
        if claims.iss is not None and claims.iss.rstrip("/") != self.settings.issuer.rstrip("/"):
            raise jwt.InvalidIssuerError("the token is from another issuer")
        if claims.exp is not None and claims.exp + LEEWAY < self.clock():
            raise jwt.ExpiredSignatureError("the token has expired")

    def _remember(self, digest: bytes, answer: _Answer) -> None:
        if len(self._introspected) > 10_000:
            self._introspected.clear()  # bounded memory; answers are cheap to ask again
        self._introspected[digest] = answer


async def _capped(reply: httpx.Response, where: str) -> bytes:
    """The body, refused once past `MAX_DOCUMENT` bytes, or when compressed (identity was
    asked for; a small compressed body may inflate past any cap)."""
    if reply.headers.get("content-encoding", "identity").strip().lower() not in ("", "identity"):
        raise AuthServerUnavailable(f"{where} answered a compressed body")
    length = reply.headers.get("content-length", "")
    if length.isascii() and length.isdigit() and int(length) > MAX_DOCUMENT:
        raise AuthServerUnavailable(f"{where} answered more than {MAX_DOCUMENT} bytes")
    body = bytearray()
    async for chunk in reply.aiter_bytes():  # identity: the bytes as sent
        body += chunk
        if len(body) > MAX_DOCUMENT:
            raise AuthServerUnavailable(f"{where} answered more than {MAX_DOCUMENT} bytes")
    return bytes(body)


def secure_url(url: str) -> bool:
    """https, or plain http to this machine only (a development server)."""
    try:
        parsed = urlparse(url)
        host = parsed.hostname
    except ValueError:  # e.g. an unclosed IPv6 bracket in a URL the server published
        return False
    return parsed.scheme == "https" or (
        parsed.scheme == "http" and host in ("127.0.0.1", "::1", "localhost")
    )
