"""The resources one MCP endpoint serves: get, list (built once per configuration), add,
read. A resource is answered by an operation, by a `location` file, or by a `location`
directory file by file under its URI; a template (a URI with `{name}` placeholders) is
read by match, its values the call's inputs. Messages are the reference's words."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import anyio.to_thread
from mcp import types
from mcp.shared.exceptions import MCPError

from naftiko_runtime.adapters.files import MAX_FILE_BYTES, Unservable, read_capped, regular_files
from naftiko_runtime.adapters.mcp import results
from naftiko_runtime.engine.result import Operation
from naftiko_runtime.errors import InvocationError, NaftikoError
from naftiko_runtime.secrets.bindings import Redactor

_SEGMENT = re.compile(r"^[A-Za-z0-9._-]+$")
_MIME_BY_SUFFIX = {
    ".md": "text/markdown",
    ".json": "application/json",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".txt": "text/plain",
    ".xml": "application/xml",
    ".csv": "text/csv",
    ".html": "text/html",
}


@dataclass
class ResourceEntry:
    resource: types.Resource
    operation: Operation | None
    location: Path | None  # a file, or a directory served file by file under `uri/`


@dataclass
class TemplateEntry:
    """A resource whose URI has `{name}` placeholders: listed as a template, read by match."""

    template: types.ResourceTemplate
    operation: Operation
    pattern: re.Pattern[str]
    names: tuple[str, ...]
    mime_type: str | None


class ResourceRegistry(Mapping[str, ResourceEntry]):
    """Resources by exact URI (a read-only mapping), and the templates beside them;
    `max_file_bytes` caps the files a read serves."""

    def __init__(self, max_file_bytes: int = MAX_FILE_BYTES) -> None:
        self.max_file_bytes = max_file_bytes
        self._resources: dict[str, ResourceEntry] = {}
        self._templates: list[TemplateEntry] = []
        self._listed: types.ListResourcesResult | None = None
        self._templates_listed: types.ListResourceTemplatesResult | None = None

    def __getitem__(self, uri: str) -> ResourceEntry:
        return self._resources[uri]

    def __iter__(self) -> Iterator[str]:
        return iter(self._resources)

    def __len__(self) -> int:
        return len(self._resources)

    def add(self, entry: ResourceEntry) -> None:
        self._resources[entry.resource.uri] = entry
        self._listed = None

    @property
    def templates(self) -> tuple[TemplateEntry, ...]:
        return tuple(self._templates)

    def add_template(self, entry: TemplateEntry) -> None:
        self._templates.append(entry)
        self._templates_listed = None

    async def list(self) -> types.ListResourcesResult:
        """The `resources/list` result, built once (not per request), on a worker thread:
        it walks `location` directories."""
        listed = self._listed
        if listed is None:
            listed = self._listed = await anyio.to_thread.run_sync(self._build_list)
        return listed

    def list_templates(self) -> types.ListResourceTemplatesResult:
        if self._templates_listed is None:
            self._templates_listed = types.ListResourceTemplatesResult(
                resource_templates=[t.template for t in self._templates]
            )
        return self._templates_listed

    def _build_list(self) -> types.ListResourcesResult:
        """A `location` directory lists one resource per file a read would serve."""
        listed: list[types.Resource] = []
        for entry in self._resources.values():
            base = entry.location
            if base is not None and base.is_dir():
                for path, _ in regular_files(base):
                    relative = path.relative_to(base).as_posix()
                    if not all(_SEGMENT.match(part) for part in relative.split("/")):
                        continue  # a name reads would refuse is not listed either
                    listed.append(
                        entry.resource.model_copy(
                            update={
                                "uri": f"{entry.resource.uri}/{relative}",
                                "mime_type": entry.resource.mime_type or _mime_of(path),
                            }
                        )
                    )
            else:
                listed.append(entry.resource)
        return types.ListResourcesResult(resources=listed)

    async def read(self, uri: str, redact: Redactor) -> types.ReadResourceResult:
        """A resource by exact URI, a file below a `location` directory, or a template's
        match (its values become the call's inputs)."""
        entry = self._resources.get(uri)
        if entry is not None and entry.operation is not None:
            return await _read_call(uri, entry.operation, {}, entry.resource.mime_type, redact)
        if any(_located(uri, base_uri, c) for base_uri, c in self._resources.items()):
            located = await anyio.to_thread.run_sync(self._read_located, uri)
            if located is not None:
                return located
        for template in self._templates:
            found = template.pattern.fullmatch(uri)
            if found is not None:
                values = {
                    name: unquote(value)  # the URI's escapes are not the value's
                    for name, value in zip(template.names, found.groups(), strict=True)
                }
                return await _read_call(uri, template.operation, values, template.mime_type, redact)
        raise MCPError(types.INVALID_PARAMS, f"Invalid params: Unknown resource URI: {uri}")

    def _read_located(self, uri: str) -> types.ReadResourceResult | None:
        """A `location` file's contents (on a worker thread: every check touches the disk);
        None when `uri` is below a location that is not a directory."""
        entry = self._resources.get(uri)
        if entry is not None and entry.location is not None and not entry.location.is_dir():
            return self._read_file(uri, entry.location, entry.resource.mime_type)
        for base_uri, candidate in self._resources.items():
            base = candidate.location
            if base is not None and _located(uri, base_uri, candidate) and base.is_dir():
                return self._read_file(uri, _inside(base, uri, base_uri), None)
        return None

    def _read_file(self, uri: str, path: Path, mime: str | None) -> types.ReadResourceResult:
        """A regular file's UTF-8 text, at most `max_file_bytes`; errors name `uri` only."""
        try:
            text = read_capped(path, self.max_file_bytes).decode("utf-8")
        except Unservable as exc:
            if exc.missing:
                raise MCPError(
                    types.INVALID_PARAMS, f"Invalid params: Unknown resource URI: {uri}"
                ) from None
            raise MCPError(
                types.INTERNAL_ERROR, f"resource {uri!r} cannot be read: {exc.reason}"
            ) from None
        except UnicodeDecodeError:
            raise MCPError(
                types.INTERNAL_ERROR, f"resource {uri!r} cannot be read: not UTF-8 text"
            ) from None
        kind = mime or (_mime_of(path) if path.suffix else "text/plain")
        return types.ReadResourceResult(
            contents=[types.TextResourceContents(uri=uri, mime_type=kind, text=text)]
        )


async def _read_call(
    uri: str, operation: Operation, values: dict[str, str], mime: str | None, redact: Redactor
) -> types.ReadResourceResult:
    try:
        data = await results.collect(await operation(values))
    except InvocationError as exc:
        raise MCPError(types.INVALID_PARAMS, f"Invalid params: {exc.message}") from None
    except NaftikoError as exc:
        raise MCPError(types.INTERNAL_ERROR, redact(str(exc))) from None
    text = results.resource_text(data, redact)
    return types.ReadResourceResult(
        contents=[
            types.TextResourceContents(uri=uri, mime_type=mime or "application/json", text=text)
        ]
    )


def _mime_of(path: Path) -> str:
    return _MIME_BY_SUFFIX.get(path.suffix.lower(), "application/octet-stream")


def _located(uri: str, base_uri: str, entry: ResourceEntry) -> bool:
    """`uri` is a `location` resource's own, or below it (no disk access: that is later)."""
    return entry.location is not None and (uri == base_uri or uri.startswith(base_uri + "/"))


def _inside(base: Path, uri: str, base_uri: str) -> Path:
    """The file `uri` names below a `location` directory: plain segments only, and never
    outside it (a symlink out counts as outside)."""
    relative = uri[len(base_uri) :].lstrip("/")
    segments = relative.split("/") if relative else []
    for segment in segments:
        if not _SEGMENT.match(segment):  # `..` passes; the containment check below stops it
            raise MCPError(
                types.INVALID_PARAMS,
                f"Invalid params: Invalid path segment in resource URI: {segment}",
            )
    target = base.joinpath(*segments)
    try:
        resolved = target.resolve(strict=True)
        resolved.relative_to(base.resolve(strict=True))
    except FileNotFoundError:
        raise MCPError(
            types.INVALID_PARAMS, f"Invalid params: Unknown resource URI: {uri}"
        ) from None
    except ValueError:
        raise MCPError(
            types.INVALID_PARAMS, f"Invalid params: Path traversal detected for resource URI: {uri}"
        ) from None
    except (OSError, RuntimeError) as exc:  # a link loop is a RuntimeError before 3.13
        reason = exc.strerror if isinstance(exc, OSError) else None
        reason = (reason or "symbolic link loop").lower()
        raise MCPError(types.INTERNAL_ERROR, f"resource {uri!r} cannot be read: {reason}") from None
    if resolved.is_dir():
        raise MCPError(
            types.INVALID_PARAMS,
            f"Invalid params: Resource URI resolves to a directory, not a file: {uri}",
        )
    return resolved
