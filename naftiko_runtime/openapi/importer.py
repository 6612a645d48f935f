"""`naftiko-runtime import openapi FILE`: Swagger 2.0 or OpenAPI 3.0/3.1 -> one capability.

What the reference's `import openapi` produces (one consumed resource per path, kebab-case
names from operationIds or from method and path, the first server as `baseUri`, auth from
the security schemes), plus what it leaves out: `$ref`s followed, path-level parameters,
required flags, `binds` for the credential, `outputRawFormat` from the success content
type, and exposes that mirror every operation (a REST route and an MCP tool with hints from
the HTTP method). The output is deterministic (the document's order), validates under
`validate --strict`, and says in comments where it had to guess.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from naftiko_runtime.capability.write import kebab
from naftiko_runtime.openapi.documents import (
    OpenApiDocument,
    Operation,
    as_dict,
    as_list,
    schema_types,
)
from naftiko_runtime.text.placeholders import norm

MAX_TOOL_NAME = 64
PARAM_NAME = re.compile(r"^[a-zA-Z0-9_*-]+$")  # what the schema lets a parameter be named
WIRE = ("path", "query", "header", "cookie")
SKIPPED_HEADERS = {"authorization", "accept", "content-type", "content-length", "user-agent"}
TYPE_ORDER = ("integer", "number", "boolean", "array", "object", "string")
PLACEHOLDER_URI = "https://api.example.com"
FORMATS = (  # success content type -> outputRawFormat (first match wins)
    (("application/json", "+json", "application/x-ndjson", "application/problem+json"), "json"),
    (("application/xml", "text/xml", "+xml"), "xml"),
    (("text/csv",), "csv"),
    (("text/tab-separated-values",), "tsv"),
    (("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"), "yaml"),
    (("text/html",), "html"),
    (("text/markdown",), "markdown"),
)
BINARY = (
    "application/octet-stream",
    "application/pdf",
    "application/zip",
    "image/",
    "audio/",
    "video/",
)
HINTS = {  # the HTTP method's semantics (RFC 9110): read-only, destructive, idempotent
    "GET": (True, False, True),
    "HEAD": (True, False, True),
    "OPTIONS": (True, False, True),
    "PUT": (False, True, True),
    "DELETE": (False, True, True),
    "POST": (False, False, False),
    "PATCH": (False, False, False),
    "TRACE": (True, False, True),
}


@dataclass(frozen=True)
class ImportOptions:
    namespace: str | None = None
    select: tuple[str, ...] = ()  # tags, paths (globs allowed) or operationIds
    expose: tuple[str, ...] = ("rest", "mcp")
    rest_port: int = 8080
    mcp_port: int = 9090


@dataclass
class _Param:
    name: str
    location: str
    type: str
    required: bool
    description: str


@dataclass
class _Body:
    """How a request body is bound: field by field (`fields`, each an input, `keys` the
    members they fill) when its schema is an object of named properties, else whole
    (`whole`, one input holding the entire body). Neither can be taken for the other: a
    payload with a member named `body` keeps its other members."""

    kind: str  # the consumed body's `type`: json, formUrlEncoded, multipartForm
    fields: list[_Param] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    files: set[str] = field(default_factory=set)  # multipart members that are files
    whole: _Param | None = None

    @property
    def inputs(self) -> list[_Param]:
        return [self.whole] if self.whole is not None else self.fields


@dataclass
class _Op:
    name: str
    tool: str
    method: str
    path: str
    description: str
    params: list[_Param]
    body: _Body | None
    output_format: str
    notes: list[str] = field(default_factory=list)
    fixed: list[tuple[str, str, str]] = field(default_factory=list)  # name, in, value


def q(text: str) -> str:
    """A YAML double-quoted scalar (JSON's string syntax is a subset of it; ASCII escapes,
    since YAML refuses some raw characters JSON allows)."""
    return json.dumps(text, ensure_ascii=True)


def safe(text: Any) -> str:
    """A document's value fit for a `#` comment: one line of printable characters."""
    return "".join(c if c.isprintable() else " " for c in _one_line(text))[:200]


def _one_line(text: Any) -> str:
    return re.sub(r"\s+", " ", str(text or "")).strip()


def _type_of(schema: Any, document: OpenApiDocument) -> str:
    types = schema_types(schema, document)
    return next((t for t in TYPE_ORDER if t in types), "string")


