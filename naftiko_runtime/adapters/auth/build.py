"""An adapter's declared authentication → its Guard. Any kind this runtime does not speak
refuses to start rather than serve an adapter the spec says is protected without protection.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

from naftiko_runtime.adapters.auth.base import Guard
from naftiko_runtime.adapters.auth.credential import CredentialGuard
from naftiko_runtime.errors import StartupError
from naftiko_runtime.model import Auth
from naftiko_runtime.text.templating import Template


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
        from naftiko_runtime.adapters.auth.oauth import OAuthGuard
        from naftiko_runtime.adapters.auth.oauth_server import OAuthSettings, secure_url

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
