"""Inbound `digest` (RFC 7616): callers prove they know the password without sending it.

Each 401 carries a fresh nonce signed with a key made before any worker forks (kept across
reloads) and bound to the process that made it: a nonce of another worker, or one older
than `NONCE_SECONDS`, is answered `stale=true` and the client retries at once with a fresh
one. `qop=auth` with SHA-256 (preferred) or MD5; a nonce count that does not grow is a
replay and refused, and counts survive reloads. The password is never logged or sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import struct
import time
import urllib.request
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from naftiko_runtime.adapters.asgi import Scope, Send, respond
from naftiko_runtime.adapters.auth.base import NONCE_KEY, UNAUTHORIZED, Guard

NONCE_SECONDS = 300.0
REALM = "naftiko"
_KEY = NONCE_KEY
# nonce counts seen, per process and kept across reloads; a nonce is bound to the process
# that made it (its pid is signed in), so a replay cannot be spent once per worker
_COUNTS: OrderedDict[str, int] = OrderedDict()
_HASHES: dict[str, Callable[[bytes], Any]] = {"SHA-256": hashlib.sha256, "MD5": hashlib.md5}
_SEEN_LIMIT = 10_000


def _nonce(now: float) -> str:
    stamp = struct.pack(">dI", now, os.getpid() & 0xFFFFFFFF) + secrets.token_bytes(4)
    signature = hmac.new(_KEY, stamp, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(stamp + signature).decode().rstrip("=")


def _nonce_time(nonce: str) -> float | None:
    """When `nonce` was made, or None when this process family did not make it."""
    try:
        raw = base64.urlsafe_b64decode(nonce + "=" * (-len(nonce) % 4))
    except ValueError:
        return None
    if len(raw) != 32:
        return None
    stamp, signature = raw[:16], raw[16:]
    if not hmac.compare_digest(signature, hmac.new(_KEY, stamp, hashlib.sha256).digest()[:16]):
        return None
    moment, pid = struct.unpack(">dI", stamp[:12])
    if pid != os.getpid() & 0xFFFFFFFF:
        return -1e18  # another worker's: answered as stale, so the client takes a fresh one
    return float(moment)


@dataclass(eq=False)
class DigestGuard(Guard):
    username: str
    password: str
    clock: Callable[[], float] = time.time

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DigestGuard) and (other.username, other.password) == (
            self.username,
            self.password,
        )

    def __hash__(self) -> int:
        return hash((self.username, self.password))

    @property
    def secrets(self) -> list[str]:
        return [self.password]

    async def passes(self, scope: Scope) -> bool:
        return self.check(scope) == "ok"

    async def admit(self, scope: Scope, send: Send) -> bool:
        verdict = self.check(scope)
        if verdict == "ok":
            return True
        await self._challenge(send, stale=verdict == "stale")
        return False

    async def reject(self, send: Send, scope: Scope | None = None) -> None:
        await self._challenge(send, stale=False)

    def check(self, scope: Scope) -> str:
        """ "ok", "stale" (a good answer to an expired nonce) or "no"."""
        header = next((v for k, v in scope["headers"] if k == b"authorization"), None)
        if header is None:
            return "no"
        kind, _, rest = header.decode("latin-1").strip().partition(" ")
        if kind.lower() != "digest":
            return "no"
        try:
            fields = urllib.request.parse_keqv_list(urllib.request.parse_http_list(rest))
        except ValueError:
            return "no"
        algorithm = fields.get("algorithm", "MD5").upper()
        hashing = _HASHES.get(algorithm)
        nonce, uri = fields.get("nonce", ""), fields.get("uri", "")
        if hashing is None or fields.get("qop") != "auth" or fields.get("realm") != REALM:
            return "no"
        target = scope.get("raw_path") or scope["path"].encode()
        if scope.get("query_string"):
            target += b"?" + scope["query_string"]
        if uri.encode("latin-1") != target:
            return "no"

        def h(text: str) -> str:
            return str(hashing(text.encode()).hexdigest())

        ha1 = h(f"{self.username}:{REALM}:{self.password}")
        ha2 = h(f"{scope['method']}:{uri}")
        count, cnonce = fields.get("nc", ""), fields.get("cnonce", "")
        expected = h(f"{ha1}:{nonce}:{count}:{cnonce}:auth:{ha2}")
        user_ok = hmac.compare_digest(fields.get("username", "").encode(), self.username.encode())
        answer_ok = hmac.compare_digest(fields.get("response", "").encode(), expected.encode())
        made = _nonce_time(nonce)
        if not (user_ok and answer_ok) or made is None:
            return "no"
        if self.clock() - made > NONCE_SECONDS:
            return "stale"
        try:
            number = int(count, 16)
        except ValueError:
            return "no"
        seen = _COUNTS.get(nonce)
        if seen is None and number != 1:
            return "stale"  # a count we no longer remember: a fresh nonce, not a replay
        if number <= (seen or 0):
            return "no"  # a replayed (or reordered) request
        _COUNTS[nonce] = number
        _COUNTS.move_to_end(nonce)
        while len(_COUNTS) > _SEEN_LIMIT:
            _COUNTS.popitem(last=False)
        return "ok"

    async def _challenge(self, send: Send, stale: bool) -> None:
        nonce, opaque = _nonce(self.clock()), secrets.token_hex(8)
        extra = ", stale=true" if stale else ""
        challenges = [  # preferred first (RFC 7616 §3.7)
            (
                b"www-authenticate",
                f'Digest realm="{REALM}", qop="auth", algorithm={algorithm}, '
                f'nonce="{nonce}", opaque="{opaque}"{extra}'.encode(),
            )
            for algorithm in _HASHES
        ]
        await respond(send, *UNAUTHORIZED, headers=challenges)