def _unique(name: str, used: set[str], limit: int | None = None) -> str:
    """`name`, cut to `limit` with a short hash when longer, suffixed when taken."""
    if limit is not None and len(name) > limit:
        digest = hashlib.sha1(name.encode()).hexdigest()[:6]
        name = name[: limit - 7].rstrip("-") + "-" + digest
    candidate, n = name, 2
    while candidate in used:
        suffix = f"-{n}"
        base = name if limit is None else name[: limit - len(suffix)].rstrip("-")
        candidate, n = base + suffix, n + 1
    used.add(candidate)
    return candidate


def selected(operation: Operation, select: Sequence[str]) -> bool:
    if not select:
        return True
    op_id = str(operation.data.get("operationId") or "")
    tags = {str(t) for t in as_list(operation.data.get("tags"))}
    for wanted in select:
        if wanted == op_id or wanted in tags:
            return True
        if wanted.startswith("/") and fnmatch.fnmatchcase(operation.path, wanted):
            return True
    return False


def _params(operation: Operation, document: OpenApiDocument, notes: list[str]) -> list[_Param]:
    found = []
    for p in operation.parameters:
        location = str(p.get("in"))
        name = str(p.get("name") or "")
        if location not in WIRE or not name:
            continue
        if location == "header" and name.lower() in SKIPPED_HEADERS:
            notes.append(f"header {name} left to the runtime (auth and content negotiation)")
            continue
        if not PARAM_NAME.match(name):  # Stripe's `expand[]`, Twilio's `DateSent<`
            notes.append(
                f"{location} parameter {safe(name)!r}: a name the dialect cannot hold; left out"
            )
            continue
        found.append(
            _Param(
                name,
                location,
                _type_of(p.get("schema", p), document),
                bool(p.get("required")) or location == "path",
                _one_line(p.get("description")),
            )
        )
    return found


WHOLE_BODY = "requestBody"  # the input that holds a body bound whole
FIELD_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")  # a member that can be an input
MEDIA_KINDS = (  # request content type -> the consumed body's `type` (first match wins)
    ("json", "json"),
    ("application/x-www-form-urlencoded", "formUrlEncoded"),
    ("multipart/form-data", "multipartForm"),
)


def _body(
    operation: Operation, document: OpenApiDocument, params: list[_Param], notes: list[str]
) -> _Body | None:
    if document.version == "2.0":
        return _body_v2(operation, document, params, notes)
    body = document.deref(operation.data.get("requestBody"))
    if not isinstance(body, dict):
        return None
    content = {str(m).lower(): v for m, v in as_dict(body.get("content")).items()}
    kind, chosen = "json", next(iter(content), None)
    for needle, body_type in MEDIA_KINDS:
        match = next((m for m in content if needle in m), None)
        if match is not None:
            kind, chosen = body_type, match
            break
    else:
        if chosen is not None:
            notes.append(f"the upstream takes {safe(chosen)}; guessed: sent as JSON")
    schema = as_dict(content.get(chosen)).get("schema") if chosen else None
    description = _one_line(body.get("description")) or "The request body"
    return _bind_body(kind, schema, bool(body.get("required")), description, document, params)


def _body_v2(
    operation: Operation, document: OpenApiDocument, params: list[_Param], notes: list[str]
) -> _Body | None:
    bodies = [p for p in operation.parameters if p.get("in") in ("body", "formData")]
    if not bodies:
        return None
    form = [p for p in bodies if p.get("in") == "formData"]
    if not form:
        body = bodies[0]
        description = _one_line(body.get("description")) or "The request body"
        return _bind_body(
            "json", body.get("schema"), bool(body.get("required")), description, document, params
        )
    consumes = [
        str(m) for m in as_list(operation.data.get("consumes") or document.data.get("consumes"))
    ]
    files = any(p.get("type") == "file" for p in form)
    kind = "multipartForm" if files or any("multipart" in m for m in consumes) else "formUrlEncoded"
    schema = {
        "type": "object",
        "properties": {str(p.get("name")): p for p in form},
        "required": [str(p.get("name")) for p in form if p.get("required")],
    }
    return _bind_body(
        kind, schema, any(p.get("required") for p in form), "The form", document, params
    )


