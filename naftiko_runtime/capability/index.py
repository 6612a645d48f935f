"""Where things are declared in one spec: consumed namespaces (imports resolved) and operations.

Rules, the model builder and the engine all look operations up through this one index, so a
`call` resolves the same way everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from naftiko_runtime.capability.source import (
    DataPath,
    SourceDocument,
    as_dict,
    as_list,
    display_path,
    load_source,
)
from naftiko_runtime.diagnostics import Diagnostic, Severity


@dataclass
class OperationEntry:
    """A consumed operation with its parameters merged from namespace, resource and operation."""

    namespace: str
    name: str
    data: dict[str, Any]
    resource: dict[str, Any]
    api: dict[str, Any]
    pointer: DataPath
    doc: SourceDocument
    params: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def path(self) -> str:
        value = self.resource.get("path")
        return value if isinstance(value, str) else ""


@dataclass
class ApiEntry:
    """One consumed HTTP API, wherever its text lives (this file or an imported one)."""

    namespace: str
    data: dict[str, Any]
    pointer: DataPath
    doc: SourceDocument
    operations: dict[str, OperationEntry] = field(default_factory=dict)


@dataclass
class SpecIndex:
    """Everything `call` targets can name in one capability file."""

    doc: SourceDocument
    apis: dict[str, ApiEntry] = field(default_factory=dict)
    aggregates: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    """aggregate namespace → function name → the function's input names"""

    def operation(self, target: str) -> OperationEntry | None:
        namespace, _, name = target.partition(".")
        api = self.apis.get(namespace)
        return api.operations.get(name) if api else None


def consumes_lists(data: Any) -> list[tuple[DataPath, list[Any]]]:
    """The `consumes` lists of a file: the root one and the capability's."""
    root = as_dict(data)
    found: list[tuple[DataPath, list[Any]]] = []
    if isinstance(root.get("consumes"), list):
        found.append((("consumes",), root["consumes"]))
    capability = as_dict(root.get("capability"))
    if isinstance(capability.get("consumes"), list):
        found.append((("capability", "consumes"), capability["consumes"]))
    return found


class Importer:
    """Loads imported files once per run and reports broken imports at the import line."""

    def __init__(self) -> None:
        self._cache: dict[Path, tuple[SourceDocument | None, list[Diagnostic]]] = {}

    def load(self, path: Path) -> tuple[SourceDocument | None, list[Diagnostic]]:
        key = path.resolve()
        if key not in self._cache:
            from naftiko_runtime.capability.dialects.ikanos_checks import in_model_shape

            doc, problems = load_source(path, display=display_path(path))
            self._cache[key] = in_model_shape(doc), problems
        return self._cache[key]

    def documents(self) -> list[SourceDocument]:
        """Every imported document read (once each)."""
        return [doc for doc, _ in self._cache.values() if doc is not None]


def _location_path(base: Path, location: str) -> Path:
    if location.startswith("file://"):
        location = location[len("file://") :].lstrip("/")
        if not location.startswith("."):
            location = "/" + location
    return (base.parent / location) if not Path(location).is_absolute() else Path(location)


def build_index(doc: SourceDocument, importer: Importer) -> tuple[SpecIndex, list[Diagnostic]]:
    """Index `doc`'s consumed APIs (following imports) and aggregates."""
    index = SpecIndex(doc)
    problems: list[Diagnostic] = []
    for list_path, entries in consumes_lists(doc.data):
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict):
                continue
            pointer = (*list_path, i)
            if "import" in entry or "location" in entry:
                resolved = _resolve_import(doc, pointer, entry, importer, problems)
                if resolved:
                    _add_api(index, resolved, problems, doc, pointer)
            elif isinstance(entry.get("namespace"), str):
                _add_api(
                    index, ApiEntry(entry["namespace"], entry, pointer, doc), problems, doc, pointer
                )
    capability = as_dict(as_dict(doc.data).get("capability"))
    for aggregate in as_list(capability.get("aggregates")):
        aggregate = as_dict(aggregate)
        if not isinstance(aggregate.get("namespace"), str):
            continue
        functions = index.aggregates.setdefault(aggregate["namespace"], {})
        for function in as_list(aggregate.get("functions")):
            function = as_dict(function)
            if isinstance(function.get("name"), str):
                functions[function["name"]] = tuple(
                    p["name"]
                    for p in as_list(function.get("inputParameters"))
                    if isinstance(p, dict) and isinstance(p.get("name"), str)
                )
    return index, problems


