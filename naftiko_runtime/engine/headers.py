"""Which end-to-end headers cross the gateway, both ways: one documented policy.

Each consumed API may change the lists (`headerPolicy`, dialect): see `HeaderPolicy`.

Up (client → upstream), on an operation's one call: what content negotiation, conditional
requests and safe retries need (`Accept` with vendor media types, `If-None-Match` and its
kin, so a 304 passes through, `Idempotency-Key`). Never a credential, a cookie or a hop-by-hop
header: the spec's own credentials and headers are the only ones that reach the upstream
otherwise. A header the spec sets itself wins, except `Accept`, which the spec sets as a
default (`import openapi` asks for JSON) and a client asking for a specific type overrides.

Back (upstream → client), on a REST answer and an upstream 4xx passed through: pagination
(`Link`), the rate-limit families, caching validators and directives, `Retry-After`,
`Location`, `Content-Disposition`, `Deprecation`/`Sunset`. Never hop-by-hop headers,
`Set-Cookie`, or the framing ones this runtime writes itself. `Link` and `Location` URLs
that point at the upstream are rewritten to the gateway's own routes (see `rewrite_link`),
so a client paginates through the gateway, never around it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

PASS_UP = frozenset(
    {
        "accept",
        "accept-language",
        "if-none-match",
        "if-modified-since",
        "if-match",
        "if-unmodified-since",
        "idempotency-key",
        "prefer",
    }
)
PASS_BACK = frozenset(
    {
        "link",
        "etag",
        "last-modified",
        "cache-control",
        "expires",
        "age",
        "vary",
        "retry-after",
        "location",
        "content-disposition",
        "content-language",
        "deprecation",
        "sunset",
        "ratelimit",
        "ratelimit-policy",
    }
)
RATE_LIMIT_PREFIXES = ("x-ratelimit-", "x-rate-limit-", "ratelimit-")
# what a spec's `headerPolicy` cannot pass either way: they describe this hop (RFC 9110
# 7.6.1), or are the framing this runtime writes itself
NEVER = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "content-type",
        "content-encoding",
    }
)
PAGING_RELATIONS = frozenset({"next", "prev", "previous", "first", "last"})
PAGING_META = "io.naftiko/paging"  # an MCP result's `_meta` key: {"next": {arguments}}

# the client's request headers (ASGI pairs) of the request being served, set by the REST
# adapter; each operation picks what its policy passes up
CLIENT_HEADERS: ContextVar[Sequence[tuple[bytes, bytes]]] = ContextVar(
    "naftiko_client_headers", default=()
)


@dataclass(frozen=True, slots=True)
class HeaderPolicy:
    """Which headers pass, each way, for one consumed API: the defaults above, changed by
    its `headerPolicy` (a name added, `-name` removed, `prefix-*` a family). Credentials
    and cookies pass only when a spec names them; hop-by-hop and framing headers never."""

    up: frozenset[str]
    up_prefixes: tuple[str, ...]
    back: frozenset[str]
    back_prefixes: tuple[str, ...]

    def passes_up(self, name: str) -> bool:
        return name in self.up or (bool(self.up_prefixes) and name.startswith(self.up_prefixes))

    def passes_back(self, name: str) -> bool:
        lower = name.lower()
        return lower in self.back or (
            bool(self.back_prefixes) and lower.startswith(self.back_prefixes)
        )


def compile_policy(up: Sequence[str] = (), back: Sequence[str] = ()) -> HeaderPolicy:
    def merged(
        defaults: frozenset[str], prefixes: tuple[str, ...], entries: Sequence[str]
    ) -> tuple[frozenset[str], tuple[str, ...]]:
        names, families = set(defaults), list(prefixes)
        for entry in entries:
            name = entry.lower()
            removed = name.startswith("-")
            name = name.lstrip("-")
            if name.endswith("*"):
                family = name[:-1]
                if removed:
                    families = [f for f in families if f != family]
                elif family not in families:
                    families.append(family)
            elif removed:
                names.discard(name)
            else:
                names.add(name)
        return frozenset(names - NEVER), tuple(families)

    up_names, up_families = merged(PASS_UP, (), up)
    back_names, back_families = merged(PASS_BACK, RATE_LIMIT_PREFIXES, back)
    return HeaderPolicy(up_names, up_families, back_names, back_families)


DEFAULT = compile_policy()


def passed_up(
    raw: Iterable[tuple[bytes, bytes]], policy: HeaderPolicy = DEFAULT
) -> tuple[tuple[str, str], ...]:
    """The headers of an ASGI request that go upstream (an `Accept: */*` asks nothing)."""
    found = []
    for key, value in raw:
        name = key.decode("latin-1").lower()
        if policy.passes_up(name):
            text = value.decode("latin-1")
            if name == "accept" and text.strip() in ("", "*/*"):
                continue
            found.append((name, text))
    return tuple(found)


def merge_up(headers: list[tuple[str, str]], client: Sequence[tuple[str, str]]) -> None:
    """Add the client's pass-up headers to a request the spec built (in place)."""
    if not client:
        return
    own = {k.lower() for k, _ in headers}
    for name, value in client:
        if name == "accept" and "accept" in own:
            headers[:] = [(k, v) for k, v in headers if k.lower() != "accept"]
        elif name in own:
            continue
        headers.append((name, value))