def _bind_body(
    kind: str,
    schema: Any,
    required: bool,
    description: str,
    document: OpenApiDocument,
    params: list[_Param],
) -> _Body:
    """Field by field when the schema is an object whose properties can all be inputs,
    else whole (any other schema, a form without named fields)."""
    properties, needed = _object_properties(schema, document)
    if not properties or not all(FIELD_NAME.match(key) for key in properties):
        if kind != "json":  # a form's fields must be known to be encoded one by one
            kind = "json"
        whole_type = _type_of(schema, document) if schema is not None else "object"
        return _Body(kind, whole=_Param(WHOLE_BODY, "body", whole_type, required, description))
    taken = {norm(p.name) for p in params}
    bound = _Body(kind)
    for key, prop in properties.items():
        name = key if norm(key) not in taken else f"body-{key}"  # a path `owner` and a field
        taken.add(norm(name))
        prop = document.deref(prop)
        prop_type = _field_type(prop, document) if isinstance(prop, dict) else "string"
        if isinstance(prop, dict) and (
            prop.get("format") == "binary" or prop.get("type") == "file"
        ):
            bound.files.add(key)
            prop_type = "string"
        text = _one_line(prop.get("description") if isinstance(prop, dict) else "") or key
        bound.fields.append(_Param(name, "body", prop_type, required and key in needed, text))
        bound.keys.append(key)
    return bound


def _field_type(schema: Any, document: OpenApiDocument) -> str:
    """A body member's type: where it admits text among others (GitHub's `title` is a
    string or an integer), text, which every value can be written as; else `_type_of`."""
    types = schema_types(schema, document) - {"null"}
    if len(types) > 1 and "string" in types:
        return "string"
    return _type_of(schema, document)


def _object_properties(schema: Any, document: OpenApiDocument) -> tuple[dict[str, Any], set[str]]:
    """The named properties of an object schema (`allOf` parts merged) and the required
    ones; empty when the schema is not plainly an object (`oneOf`, arrays, scalars)."""
    schema = document.deref(schema)
    if not isinstance(schema, dict) or schema.get("oneOf") or schema.get("anyOf"):
        return {}, set()
    properties: dict[str, Any] = {}
    needed: set[str] = set()
    for part in [schema, *as_list(schema.get("allOf"))][:16]:
        part = document.deref(part)
        if not isinstance(part, dict):
            return {}, set()
        if part is not schema and (part.get("oneOf") or part.get("anyOf")):
            return {}, set()
        own = part.get("properties")
        if isinstance(own, dict):
            properties.update({str(k): v for k, v in own.items()})
        needed.update(r for r in as_list(part.get("required")) if isinstance(r, str))
    declared = schema.get("type")
    if declared not in (None, "object") and not (
        isinstance(declared, list) and "object" in declared
    ):
        return {}, set()
    return properties, needed


def _success_media(operation: Operation, document: OpenApiDocument) -> list[str]:
    media: list[str] = []
    for code, response in as_dict(operation.data.get("responses")).items():
        if not str(code).startswith("2"):
            continue
        response = as_dict(document.deref(response))
        if document.version == "2.0":
            if response.get("schema") is not None:
                produces = operation.data.get("produces") or document.data.get("produces")
                media += [str(m) for m in as_list(produces)]
            continue
        media += [str(m) for m in as_dict(response.get("content"))]
    return [m.split(";")[0].strip().lower() for m in media]


def _format(media: list[str], notes: list[str]) -> str:
    if not media:
        return "json"
    for accepted, fmt in FORMATS:
        if any(m == a or (a.startswith("+") and m.endswith(a)) for m in media for a in accepted):
            return fmt
    if "text/event-stream" in media:
        notes.append("the upstream answers text/event-stream: passed through as it comes")
        return "json"
    if any(m.startswith(BINARY) for m in media):
        return "binary"
    notes.append(f"the upstream answers {safe(media[0])}; guessed: read as JSON")
    return "json"


def _schemes(document: OpenApiDocument) -> dict[str, Any]:
    found = (
        document.data.get("securityDefinitions")
        if document.version == "2.0"
        else as_dict(document.data.get("components")).get("securitySchemes")
    )
    return {str(k): as_dict(document.deref(v)) for k, v in as_dict(found).items()}


def _scheme_of(
    operation: Operation, document: OpenApiDocument, schemes: dict[str, Any]
) -> str | None:
    """The scheme an operation asks for: its own `security` (an empty list: none), else the
    document's; the first alternative's first scheme."""
    requirements = operation.data.get("security", document.data.get("security"))
    for requirement in as_list(requirements):
        for name in as_dict(requirement):
            if name in schemes:
                return str(name)
    return None


