"""Outbound authentication rendered once from the resolved binds.

The result is static headers and query pairs (or a digest pair the client answers a
challenge with); `secrets` lists every derived form that must never reach a log or client.
"""

from __future__ import annotations

import base64
import dataclasses
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from naftiko_runtime.model import (
    Argument,
    Auth,
    Body,
    Capability,
    ConsumedOperation,
    ForwardRoute,
    Input,
    Location,
    MappedOutput,
    OrchestratedOutput,
    OutputField,
    Param,
    StaticOutput,
    StepMapping,
)
from naftiko_runtime.text.templating import Template, TemplateSyntaxError


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


# values of these shapes are data, not secrets, and are everywhere in answers: redacting
# them from bodies would corrupt `{"limit": 1000}`, every `created_at` and every
# `"api_version": "2022-06-28"` (they still leave every log line and error). A short number
# only: a long one may be a PIN or a numeric key, and is redacted like any secret.
_DATA = re.compile(
    r"0|[1-9]\d{0,5}"  # a page size, a limit
    r"|true|false|null"
    r"|\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?"  # a date, a version date
    r"|v?\d+(\.\d+){1,3}|v\d+",  # a version number
    re.IGNORECASE,
)
# what never reaches the upstream's request: outputs are shaped from its answer
_NOT_SENT = (Location, MappedOutput, OrchestratedOutput, OutputField, StaticOutput, StepMapping)


def request_secrets(capability: Capability, variables: Mapping[str, str]) -> list[str]:
    """Every bound value the spec places into an upstream request outside `authentication`
    (a `/bot{{env.TOKEN}}/` path, an `X-Api-Token: {{env.KEY}}` header, a query, a body, a
    base URI, a `with` argument): the upstream may echo it, so it is as much a credential
    as a bearer token and leaves pass-through bodies too. Values shaped like data (a short
    number, `true`, a date, a version) and a base URI's host stay: they cannot be told from
    the data they shape (see `_DATA`)."""
    found: list[str] = []
    for text in _sent_templates(capability, set()):
        try:
            names = Template(text).variables
        except TemplateSyntaxError:  # validation reports it; nothing to redact
            continue
        for name in names:
            value = variables.get(name)
            if value and not _DATA.fullmatch(value):
                found.append(value)
    return found


def _sent_templates(node: Any, seen: set[int]) -> Iterator[str]:
    """The template texts in a model subtree that end up in an upstream request."""
    if isinstance(node, _NOT_SENT) or id(node) in seen:
        return
    if isinstance(node, (tuple, list)):
        for item in node:
            yield from _sent_templates(item, seen)
        return
    if not dataclasses.is_dataclass(node) or isinstance(node, type):
        return
    seen.add(id(node))  # one consumed operation is shared by every call of it
    if isinstance(node, ConsumedOperation | ForwardRoute):
        yield _below_authority(node.base_uri)  # a host is public: it is in every URL echoed
        yield node.path
    elif isinstance(node, Param | Input) and node.value and not node.value.startswith("$"):
        yield node.value
    elif isinstance(node, Argument):
        yield from _strings(node.template if node.template else node.literal)
    elif isinstance(node, Body):
        yield from _strings(node.data)
        return
    for field in dataclasses.fields(node):
        if field.name != "auth":  # authentication's values are credentials already
            yield from _sent_templates(getattr(node, field.name), seen)


def _below_authority(uri: str) -> str:
    """The path and query of a base URI (a secret may hide there, as in a webhook URL); not
    its scheme and host, which every URL an upstream answers with holds."""
    scheme = uri.find("://")
    if scheme < 0:
        return uri
    path = uri.find("/", scheme + 3)
    return uri[path:] if path >= 0 else ""


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)
