"""The Ikanos dialect (`ikanos: 1.0.0-alpha3` … `1.0.0-beta5`) beside alpha2 (`naftiko:`).

Design: an Ikanos document is translated into the alpha2-shaped data the one model builder
already reads (keyed maps back to named lists in their order, `display` → `label`, `target` →
`targetName`, `flows` → `functions`, import `from` → `location`), and every rule of ours runs
on that data. What makes this faithful for users is the `TranslatedMap`: each translated path
is mapped back to the path it came from, so every diagnostic stands at the Ikanos file's own
line:col and names the Ikanos JSON pointer. The Ikanos schema and lint rules run on the file as
written (`native`); the engine's leniency (legacy named lists) is folded into maps for the
schema and reported as a warning.

The same structural walk, run the other way on a round-trip YAML tree, is `migrate`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from naftiko_runtime.capability.source import DataPath, SourceDocument, SourceMap

ALPHA2 = "1.0.0-alpha2"
IKANOS_VERSIONS = (
    "1.0.0-alpha3",
    "1.0.0-alpha4",
    "1.0.0-beta1",
    "1.0.0-beta2",
    "1.0.0-beta3",
    "1.0.0-beta4",
    "1.0.0-beta5",
)
IKANOS_CURRENT = IKANOS_VERSIONS[-1]
NAFTIKO, IKANOS = "naftiko", "ikanos"


def dialect_of(data: Any) -> str | None:
    """`ikanos` or `naftiko` from the root key (`ikanos` wins if a file has both: the
    Ikanos schema then reports the stray key), None when neither is there."""
    if not isinstance(data, Mapping):
        return None
    if IKANOS in data:
        return IKANOS
    return NAFTIKO if NAFTIKO in data else None


# ---------------------------------------------------------------- positions
class PathMap:
    """Where each node of a derived document stands in the document it came from.

    Only moved nodes are recorded (a keyed entry that became a list item, a renamed key, an
    invented `name`); any other path is found through its longest recorded prefix."""

    __slots__ = ("_moves",)

    def __init__(self, moves: dict[DataPath, tuple[DataPath, bool]] | None = None) -> None:
        self._moves = {} if moves is None else moves

    def __reduce__(self) -> tuple[Any, ...]:
        return (PathMap, (self._moves,))

    def record(self, derived: DataPath, original: DataPath, *, key: bool = False) -> None:
        if derived != original or key:
            self._moves[derived] = (original, key)

    def original(self, path: DataPath) -> tuple[DataPath, bool]:
        """The original path of `path`, and whether it stands at the original's key."""
        moves = self._moves
        if not moves:
            return path, False
        for n in range(len(path), 0, -1):
            hit = moves.get(path[:n])
            if hit is not None:
                origin, at_key = hit
                if n == len(path):
                    return origin, at_key
                return (*origin, *path[n:]), False
        return path, False


class TranslatedMap(SourceMap):
    """The source map of a translated document: positions and pointers of the file as
    written, asked with the translated paths."""

    __slots__ = ("native", "paths")

    def __init__(self, native: SourceMap, paths: PathMap) -> None:
        super().__init__()
        self.native, self.paths = native, paths

    def __reduce__(self) -> tuple[Any, ...]:
        return (TranslatedMap, (self.native, self.paths))

    def locate(self, path: DataPath, *, key: bool = False) -> tuple[int, int]:
        origin, at_key = self.paths.original(path)
        return self.native.locate(origin, key=key or at_key)

    def native_path(self, path: DataPath) -> DataPath:
        return self.paths.original(path)[0]

    def release(self) -> None:
        self.native.release()
        self.paths = PathMap()