def _primary(
    document: OpenApiDocument, schemes: dict[str, Any], select: Sequence[str]
) -> str | None:
    """The scheme most operations use (the namespace's `authentication`)."""
    if not schemes:
        return None
    counts = Counter(
        name
        for operation in document.operations()
        if selected(operation, select)
        and (name := _scheme_of(operation, document, schemes)) is not None
    )
    return counts.most_common(1)[0][0] if counts else next(iter(schemes))


def _extra_credential(name: str, scheme: dict[str, Any], env: str) -> tuple[str, str, str, str]:
    """(parameter, location, value, bind key) carrying an operation's own credential when it
    differs from the namespace's."""
    key = f"{env}_{re.sub(r'[^A-Z0-9]+', '_', name.upper()).strip('_')}"
    if str(scheme.get("type", "")).lower() == "apikey":
        where = str(scheme.get("in", "header"))
        return str(scheme.get("name", name)), where, f"{{{{env.{key}}}}}", key
    return "Authorization", "header", f"Bearer {{{{env.{key}}}}}", key


def _auth(
    schemes: dict[str, Any], name: str | None, env: str
) -> tuple[list[str], list[str], list[str]]:
    """(authentication lines, bind keys, comments) for the namespace's scheme."""
    if name is None:
        return [], [], []
    scheme = schemes[name]
    kind = str(scheme.get("type", "")).lower()
    notes = [f"security scheme {name!r} of {len(schemes)}"] if len(schemes) > 1 else []
    pad = "      "
    if kind == "apikey":
        key = f"{env}_API_KEY"
        placement = str(scheme.get("in", "header")).lower()
        if placement not in ("header", "query"):  # what `placement` can say; never raw text
            placement = "header"
        value = f"{{{{env.{key}}}}}"
        # Okta's `Authorization: SSWS {API Token}`: a scheme word the key goes after
        prefix = re.fullmatch(
            r"\s*([A-Za-z][A-Za-z0-9-]*) \{[^{}]+\}\s*", _one_line(scheme.get("description"))
        )
        if (
            prefix
            and placement == "header"
            and str(scheme.get("name", "")).lower() == "authorization"
        ):
            value = f"{prefix.group(1)} {value}"
            notes.append(
                f"guessed: the key is sent as {safe(prefix.group(1))!r} then the key, "
                "as the scheme's description says"
            )
        return (
            [
                f"{pad}authentication:",
                f"{pad}  type: apikey",
                f"{pad}  key: {q(str(scheme.get('name', 'X-API-Key')))}",
                f"{pad}  value: {q(value)}",
                f"{pad}  placement: {placement}",
            ],
            [key],
            notes,
        )
    http = str(scheme.get("scheme", "")).lower()
    if kind == "basic" or (kind == "http" and http == "basic"):
        user, password = f"{env}_USERNAME", f"{env}_PASSWORD"
        return (
            [
                f"{pad}authentication:",
                f"{pad}  type: basic",
                f'{pad}  username: "{{{{env.{user}}}}}"',
                f'{pad}  password: "{{{{env.{password}}}}}"',
            ],
            [user, password],
            notes,
        )
    if kind == "http" and http == "digest":
        user, password = f"{env}_USERNAME", f"{env}_PASSWORD"
        return (
            [
                f"{pad}authentication:",
                f"{pad}  type: digest",
                f'{pad}  username: "{{{{env.{user}}}}}"',
                f'{pad}  password: "{{{{env.{password}}}}}"',
            ],
            [user, password],
            notes,
        )
    token = f"{env}_TOKEN"
    if kind != "http" or http != "bearer":
        notes.append(
            f"guessed: the {safe(kind) or 'unknown'} scheme {safe(name)!r} as a bearer token"
        )
    return (
        [f"{pad}authentication:", f"{pad}  type: bearer", f'{pad}  token: "{{{{env.{token}}}}}"'],
        [token],
        notes,
    )