Rewrite = Callable[[str], str | None]


def passed_back(
    headers: Sequence[tuple[str, str]] | None,
    rewrite_link: Rewrite,
    rewrite_location: Rewrite,
    policy: HeaderPolicy = DEFAULT,
) -> tuple[tuple[bytes, bytes], ...]:
    """The reply headers a client sees, `Link` and `Location` rewritten (or dropped when
    they lead to the upstream where the gateway has no route)."""
    if not headers:
        return ()
    out = []
    for name, value in headers:
        if not policy.passes_back(name):
            continue
        lower = name.lower()
        if lower == "link":
            rewritten = rewrite_link(value)
        elif lower == "location":
            rewritten = rewrite_location(value)
        else:
            rewritten = value
        if rewritten and "\r" not in rewritten and "\n" not in rewritten:
            out.append((lower.encode("latin-1"), rewritten.encode("latin-1", "replace")))
    return tuple(out)


_LINK = re.compile(r"<([^>]*)>((?:\s*;\s*[^,;]+)*)")
_REL = re.compile(r';\s*rel\s*=\s*"?([^";]+)"?', re.IGNORECASE)


Route = tuple[str, frozenset[str]]  # a gateway path, and the query names its route accepts


def _kept_query(query: str, accepted: frozenset[str]) -> str:
    """The link's query keys the route accepts (its own pagination inputs); any other key
    (an upstream's `api_key`, a parameter the route does not take) is dropped."""
    pairs = [
        (k, v)
        for k, v in parse_qsl(query, keep_blank_values=True)
        if k.replace("-", "_") in accepted
    ]
    return urlencode(pairs)


def link_rewriter(
    upstream_base: str,
    route_for: Callable[[str], Route | None],
    request_path: Callable[[], Route],
) -> Rewrite:
    """A `Link` header's rewriter: a paging link (`next`, `prev`, `first`, `last`) into the
    upstream becomes the route being served with the link's query (GitHub pages through
    `/repositories/ID/issues` for `/repos/o/r/issues`); any other link into the upstream
    the gateway's route for its path, if there is one (else it is dropped); links
    elsewhere stay. Relative URLs (RFC 8288 resolves them against the request's)."""
    base = urlsplit(upstream_base)

    def rewrite(value: str) -> str | None:
        parts = []
        for match in _LINK.finditer(value):
            target, params = match.group(1), match.group(2)
            url = urlsplit(target)
            if url.scheme and (url.scheme, url.netloc) != (base.scheme, base.netloc):
                parts.append(match.group(0))
                continue
            rels = {r.lower() for m in _REL.finditer(params) for r in m.group(1).split()}
            path = url.path if url.scheme else url.path or "/"
            if rels & PAGING_RELATIONS:
                local: Route | None = request_path()
            else:
                local = route_for(_below(path, base.path))
            if local is None:
                continue
            query = _kept_query(url.query, local[1])
            if rels & PAGING_RELATIONS and url.query and not query:
                continue  # a page the route cannot ask for: following it would loop
            parts.append(f"<{local[0]}{'?' + query if query else ''}>{params}")
        return ", ".join(parts) or None

    return rewrite


def location_rewriter(upstream_base: str, route_for: Callable[[str], Route | None]) -> Rewrite:
    """A `Location` into the upstream becomes the gateway's route for the same path, or is
    dropped where the gateway serves none; one elsewhere stays."""
    base = urlsplit(upstream_base)

    def rewrite(value: str) -> str | None:
        url = urlsplit(value.strip())
        if url.scheme and (url.scheme, url.netloc) != (base.scheme, base.netloc):
            return value
        local = route_for(_below(url.path, base.path))
        if local is None:
            return None
        query = _kept_query(url.query, local[1])
        return local[0] + ("?" + query if query else "")

    return rewrite


def _below(path: str, base_path: str) -> str:
    """`path` relative to the upstream's base path (`/v1/jobs/1` under `/v1` is `/jobs/1`)."""
    base_path = base_path.rstrip("/")
    if base_path and path.startswith(base_path + "/"):
        return path[len(base_path) :]
    return path


def next_page(
    headers: Sequence[tuple[str, str]] | None,
    arguments: Mapping[str, Any],
    accepted: Collection[str],
) -> dict[str, Any] | None:
    """The arguments of the call that fetches the next page, from the upstream's
    `Link: <...>; rel="next"`: this call's arguments with the link's query values for the
    ones the tool accepts (`page`, `cursor`, `per_page`); None when there is no next page
    or the link holds nothing the tool can be given."""
    for name, value in headers or ():
        if name.lower() != "link":
            continue
        for match in _LINK.finditer(value):
            rels = {r.lower() for m in _REL.finditer(match.group(2)) for r in m.group(1).split()}
            if "next" not in rels:
                continue
            by_norm = {a.replace("-", "_").lower(): a for a in accepted}
            after = dict(arguments)
            changed = False
            for key, item in parse_qsl(urlsplit(match.group(1)).query, keep_blank_values=True):
                own = by_norm.get(key.replace("-", "_").lower())
                if own is not None and after.get(own) != item:
                    number = item.isascii() and item.isdecimal() and len(item) < 16
                    after[own] = int(item) if number and (item == "0" or item[0] != "0") else item
                    changed = True
            return after if changed else None
    return None
