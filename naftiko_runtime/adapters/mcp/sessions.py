"""Handshake-era MCP sessions bounded per client, on top of the SDK's own bounds.

The SDK closes a session after an idle period and refuses new ones past a global count, so
one client opening thousands of sessions can still lock every other client out until they
expire. This keeps a count per peer address: a client at its bound gets a 429 for a new
session while others are served. (Behind a proxy every client has the proxy's address: raise
the bound there, or rely on the proxy's own limits.)
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from naftiko_runtime.adapters.asgi import Send, respond_json

SESSION_HEADER = b"mcp-session-id"


class SessionBound:
    """`live()` is the set of session ids the SDK still holds (expired ones drop out)."""

    def __init__(self, per_client: int, live: Callable[[], Collection[str]]) -> None:
        self.per_client = per_client
        self._live = live
        self._by_client: dict[str, set[str]] = {}
        self._opening: dict[str, int] = {}  # session-less requests in flight, per client
        self.on_refuse: Callable[[], None] | None = None  # counts refusals (metrics)

    def open_sessions(self) -> int:
        return len(self._live())

    def admits(self, client: str) -> bool:
        """Whether `client` may open one more session; when it may, the attempt is counted
        until `done` (so concurrent openings cannot pass the bound together)."""
        sessions = self._by_client.get(client)
        if sessions:
            sessions.intersection_update(self._live())
            if not sessions:
                del self._by_client[client]
        held = len(sessions or ()) + self._opening.get(client, 0)
        if held >= self.per_client:
            return False
        self._opening[client] = self._opening.get(client, 0) + 1
        return True

    def done(self, client: str) -> None:
        left = self._opening.get(client, 1) - 1
        if left:
            self._opening[client] = left
        else:
            self._opening.pop(client, None)

    def recording(self, client: str, send: Send) -> tuple[Send, Callable[[], None]]:
        """`send`, noting the session id the SDK hands this client (the opening attempt
        ends there: the SDK may keep the request running), and a `finish` for when no
        answer came at all."""
        open_attempt = [True]

        def finish() -> None:
            if open_attempt[0]:
                open_attempt[0] = False
                self.done(client)

        async def record(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                for key, value in message.get("headers") or []:
                    if key.lower() == SESSION_HEADER:
                        self._by_client.setdefault(client, set()).add(value.decode("latin-1"))
                finish()
            await send(message)

        return record, finish

    async def refuse(self, send: Send) -> None:
        if self.on_refuse is not None:
            self.on_refuse()
        await respond_json(
            send,
            429,
            {
                "jsonrpc": "2.0",
                "id": None,
                "error": {
                    "code": -32000,
                    "message": f"this client already holds {self.per_client} open MCP "
                    "sessions; close one (DELETE) or let one expire",
                },
            },
        )
