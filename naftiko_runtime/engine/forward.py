"""REST `forward`: pass a request through to a consumed namespace.

The request path below the resource's literal prefix is appended to the namespace's
`baseUri` (still percent-encoded, so `%2F` stays data), with its query string. Only the
`trustedHeaders` go along (case-insensitive), plus the namespace's own fixed headers and its
authentication; without authentication of its own, a trusted `Authorization` passes.
"""

from __future__ import annotations

import unicodedata
from collections.abc import AsyncIterator, Mapping, Sequence
from urllib.parse import quote, unquote

from naftiko_runtime.engine.credentials import compile_auth
from naftiko_runtime.engine.request import join_base
from naftiko_runtime.errors import InvocationError, StartupError
from naftiko_runtime.model import ForwardRoute
from naftiko_runtime.text.templating import Template
from naftiko_runtime.upstream.base import Upstream, UpstreamReply, UpstreamRequest

# never passed through, trusted or not: they describe this hop, not the request
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
REPLY_HEADERS = frozenset(
    {
        "content-type",
        "content-disposition",
        "content-language",
        "cache-control",
        "etag",
        "last-modified",
        "expires",
        "location",
        "retry-after",
        "vary",
    }
)


def has_dot_segment(path: str) -> bool:
    """Whether any server on the way could read a `.` or `..` segment in `path`: decoded
    as often as it stays different (`%252e`), with `\\` as a separator (IIS, Windows) and
    `;params` cut from each segment (Tomcat, Jetty), so `..%2f`, `..%5c` and `..;/` are
    refused as `..` is; so is a segment of dots and spaces only once Unicode-normalised
    (`....`, `.. .`, fullwidth `．．`, which Windows and NFKC-normalising servers shorten to
    `..`), and anything some server decodes otherwise: a NUL, bytes that are not UTF-8
    (overlong `%c0%ae`), IIS's `%u002e`."""
    if "%u" in path.lower():
        return True
    for _ in range(4):
        decoded = unquote(path, errors="surrogateescape")
        if decoded == path:
            break
        path = decoded
    else:
        return True  # still encoded four layers down: nothing legitimate looks like that
    if "\x00" in path or any("\udc80" <= c <= "\udcff" for c in path):
        return True
    for segment in path.replace("\\", "/").split("/"):
        bare = unicodedata.normalize("NFKC", segment.split(";", 1)[0]).replace(" ", "")
        if bare and bare.strip(".") == "":
            return True
    return False


class Forwarder:
    """One forward route compiled: prefix, target URL base, header rules, auth."""

    def __init__(
        self,
        route: ForwardRoute,
        upstream: Upstream,
        variables: Mapping[str, str],
        base_uri: str | None = None,
    ) -> None:
        self.route = route
        self.upstream = upstream
        self.name = f"forward:{route.namespace}"
        self.methods = frozenset(route.methods)
        if "GET" in self.methods:
            self.methods |= {"HEAD"}  # as every route: HEAD is GET without the body
        self.prefix = route.prefix
        base, _ = join_base(Template(base_uri or route.base_uri).render(variables), "")
        if "{" in base:
            raise StartupError(
                f"forward to {route.namespace}: base URI {base!r} has placeholders nothing "
                f"fills; serve with --upstream {route.namespace}=URL"
            )
        self.base = base
        self.auth = compile_auth(route.auth, variables)
        trusted = {h.lower(): h for h in route.trusted_headers if h.lower() not in _HOP_BY_HOP}
        if route.auth is not None:
            trusted.pop("authorization", None)  # the namespace's own credentials win
        self._trusted = trusted
        fixed_headers: list[tuple[str, str]] = []
        fixed_query: list[tuple[str, str]] = []
        for param in route.params:
            if param.value is None:
                continue
            value = Template(param.value).render(variables)
            if param.location == "header":
                fixed_headers.append((param.name, value))
            elif param.location == "query":
                fixed_query.append((param.name, value))
        self._headers = (*fixed_headers, *self.auth.headers)
        self._query = (*fixed_query, *self.auth.query)

    def matches(self, raw_path: str) -> bool:
        """The prefix, on a segment boundary (`/github` is not `/github-internal`)."""
        prefix = self.prefix
        if raw_path == prefix or raw_path + "/" == prefix:
            return True
        if not raw_path.startswith(prefix):
            return False
        return prefix.endswith("/") or raw_path[len(prefix)] in "/?"

    def request(
        self,
        method: str,
        raw_path: str,
        query: str,
        headers: Sequence[tuple[bytes, bytes]],
        body: AsyncIterator[bytes] | None,
    ) -> UpstreamRequest:
        remainder = raw_path[len(self.prefix) :] if raw_path.startswith(self.prefix) else ""
        if has_dot_segment(remainder):
            problem = [{"name": "path", "problem": "'.' and '..' segments are not forwarded"}]
            raise InvocationError("a forwarded path cannot hold '.' or '..'", problem)
        # the raw bytes as they came, percent-encoded where a path may not hold them raw
        remainder = quote(remainder.encode("latin-1"), safe="/%:@!$&'()*+,;=-._~")
        url = self.base + ("/" + remainder.lstrip("/") if remainder else "")
        extra = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in self._query)
        query_string = "&".join(q for q in (query, extra) if q)
        if query_string:
            url += "?" + query_string
        sent: list[tuple[str, str]] = []
        content_type = None
        nominated: set[str] = set()  # named by the client's `Connection`: hop-by-hop (RFC 9110)
        for key, value in headers:
            if key.lower() == b"connection":
                nominated.update(t.strip().lower() for t in value.decode("latin-1").split(","))
        for key, value in headers:
            name = key.decode("latin-1").lower()
            if name == "content-type":
                content_type = value.decode("latin-1")
            spelled = self._trusted.get(name)
            if spelled is not None and name not in nominated:
                sent.append((spelled, value.decode("latin-1")))
        overridden = {k.lower() for k, _ in self._headers}
        sent = [(k, v) for k, v in sent if k.lower() not in overridden]
        sent.extend(self._headers)
        if content_type is not None and body is not None:
            sent.append(("Content-Type", content_type))
        return UpstreamRequest(
            method,
            url,
            sent,
            None,
            self.name,
            digest=self.auth.digest,
            body_stream=body,
            stream_reply=True,
        )

    async def send(self, request: UpstreamRequest) -> UpstreamReply:
        return await self.upstream.send(request)