# ---------------------------------------------------------------- the shapes
Field = tuple[str, str]  # (kind of the child, how it is held)
_CALLER: dict[str, Field] = {
    "steps": ("leaf", "named"),
    "mappings": ("mapping", "list"),
    "outputParameters": ("orch", "outputs"),
}
_PARAMS: dict[str, Field] = {"inputParameters": ("leaf", "named")}
SHAPES: dict[str, dict[str, Field]] = {
    "root": {
        "info": ("info", "one"),
        "consumes": ("consumes", "list"),
        "binds": ("bind", "list"),
        "capability": ("capability", "one"),
        "exposes": ("expose", "list"),
        "aggregates": ("aggregate", "list"),
    },
    "capability": {
        "consumes": ("consumes", "list"),
        "exposes": ("expose", "list"),
        "aggregates": ("aggregate", "list"),
        "binds": ("bind", "list"),
    },
    "http": {**_PARAMS, "resources": ("cresource", "named")},
    "cresource": {**_PARAMS, "operations": ("cop", "named")},
    "cop": {**_PARAMS, "outputParameters": ("leaf", "named")},
    "rest": {"resources": ("rresource", "named")},
    "rresource": {**_PARAMS, "operations": ("rop", "named")},
    "rop": {**_PARAMS, **_CALLER},
    "mcp": {
        "tools": ("tool", "named"),
        "resources": ("mresource", "named"),
        "prompts": ("prompt", "named"),
    },
    "tool": {**_PARAMS, **_CALLER},
    "mresource": dict(_CALLER),
    "prompt": {"arguments": ("arg", "named")},
    "skill": {"skills": ("skillgroup", "named")},
    "skillgroup": {"tools": ("leaf", "named")},
    "aggregate": {"flows": ("flow", "named")},
    "flow": {**_PARAMS, **_CALLER},
    "orch": {"properties": ("orch", "map"), "items": ("orch", "items")},
}
_LABELLED = ("info", "cresource", "cop", "rresource", "rop", "tool", "mresource", "prompt", "arg")
RENAMES: dict[str, dict[str, str]] = {
    **{kind: {"display": "label"} for kind in _LABELLED},
    "aggregate": {"display": "label", "flows": "functions"},
    "mapping": {"target": "targetName"},
    "import": {"from": "location"},
}
_UNNAMED_KEY = {  # what the Java engine names an unnamed legacy list item (NamedMapDeserializer)
    "cresource": "HttpClientResourceSpec",
    "cop": "HttpClientOperationSpec",
    "rresource": "RestServerResourceSpec",
    "rop": "RestServerOperationSpec",
    "tool": "McpServerToolSpec",
    "mresource": "McpServerResourceSpec",
    "prompt": "McpServerPromptSpec",
    "arg": "McpPromptArgumentSpec",
    "skillgroup": "ExposedSkillSpec",
    "flow": "AggregateFlowSpec",
}

DOWN, UP, LEGACY = "down", "up", "legacy"
"""DOWN: Ikanos → alpha2 shape. UP: alpha2 → Ikanos (migrate). LEGACY: Ikanos legacy named
lists → the keyed maps the schema wants (everything else unchanged)."""


@dataclass(frozen=True)
class Note:
    """A point the walk could not carry over as it was, at the original path."""

    path: DataPath
    kind: str  # "legacy-list", "invented-key", "duplicate-name", "dropped"
    message: str
    key: bool = False


class Containers:
    """How new mappings and lists are made (plain data; `migrate` makes round-trip ones that
    carry the comments over)."""

    def mapping(self, like: Any) -> MutableMapping[Any, Any]:
        return {}

    def sequence(self, like: Any) -> list[Any]:
        return []

    def carry(self, old: Any, old_key: Any, new: Any, new_key: Any) -> None:
        """Move what is attached to `old[old_key]` (comments) onto `new[new_key]`."""