def _resolve_import(
    doc: SourceDocument,
    pointer: DataPath,
    entry: dict[str, Any],
    importer: Importer,
    problems: list[Diagnostic],
) -> ApiEntry | None:
    location, wanted = entry.get("location"), entry.get("import")
    if not isinstance(location, str) or not isinstance(wanted, str):
        return None  # the schema reports the shape
    target = _location_path(doc.path, location)
    if not target.is_file():
        problems.append(
            doc.diag(
                (*pointer, "location"),
                "import",
                f"imported file {location!r} not found (looked at {display_path(target)})",
            )
        )
        return None
    other, other_problems = importer.load(target)
    if other is None:
        first = other_problems[0] if other_problems else None
        why = f": {first.file}:{first.line}:{first.column}: {first.message}" if first else ""
        problems.append(
            doc.diag(
                (*pointer, "location"),
                "import",
                f"imported file {location!r} cannot be loaded{why}",
            )
        )
        return None
    if other.dialect != doc.dialect:
        problems.append(
            doc.diag(
                (*pointer, "location"),
                "import-dialect",
                f"{doc.dialect} file imports {location!r}, a {other.dialect} file",
                severity=Severity.WARNING,
                hint="this runtime reads both into one model; neither reference engine reads "
                "the other's files (`naftiko-runtime migrate` rewrites one)",
            )
        )
    available = []
    for list_path, entries in consumes_lists(other.data):
        for i, candidate in enumerate(entries):
            if isinstance(candidate, dict) and isinstance(candidate.get("namespace"), str):
                available.append(candidate["namespace"])
                if candidate["namespace"] == wanted:
                    alias = entry.get("as")
                    name = alias if isinstance(alias, str) else wanted
                    return ApiEntry(name, candidate, (*list_path, i), other)
    problems.append(
        doc.diag(
            (*pointer, "import"),
            "import",
            f"{location!r} has no consumes namespace {wanted!r}",
            hint=f"it declares: {', '.join(available) or 'none'}",
        )
    )
    return None


def _add_api(
    index: SpecIndex,
    api: ApiEntry,
    problems: list[Diagnostic],
    doc: SourceDocument,
    pointer: DataPath,
) -> None:
    if api.namespace in index.apis:
        return  # reported by the namespace-unique rule
    index.apis[api.namespace] = api
    base_params = _params(api.data.get("inputParameters"))
    for r, resource in enumerate(as_list(api.data.get("resources"))):
        resource = as_dict(resource)
        resource_params = {**base_params, **_params(resource.get("inputParameters"))}
        for o, operation in enumerate(as_list(resource.get("operations"))):
            operation = as_dict(operation)
            name = operation.get("name")
            if not isinstance(name, str):
                continue
            op_pointer = (*api.pointer, "resources", r, "operations", o)
            if name in api.operations:
                first = api.operations[name]
                line = first.doc.source_map.locate(first.pointer)[0]
                problems.append(
                    api.doc.diag(
                        (*op_pointer, "name"),
                        "duplicate-name",
                        f"operation {name!r} is declared twice in namespace "
                        f"{api.namespace!r} (first at line {line})",
                    )
                )
                continue
            entry = OperationEntry(
                api.namespace, name, operation, resource, api.data, op_pointer, api.doc
            )
            entry.params = {**resource_params, **_params(operation.get("inputParameters"))}
            api.operations[name] = entry


def _params(value: Any) -> dict[str, dict[str, Any]]:
    return {
        p["name"]: p
        for p in as_list(value)
        if isinstance(p, dict) and isinstance(p.get("name"), str)
    }
