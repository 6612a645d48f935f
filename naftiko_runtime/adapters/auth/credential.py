"""Inbound `bearer`, `basic` and `apikey`: a fixed credential, rendered once from the binds,
compared with each request's in constant time."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from urllib.parse import parse_qsl

from naftiko_runtime.adapters.asgi import Scope, Send, respond
from naftiko_runtime.adapters.auth.base import UNAUTHORIZED, Guard


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

    def allows(self, scope: Scope) -> bool:
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

    async def passes(self, scope: Scope) -> bool:
        return self.allows(scope)

    async def admit(self, scope: Scope, send: Send) -> bool:
        if self.allows(scope):  # no second await on the hot path
            return True
        await self.reject(send, scope)
        return False

    async def reject(self, send: Send, scope: Scope | None = None) -> None:
        await respond(send, *UNAUTHORIZED, headers=[(b"www-authenticate", self.challenge)])