@dataclass
class _Walk:
    direction: str
    containers: Containers
    paths: PathMap = field(default_factory=PathMap)
    notes: list[Note] = field(default_factory=list)
    legacy_paths: set[DataPath] = field(default_factory=set)

    # ---- dispatch
    def kind_of(self, kind: str, value: Any) -> str:
        return _kind_of(kind, value, self.direction)

    def fields(self, kind: str) -> dict[str, Field]:
        shape = SHAPES.get(kind, {})
        if self.direction != UP:
            return shape
        renames = RENAMES.get(kind, {})
        return {renames.get(k, k): v for k, v in shape.items()}

    def rename(self, kind: str, key: Any) -> Any:
        renames = RENAMES.get(kind, {})
        if self.direction == DOWN:
            return renames.get(key, key)
        if self.direction == UP:
            back = {v: k for k, v in renames.items()}
            return back.get(key, key)
        return key

    # ---- nodes
    def node(self, kind: str, value: Any, dpath: DataPath, opath: DataPath) -> Any:
        kind = self.kind_of(kind, value)
        if not isinstance(value, Mapping):
            return value
        fields = self.fields(kind)
        if not fields and kind not in RENAMES:
            return value  # a leaf: kept as it is (the same object)
        out = self.containers.mapping(value)
        for key, child in value.items():
            new_key = self.rename(kind, key)
            if new_key in out:  # both spellings given: the first kept, the other reported
                self.notes.append(
                    Note((*opath, key), "dropped", f"{key!r} repeats {new_key!r}", key=True)
                )
                continue
            if new_key != key:  # anything below follows its parent's record
                self.paths.record((*dpath, new_key), (*opath, key))
            spec = fields.get(key)
            if spec is None:
                out[new_key] = child
            else:
                out[new_key] = self.held(spec, child, (*dpath, new_key), (*opath, key))
            self.containers.carry(value, key, out, new_key)
        return out

    def held(self, spec: Field, value: Any, dpath: DataPath, opath: DataPath) -> Any:
        child, how = spec
        if how == "one":
            return self.node(child, value, dpath, opath)
        if how == "map":
            if not isinstance(value, Mapping):
                return value
            out = self.containers.mapping(value)
            for key, item in value.items():
                out[key] = self.node(child, item, (*dpath, key), (*opath, key))
                self.containers.carry(value, key, out, key)
            return out
        if how == "list":
            return self.listed(child, value, dpath, opath)
        if how == "items":  # an orchestrated array's items: keyed in Ikanos, named in alpha2
            if isinstance(value, Mapping) or (self.direction == UP and _all_named(value)):
                return self.named(child, value, dpath, opath)
            return value
        if how == "outputs":  # keyed (orchestrated, mock) or a list (mapped)
            if isinstance(value, Mapping) or _all_named(value):
                return self.named(child, value, dpath, opath)
            return value
        return self.named(child, value, dpath, opath)

    def listed(self, child: str, value: Any, dpath: DataPath, opath: DataPath) -> Any:
        if not isinstance(value, list):
            return value
        out = self.containers.sequence(value)
        for i, item in enumerate(value):
            out.append(self.node(child, item, (*dpath, i), (*opath, i)))
        return out

    def named(self, child: str, value: Any, dpath: DataPath, opath: DataPath) -> Any:
        """A collection of named entries: keyed map in Ikanos, list with `name` in alpha2."""
        keyed = isinstance(value, Mapping)
        if self.direction == DOWN:
            return (
                self._to_list(child, value, dpath, opath)
                if keyed
                else self._each(child, value, dpath, opath)
            )
        if keyed:  # already keyed (UP: an alpha2 `properties`-like map; LEGACY: modern form)
            out = self.containers.mapping(value)
            for key, item in value.items():
                out[key] = self.node(child, item, (*dpath, key), (*opath, key))
                self.containers.carry(value, key, out, key)
            return out
        if not isinstance(value, list):
            return value
        if self.direction == LEGACY:
            if not all(isinstance(item, Mapping) for item in value):
                return value  # not the legacy form: the schema says what it is
            self.legacy_paths.add(opath)
            self.notes.append(Note(opath, "legacy-list", _legacy_message(opath), key=True))
        return self._to_map(child, value, dpath, opath)

    def _each(self, child: str, value: Any, dpath: DataPath, opath: DataPath) -> Any:
        return self.listed(child, value, dpath, opath)

    def _to_list(self, child: str, value: Any, dpath: DataPath, opath: DataPath) -> Any:
        out = self.containers.sequence(value)
        for i, (key, item) in enumerate(value.items()):
            here, there = (*dpath, i), (*opath, key)
            self.paths.record(here, there)
            converted = self.node(child, item, here, there)
            if isinstance(converted, Mapping):
                entry = self.containers.mapping(converted)
                entry["name"] = key
                self.paths.record((*here, "name"), there, key=True)
                for k, v in converted.items():
                    if k != "name":
                        entry[k] = v
                        self.containers.carry(converted, k, entry, k)
                converted = entry
            out.append(converted)
        return out

    def _to_map(self, child: str, value: list[Any], dpath: DataPath, opath: DataPath) -> Any:
        out = self.containers.mapping(value)
        for i, item in enumerate(value):
            there = (*opath, i)
            if not isinstance(item, Mapping):
                self.notes.append(Note(there, "dropped", "an entry that is not a mapping"))
                continue
            name = item.get("name")
            key = str(name) if isinstance(name, str) and name else None  # a plain key
            if key is None:
                key = _invented(child, item, i, out)
                if self.direction == UP:
                    self.notes.append(
                        Note(there, "invented-key", f"unnamed entry keyed {key!r} in Ikanos")
                    )
            elif key in out:
                if self.direction == UP and opath[-1:] == ("inputParameters",):
                    self.notes.append(
                        Note(
                            (*there, "name"),
                            "duplicate-name",
                            f"a second parameter named {key!r} (in: {item.get('in')!r}) "
                            "cannot be kept: Ikanos keys parameters by name; dropped",
                            key=True,
                        )
                    )
                    continue
                fresh = _fresh(key, out)
                self.notes.append(
                    Note((*there, "name"), "duplicate-name", f"{key!r} again: keyed {fresh!r}")
                )
                key = fresh
            here = (*dpath, key)
            self.paths.record(here, there)
            converted = self.node(child, item, here, there)
            if isinstance(converted, Mapping) and "name" in converted:
                trimmed = self.containers.mapping(converted)
                for k, v in converted.items():
                    if k != "name":
                        trimmed[k] = v
                        self.containers.carry(converted, k, trimmed, k)
                converted = trimmed
            out[key] = converted
            self.containers.carry(value, i, out, key)
        return out