def _operations(
    document: OpenApiDocument,
    select: Sequence[str],
    schemes: dict[str, Any],
    primary: str | None,
    env: str,
    keys: list[str],
) -> list[tuple[str, list[_Op]]]:
    """Resources (one per path, in the document's order) with their operations."""
    names: set[str] = set()
    tools: set[str] = set()
    resources: dict[str, list[_Op]] = {}
    for operation in document.operations():
        if not selected(operation, select):
            continue
        notes: list[str] = []
        op_id = str(operation.data.get("operationId") or "")
        base = kebab(op_id) or kebab(
            f"{operation.method} {operation.path.replace('{', '').replace('}', '')}"
        )
        name = _unique(base or "operation", names)
        tool = _unique(name, tools, MAX_TOOL_NAME)
        if tool != name:
            notes.append(f"tool name cut to {MAX_TOOL_NAME} characters")
        summary = _one_line(operation.data.get("summary"))
        detail = _one_line(operation.data.get("description"))
        media = _success_media(operation, document)
        params = _params(operation, document, notes)
        fixed: list[tuple[str, str, str]] = []
        output_format = _format(media, notes)
        if output_format == "json" and any("json" in m for m in media) and len(set(media)) > 1:
            fixed.append(("Accept", "header", "application/json"))  # ask for what is decoded
        own = _scheme_of(operation, document, schemes)
        if own is not None and own != primary:
            param, location, value, key = _extra_credential(own, schemes[own], env)
            fixed.append((param, location, value))
            if key not in keys:
                keys.append(key)
            notes.append(f"this operation uses security scheme {own!r}, not {primary!r}")
        resources.setdefault(operation.path, []).append(
            _Op(
                name,
                tool,
                operation.method,
                operation.path,
                summary or detail[:300] or f"{operation.method} {operation.path}",
                params,
                _body(operation, document, params, notes),
                output_format,
                notes,
                fixed,
            )
        )
    return list(resources.items())


def _resource_name(path: str, used: set[str]) -> str:
    return _unique(kebab(path.replace("{", "").replace("}", "")) or "root", used)


def import_openapi(document: OpenApiDocument, options: ImportOptions = ImportOptions()) -> str:
    """The capability YAML for `document`."""
    info = as_dict(document.data.get("info"))
    title = _one_line(info.get("title")) or "Imported API"
    namespace = kebab(options.namespace or title) or "api"
    env = re.sub(r"[^A-Z0-9]+", "_", namespace.upper()).strip("_")
    header = [
        f"# {safe(title)}: imported by `naftiko-runtime import openapi` from "
        f"{safe(document.path.name)}",
        f"# (OpenAPI {safe(document.data.get('openapi') or document.data.get('swagger'))}).",
        "# Comments starting with `guessed:` mark what the document did not say.",
    ]
    servers = document.servers()
    base_uri = servers[0].rstrip("/") if servers else ""
    base_note = None
    if not base_uri or not urlparse(base_uri).scheme:
        base_note = "guessed: the document names no absolute server URL"
        base_uri = PLACEHOLDER_URI + base_uri
    schemes = _schemes(document)
    primary = _primary(document, schemes, options.select)
    auth, keys, auth_notes = _auth(schemes, primary, env)
    resources = _operations(document, options.select, schemes, primary, env, keys)
    if not resources:
        raise ValueError("no operation matches --select" if options.select else "no operations")
    ignores = []
    if any(path.endswith("/") for path, _ in resources):
        ignores.append(
            "# naftiko-runtime: ignore naftiko-rest-resource-path-no-trailing-slash - the "
            'upstream\'s own routes end in "/"'
        )
    description = _one_line(info.get("description")) or f"{title}, imported from its OpenAPI."
    lines = [
        *ignores,
        *header,
        'naftiko: "1.0.0-alpha2"',
        "info:",
        f"  label: {q(title)}",
        f"  description: {q(description)}",
    ]
    if keys:
        lines += ["binds:", "  - namespace: env", "    keys:", *(f"      {k}: {k}" for k in keys)]
    lines += [
        "capability:",
        "  consumes:",
        "    - type: http",
        f"      namespace: {q(namespace)}",
        f"      description: {q(description)}",
        f"      baseUri: {q(base_uri)}" + (f"  # {base_note}" if base_note else ""),
        *(f"      # {safe(n)}" for n in auth_notes),
        *auth,
        "      resources:",
    ]
    resource_names: set[str] = set()
    for path, ops in resources:
        lines += [
            f"        - name: {q(_resource_name(path, resource_names))}",
            f"          path: {q(path)}",
            "          operations:",
        ]
        for op in ops:
            lines += [
                f"            - name: {q(op.name)}",
                f"              method: {op.method}",
                f"              description: {q(op.description)}",
                *(f"              # {safe(n)}" for n in op.notes),
            ]
            if op.params or op.fixed:
                lines.append("              inputParameters:")
                for p in op.params:
                    lines += [
                        f"                - name: {q(p.name)}",
                        f"                  in: {p.location}",
                    ]
                for name, location, value in op.fixed:
                    lines += [
                        f"                - name: {q(name)}",
                        f"                  in: {location}",
                        f"                  value: {q(value)}",
                    ]
            if op.body is not None:
                lines += _consumed_body(op.body)
            if op.output_format != "json":
                lines.append(f"              outputRawFormat: {op.output_format}")
    lines.append("  exposes:")
    if "rest" in options.expose:
        lines += _rest(namespace, title, resources, options.rest_port)
    if "mcp" in options.expose:
        lines += _mcp(namespace, title, resources, options.mcp_port)
    return "\n".join(lines) + "\n"


