"""What callers of an exposed adapter must present (`exposes[].authentication`): the Guard
every kind implements and what the kinds share. It imports none of them: `build` does.
"""

from __future__ import annotations

import abc
import secrets
from typing import Any

from naftiko_runtime.adapters.asgi import Scope, Send
from naftiko_runtime.adapters.errors import problem

METADATA_PATH = "/.well-known/oauth-protected-resource"  # RFC 9728
# signs digest nonces: made when this module is imported, which is before any worker forks,
# so a reload (which may bring digest in for the first time) keeps it
NONCE_KEY = secrets.token_bytes(32)
UNAUTHORIZED = problem(401, "unauthorized", "missing or invalid credentials")


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
    async def passes(self, scope: Scope) -> bool: ...

    @abc.abstractmethod
    async def reject(self, send: Send, scope: Scope | None = None) -> None: ...

    async def admit(self, scope: Scope, send: Send) -> bool:
        if await self.passes(scope):
            return True
        await self.reject(send, scope)
        return False