def _kind_of(kind: str, value: Any, direction: str) -> str:
    """What an entry of a polymorphic list is: an import, an http API, which adapter."""
    if not isinstance(value, Mapping):
        return kind
    if direction == UP:  # alpha2 imports only consumed APIs
        if kind == "consumes" and "location" in value and "import" in value:
            return "import"
    elif kind in ("consumes", "expose", "aggregate", "bind") and "from" in value:
        return "import"
    if kind == "consumes":
        return "http"
    if kind == "expose":
        found = value.get("type")
        return found if found in ("rest", "mcp", "skill") else "leaf"
    if kind == "bind":
        return "leaf"
    return kind


def _all_named(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(i, Mapping) and isinstance(i.get("name"), str) for i in value)
    )


def _invented(child: str, item: Mapping[str, Any], index: int, taken: Mapping[str, Any]) -> str:
    """A key for an unnamed entry: the function or operation it refers to (the name the model
    already gives it), else its path (`/users/{id}` → `users-id`), else the Java engine's
    `<Class>-<index>`."""
    for field_name in ("ref", "call"):
        target = item.get(field_name)
        if isinstance(target, str) and "." in target:
            return _fresh(target.rsplit(".", 1)[1], taken)
    path = item.get("path")
    if isinstance(path, str):
        words = "".join(c if c.isalnum() else "-" for c in path).strip("-")
        base = "-".join(w for w in words.split("-") if w) or "root"
        return _fresh(base, taken)
    return _fresh(f"{_UNNAMED_KEY.get(child, child)}-{index}", taken)


