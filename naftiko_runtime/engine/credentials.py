"""Outbound authentication rendered once from the resolved binds.

The result is static headers and query pairs (or a digest pair the client answers a
challenge with); `secrets` lists every derived form that must never reach a log or client.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass

from naftiko_runtime.spec.model import Auth
from naftiko_runtime.templating import Template


@dataclass(frozen=True, slots=True)
class OutboundAuth:
    headers: tuple[tuple[str, str], ...] = ()
    query: tuple[tuple[str, str], ...] = ()
    digest: tuple[str, str] | None = None
    passwords: tuple[str, ...] = ()  # what a header was derived from (basic's password)

    @property
    def secrets(self) -> list[str]:
        values = [value for _, value in self.headers] + [value for _, value in self.query]
        values.extend(self.passwords)
        for _, value in self.headers:
            scheme, _, credential = value.partition(" ")
            if scheme in ("Bearer", "Basic") and credential:
                values.append(credential)
        if self.digest:
            values.append(self.digest[1])
        return values


NO_AUTH = OutboundAuth()


def compile_auth(auth: Auth | None, variables: Mapping[str, str]) -> OutboundAuth:
    """`auth` with every `{{VAR}}` rendered from `variables`."""
    if auth is None:
        return NO_AUTH

    def render(text: str | None) -> str:
        return Template(text).render(variables) if text else ""

    if auth.type == "bearer":
        return OutboundAuth(headers=(("Authorization", f"Bearer {render(auth.token)}"),))
    if auth.type == "basic":
        user_pass = f"{render(auth.username)}:{render(auth.password)}".encode()
        basic = "Basic " + base64.b64encode(user_pass).decode()
        return OutboundAuth(headers=(("Authorization", basic),), passwords=(render(auth.password),))
    if auth.type == "apikey":
        pair = ((render(auth.key) or "X-API-Key", render(auth.value)),)
        if auth.placement == "query":
            return OutboundAuth(query=pair)
        return OutboundAuth(headers=pair)
    if auth.type == "digest":
        return OutboundAuth(digest=(render(auth.username), render(auth.password)))
    return NO_AUTH