def _member(key: str) -> str:
    """The JSONPath of one body member: `$.title`, or `$['a.b']` for any other name."""
    return f"$.{key}" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) else f"$['{key}']"


def _consumed_body(body: _Body) -> list[str]:
    """The consumed operation's `body`: each member a lone `{{input}}` (left out of the
    request when the caller gives no value), or the whole body from one input."""
    pad = "              "
    lines = [f"{pad}body:", f"{pad}  type: {body.kind}"]
    if body.whole is not None:
        return [*lines, f"{pad}  data: {q('{{' + body.whole.name + '}}')}"]
    if body.kind == "multipartForm":
        lines.append(f"{pad}  data:")
        for key, param in zip(body.keys, body.fields, strict=True):
            lines += [
                f"{pad}    - name: {q(key)}",
                f"{pad}      value: {q('{{' + param.name + '}}')}",
            ]
            if key in body.files:
                lines += [
                    f"{pad}      filename: {q(key)}",
                    f"{pad}      contentType: application/octet-stream",
                ]
        return lines
    lines.append(f"{pad}  data:")
    for key, param in zip(body.keys, body.fields, strict=True):
        lines.append(f"{pad}    {q(key)}: {q('{{' + param.name + '}}')}")
    return lines


def _rest(
    namespace: str, title: str, resources: Iterable[tuple[str, list[_Op]]], port: int
) -> list[str]:
    lines = [
        "    - type: rest",
        f"      namespace: {q(namespace + '-rest')}",
        f"      port: {port}",
        "      resources:",
    ]
    for path, ops in resources:
        lines += [
            f"        - path: {q(path)}",
            f"          description: {q(f'{title}: {path}')}",
            "          operations:",
        ]
        for op in ops:
            lines += [
                f"            - method: {op.method}",
                f"              name: {q(op.name)}",
                f"              description: {q(op.description)}",
                f"              call: {q(namespace + '.' + op.name)}",
            ]
            body = op.body
            if op.params or body is not None:
                lines.append("              inputParameters:")
                for p in op.params:
                    lines += [
                        f"                - name: {q(p.name)}",
                        f"                  in: {p.location}",
                        f"                  type: {p.type}",
                    ]
                    lines.append(f"                  description: {q(p.description or p.name)}")
            if body is not None:
                # the reference's body bindings: `$` the whole body, `$.key` one member
                paths = ["$"] if body.whole is not None else [_member(k) for k in body.keys]
                for p, path in zip(body.inputs, paths, strict=True):
                    lines += [
                        f"                - name: {q(p.name)}",
                        "                  in: body",
                        f"                  type: {p.type}",
                        f"                  description: {q(p.description or p.name)}",
                        f"                  value: {q(path)}",
                    ]
    return lines


def _mcp(
    namespace: str, title: str, resources: Iterable[tuple[str, list[_Op]]], port: int
) -> list[str]:
    lines = [
        "    - type: mcp",
        f"      namespace: {q(namespace + '-mcp')}",
        f"      port: {port}",
        "      transport: http",
        f"      description: {q(f'{title} tools.')}",
        "      tools:",
    ]
    for _, ops in resources:
        for op in ops:
            read_only, destructive, idempotent = HINTS.get(op.method, (False, False, False))
            lines += [
                f"        - name: {q(op.tool)}",
                f"          description: {q(op.description)}",
                "          hints:",
                f"            readOnly: {str(read_only).lower()}",
                f"            destructive: {str(destructive).lower()}",
                f"            idempotent: {str(idempotent).lower()}",
                f"          call: {q(namespace + '.' + op.name)}",
            ]
            inputs = [*op.params, *(op.body.inputs if op.body else [])]
            if inputs:
                lines.append("          inputParameters:")
                for p in inputs:
                    lines += [
                        f"            - name: {q(p.name)}",
                        f"              type: {p.type}",
                        f"              description: {q(p.description or p.name)}",
                        f"              required: {str(p.required).lower()}",
                    ]
    return lines