def _fresh(base: str, taken: Mapping[str, Any]) -> str:
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def _legacy_message(path: DataPath) -> str:
    return (
        f"'{path[-1]}' is a list: the Ikanos engine still reads this legacy form, the Ikanos "
        "schema wants a map keyed by name"
    )


# ---------------------------------------------------------------- whole documents
def walk_root(
    data: Any, direction: str, containers: Containers | None = None
) -> tuple[Any, PathMap, list[Note]]:
    """`data` walked `direction`: the new data, where its nodes came from, and the notes."""
    walk = _Walk(direction, containers or Containers())
    if not isinstance(data, Mapping):
        return data, walk.paths, walk.notes
    out = walk.node("root", data, (), ())
    if direction == DOWN and isinstance(out, MutableMapping) and IKANOS in out:
        out = _rekey(out, IKANOS, NAFTIKO, out[IKANOS], walk, containers)
    elif direction == UP and isinstance(out, MutableMapping) and NAFTIKO in out:
        out = _rekey(out, NAFTIKO, IKANOS, IKANOS_CURRENT, walk, containers)
    return out, walk.paths, walk.notes


def _rekey(
    data: MutableMapping[Any, Any],
    old: str,
    new: str,
    value: Any,
    walk: _Walk,
    containers: Containers | None,
) -> MutableMapping[Any, Any]:
    maker = containers or Containers()
    out = maker.mapping(data)
    for key, child in data.items():
        if key == old:
            out[new] = value
            walk.paths.record((new,), (old,))
            maker.carry(data, key, out, new)
        else:
            out[key] = child
            maker.carry(data, key, out, key)
    return out


def translate(native: SourceDocument) -> SourceDocument:
    """`native` (an `ikanos:` file) in the alpha2 shape, its positions kept."""
    data, paths, _ = walk_root(native.data, DOWN)
    doc = SourceDocument(
        native.path, native.display, data, TranslatedMap(native.source_map, paths), native.lines
    )
    doc.dialect = IKANOS
    doc.native = native
    return doc


def fold_legacy(native: SourceDocument) -> tuple[SourceDocument, list[Note]]:
    """`native` with its legacy named lists folded into keyed maps (the form the Ikanos
    schema checks), and a note at each; the document itself when it has none."""
    if not _has_legacy("root", native.data):
        return native, []
    data, paths, notes = walk_root(native.data, LEGACY)
    folded = SourceDocument(
        native.path, native.display, data, TranslatedMap(native.source_map, paths), native.lines
    )
    return folded, notes


def _has_legacy(kind: str, value: Any) -> bool:
    """Whether a named collection anywhere in `value` is written as a list (a quick look
    that builds nothing: most files have none)."""
    if not isinstance(value, Mapping):
        return False
    fields = SHAPES.get(_kind_of(kind, value, LEGACY), {})
    for key, (child, how) in fields.items():
        held = value.get(key)
        if held is None:
            continue
        if how in ("named", "outputs", "items") and isinstance(held, list):
            if how == "named" and held and all(isinstance(i, Mapping) for i in held):
                return True
            if how != "named" and _all_named(held):
                return True
        if how == "one":
            members: list[Any] = [held]
        elif isinstance(held, Mapping):
            members = list(held.values())
        else:
            members = held if isinstance(held, list) else []
        if any(_has_legacy(child, member) for member in members):
            return True
    return False


def each(value: Any) -> Iterator[tuple[str | int, Any]]:
    """Spectral's `[*]`: a list's items or a mapping's values, with their keys."""
    if isinstance(value, list):
        yield from enumerate(value)
    elif isinstance(value, Mapping):
        yield from value.items()
