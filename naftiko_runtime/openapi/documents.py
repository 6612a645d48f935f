"""Swagger 2.0 and OpenAPI 3.0/3.1 documents, YAML or JSON, read once with `$ref`s followed by
`referencing` (the jsonschema project's resolver): pointers inside the document and files
relative to it, nothing fetched over the network.

Documents are untrusted input, so reading one is bounded: YAML aliases may add at most
`MAX_ALIAS_NODES` nodes to a document (a 1 KB billion-laughs chain would otherwise be walked
as billions of values) and may not refer to themselves; a schema is walked once per node
(`$ref` fan-outs are memoised, a cycle contributes nothing more); a value of the wrong type
is read as absent. What cannot be read is an `OpenApiError` naming the file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import yaml
from referencing import Registry, Resource, Specification
from referencing.exceptions import Unresolvable

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
MAX_REF_HOPS = 32
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
MAX_ALIAS_NODES = 1_000_000
"""Nodes YAML aliases may add to a document, written out in full (each alias repeats what it
names): far beyond what sharing a few definitions needs."""
MAX_SCHEMA_NODES = 100_000
"""Distinct schemas one parameter or body schema may reach through `$ref` and `anyOf`."""


class OpenApiError(Exception):
    """A document that cannot be read or followed; the message names the file and why."""


def _parse(path: Path) -> Any:
    try:
        if path.stat().st_size > MAX_DOCUMENT_BYTES:
            raise OpenApiError(f"{path}: larger than {MAX_DOCUMENT_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise OpenApiError(f"{path}: cannot read: {exc}") from None
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        data = yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    except (ValueError, yaml.YAMLError) as exc:
        raise OpenApiError(f"{path}: not JSON or YAML: {exc}") from None
    except RecursionError:
        raise OpenApiError(f"{path}: nested too deeply") from None
    if "&" in text and "*" in text:  # an anchor and maybe an alias to it
        _check_aliases(data, path)
    return data


def _check_aliases(data: Any, path: Path) -> None:
    """Refuse a document whose aliases make it more than `MAX_ALIAS_NODES` nodes larger once
    written out, or that contains itself. One pass over its distinct lists and mappings (the
    loader shares the object an alias names), sizes memoised."""
    if not isinstance(data, dict | list):
        return
    sizes: dict[int, int] = {}  # a container's size written out, once known
    open_: set[int] = set()  # containers being sized: meeting one again is a cycle
    distinct = 0
    stack: list[tuple[Any, bool]] = [(data, False)]
    while stack:
        node, closing = stack.pop()
        children = list(node.values()) if isinstance(node, dict) else node
        if closing:
            size = 1 + len(children) + sum(sizes.get(id(c), 0) for c in children)
            sizes[id(node)] = size
            open_.discard(id(node))
            if size > distinct + MAX_ALIAS_NODES:
                raise OpenApiError(
                    f"{path}: its YAML aliases expand it past {MAX_ALIAS_NODES} more nodes"
                )
            continue
        if id(node) in sizes:
            continue
        if id(node) in open_:
            raise OpenApiError(f"{path}: a YAML alias refers to a node that contains it")
        open_.add(id(node))
        distinct += 1 + len(children)
        stack.append((node, True))
        stack.extend((c, False) for c in children if isinstance(c, dict | list))


def as_dict(value: Any) -> dict[str, Any]:
    """A mapping of the document, or an empty one where it holds another type."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """A list of the document, or an empty one where it holds another type."""
    return value if isinstance(value, list) else []


def _resource(data: Any) -> Resource[Any]:
    return Resource.from_contents(data, default_specification=Specification.OPAQUE)


@dataclass
class Operation:
    """One operation with the parameters of its path item merged in (the operation's win)."""

    path: str
    method: str
    data: dict[str, Any]
    parameters: list[dict[str, Any]]
    pointer: str


@dataclass
class OpenApiDocument:
    path: Path
    data: dict[str, Any]
    registry: Registry[Any] = field(repr=False)
    _operations: list[Operation] | None = field(default=None, init=False, repr=False)

    @property
    def uri(self) -> str:
        return self.path.resolve().as_uri()

    @property
    def version(self) -> str:
        """ "2.0", "3.0" or "3.1"."""
        if str(self.data.get("swagger", "")).startswith("2"):
            return "2.0"
        return "3.1" if str(self.data.get("openapi", "")).startswith("3.1") else "3.0"

    def deref(self, node: Any, base: str | None = None) -> Any:
        """`node` with `$ref` chains followed (a sibling `description` of a 3.1 reference is
        kept); a reference that cannot be followed raises OpenApiError."""
        resolver = self.registry.resolver(base_uri=base or self.uri)
        for _ in range(MAX_REF_HOPS):
            if not isinstance(node, dict) or not isinstance(node.get("$ref"), str):
                return node
            try:
                resolved = resolver.lookup(node["$ref"])
            except Unresolvable as exc:
                raise OpenApiError(
                    f"{self.path}: cannot follow $ref {node['$ref']!r}: {exc}"
                ) from None
            except (LookupError, TypeError, ValueError):  # a pointer through a scalar
                raise OpenApiError(
                    f"{self.path}: cannot follow $ref {node['$ref']!r}: it leads through a "
                    "value that is neither a mapping nor a list"
                ) from None
            resolver = resolved.resolver
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            node = resolved.contents
            if siblings and isinstance(node, dict):
                node = {**node, **siblings}
        raise OpenApiError(f"{self.path}: $ref chain longer than {MAX_REF_HOPS}")

    def servers(self) -> list[str]:
        """Base URLs: 3.x `servers` (variables at their defaults), 2.0 scheme, host, basePath."""
        if self.version == "2.0":
            host = self.data.get("host")
            base = str(self.data.get("basePath") or "")
            schemes = as_list(self.data.get("schemes")) or ["https"]
            found = [f"{schemes[0]}://{host}{base}"] if host else [base] if base else []
        else:
            found = []
            for server in as_list(self.data.get("servers")):
                url = str(as_dict(server).get("url", ""))
                for name, variable in as_dict(as_dict(server).get("variables")).items():
                    default = as_dict(variable).get("default", "")
                    url = url.replace("{" + str(name) + "}", str(default))
                found.append(url)
        return [url for url in found if _parses(url)]

    def base_path(self) -> str:
        """The path every operation path is relative to (`/api/v2`, or "")."""
        servers = self.servers()
        return urlparse(servers[0]).path.rstrip("/") if servers else ""

    def operations(self) -> list[Operation]:
        """Every operation, `$ref`s followed once per document (drift and import walk them
        for each consumed operation)."""
        if self._operations is None:
            self._operations = list(self._walk())
        return self._operations

    def _walk(self) -> Iterator[Operation]:
        for key, item in as_dict(self.data.get("paths")).items():
            path, item = str(key), self.deref(item)
            if not isinstance(item, dict):
                continue
            shared = self._parameters(item)
            for method in METHODS:
                op = item.get(method)
                if not isinstance(op, dict):
                    continue
                own = self._parameters(op)
                keys = {_param_key(p) for p in own}
                merged = own + [p for p in shared if _param_key(p) not in keys]
                pointer = "/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method
                yield Operation(path, method.upper(), op, merged, pointer)

    def _parameters(self, owner: dict[str, Any]) -> list[dict[str, Any]]:
        """The parameters an operation or path item declares (those that are mappings)."""
        found = (self.deref(p) for p in as_list(owner.get("parameters")))
        return [p for p in found if isinstance(p, dict)]


def _param_key(parameter: dict[str, Any]) -> tuple[str, str]:
    return str(parameter.get("name")), str(parameter.get("in"))


def _parses(url: str) -> bool:
    """Whether `urlparse` takes `url` (it refuses a bracketed host that is no IPv6 address)."""
    try:
        urlparse(url)
    except ValueError:
        return False
    return True


def load_document(path: Path) -> OpenApiDocument:
    """Read `path` and make every file it references reachable by `$ref`."""
    data = _parse(path)
    if not isinstance(data, dict) or not ("openapi" in data or "swagger" in data):
        raise OpenApiError(f"{path}: not an OpenAPI or Swagger document (no openapi/swagger key)")

    root_dir = path.resolve().parent

    def retrieve(uri: str) -> Resource[Any]:
        """Only regular files below the document's folder, of a bounded size."""
        parsed = urlparse(uri)
        if parsed.scheme != "file":
            raise OpenApiError(f"{path}: only local files are followed, not {uri}")
        target = Path(unquote(parsed.path)).resolve()
        if not target.is_relative_to(root_dir) or not target.is_file():
            raise OpenApiError(f"{path}: $ref {uri} is not a file beside the document")
        if target.stat().st_size > MAX_DOCUMENT_BYTES:
            raise OpenApiError(f"{path}: $ref {uri} is larger than {MAX_DOCUMENT_BYTES} bytes")
        return _resource(_parse(target))

    root = path.resolve().as_uri()
    registry: Registry[Any] = Registry(  # type: ignore[call-arg]  # an attrs alias
        retrieve=retrieve
    ).with_resource(root, _resource(data))
    return OpenApiDocument(path, data, registry)


def schema_types(schema: Any, document: OpenApiDocument) -> set[str]:
    """The JSON types a parameter schema admits, `null` aside (`anyOf`/`oneOf` flattened; 3.1
    type lists; 2.0 parameters carry `type` themselves). Empty when it says nothing."""
    try:
        return _SchemaTypes(document).of(schema)
    except RecursionError:
        raise OpenApiError(f"{document.path}: a schema is nested too deeply") from None


class _SchemaTypes:
    """One walk of a schema: each node (and each `$ref` target) typed once, whatever number
    of paths reach it; a node met again on its own path (a recursive schema) adds nothing."""

    def __init__(self, document: OpenApiDocument) -> None:
        self.document = document
        self.done: dict[int, tuple[Any, set[str]]] = {}  # keeps the node: its id stays its
        self.open: set[int] = set()

    def of(self, schema: Any) -> set[str]:
        key = id(schema)
        if key in self.done:
            return self.done[key][1]
        if key in self.open:
            return set()
        if len(self.done) >= MAX_SCHEMA_NODES:
            raise OpenApiError(
                f"{self.document.path}: a schema reaches more than {MAX_SCHEMA_NODES} schemas"
            )
        self.open.add(key)
        try:
            target = self.document.deref(schema)
            found = self.of(target) if target is not schema else self._own(schema)
        finally:
            self.open.discard(key)
        self.done[key] = (schema, found)
        return found

    def _own(self, schema: Any) -> set[str]:
        if not isinstance(schema, dict):
            return set()
        found: set[str] = set()
        declared = schema.get("type")
        if isinstance(declared, str):
            found.add(declared)
        elif isinstance(declared, list):
            found.update(str(t) for t in declared)
        for key in ("anyOf", "oneOf", "allOf"):
            for part in as_list(schema.get(key)):
                found |= self.of(part)
        if "enum" in schema and not found:
            found |= {
                type(v)
                .__name__.replace("str", "string")
                .replace("bool", "boolean")
                .replace("int", "integer")
                .replace("float", "number")
                for v in as_list(schema["enum"])
                if v is not None
            }
        if "const" in schema and not found and isinstance(schema["const"], str):
            found.add("string")
        found.discard("null")
        return found
