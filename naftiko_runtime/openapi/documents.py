"""Swagger 2.0 and OpenAPI 3.0/3.1 documents, YAML or JSON, read once with `$ref`s followed by
`referencing` (the jsonschema project's resolver): pointers inside the document and files
relative to it, nothing fetched over the network."""

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
        return yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    except (ValueError, yaml.YAMLError) as exc:
        raise OpenApiError(f"{path}: not JSON or YAML: {exc}") from None


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
            schemes = self.data.get("schemes") or ["https"]
            return [f"{schemes[0]}://{host}{base}"] if host else [base] if base else []
        found = []
        for server in self.data.get("servers") or []:
            url = str(server.get("url", ""))
            for name, variable in (server.get("variables") or {}).items():
                url = url.replace("{" + name + "}", str(variable.get("default", "")))
            found.append(url)
        return found

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
        for path, item in (self.data.get("paths") or {}).items():
            item = self.deref(item)
            if not isinstance(item, dict):
                continue
            shared = [self.deref(p) for p in item.get("parameters") or []]
            for method in METHODS:
                op = item.get(method)
                if not isinstance(op, dict):
                    continue
                own = [self.deref(p) for p in op.get("parameters") or []]
                keys = {(p.get("name"), p.get("in")) for p in own}
                merged = own + [p for p in shared if (p.get("name"), p.get("in")) not in keys]
                pointer = "/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method
                yield Operation(path, method.upper(), op, merged, pointer)


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
    schema = document.deref(schema)
    if not isinstance(schema, dict):
        return set()
    found: set[str] = set()
    declared = schema.get("type")
    if isinstance(declared, str):
        found.add(declared)
    elif isinstance(declared, list):
        found.update(str(t) for t in declared)
    for key in ("anyOf", "oneOf", "allOf"):
        for part in schema.get(key) or []:
            found |= schema_types(part, document)
    if "enum" in schema and not found:
        found |= {
            type(v)
            .__name__.replace("str", "string")
            .replace("bool", "boolean")
            .replace("int", "integer")
            .replace("float", "number")
            for v in schema["enum"]
            if v is not None
        }
    if "const" in schema and not found and isinstance(schema["const"], str):
        found.add("string")
    found.discard("null")
    return found
