"""YAML text → plain data plus a source map from data path to (line, column).

PyYAML's composer keeps a mark on every node; we build the data ourselves from those nodes so
that we can reject what `yaml.safe_load` silently accepts (duplicate keys, non-string keys,
alias bombs, huge files) and remember where every key and value stands.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from naftiko_runtime.capability.fastyaml import MIN_BYTES, fast_load
from naftiko_runtime.diagnostics import Diagnostic, pointer_of

try:  # the C composer is several times faster; fall back when libyaml is absent
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

MAX_FILE_BYTES = 32 * 1024 * 1024
"""A file this large is refused unread. Bombs are bounded by the node budget below, not by
the size: a whole real description (GitHub's 1,223 operations, imported) is 3.7 MB."""
MAX_NODES = 200_000


def alias_budget(root: yaml.Node) -> int:
    """Nodes a composed document may expand to through its aliases: four times the nodes
    it really holds (at least MAX_NODES). Counted on the composed graph, where an alias is
    the node it names, so neither padding nor a large file raises what a bomb may reach."""
    seen: set[int] = set()
    stack: list[yaml.Node] = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.append(key)
                stack.append(value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return max(MAX_NODES, 4 * len(seen))


def node_budget(size: int) -> int:
    """Nodes the fast path (which takes no aliases: nothing expands there) may build from
    `size` bytes: a real capability spends 20 bytes or more a node (the GitHub import: 22),
    so one node per 4 bytes (at least MAX_NODES) never refuses a real file."""
    return max(MAX_NODES, size // 4)


MAX_DEPTH = 100
"""Levels a document may nest (the deepest real capability here nests 14): deeper data is
refused with a diagnostic, never followed until the interpreter's recursion limit."""

DataPath = tuple[str | int, ...]

_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_STR = "tag:yaml.org,2002:str"
_CONSTRUCTED = frozenset((_INT, _FLOAT, _BOOL, _NULL))


class SourceMap:
    """Where each data path stands in the file (1-based); keys and values are kept apart.

    A document read by the fast path gets a map that is filled from its text on first use: most
    documents never need a position, and building one costs more than the parse it replaced.
    """

    __slots__ = ("_values", "_keys", "_fill", "_origin")

    def __init__(
        self,
        values: dict[DataPath, tuple[int, int]] | None = None,
        keys: dict[DataPath, tuple[int, int]] | None = None,
        *,
        fill: Callable[[], SourceMap] | None = None,
        origin: tuple[str, str, str] | None = None,
    ) -> None:
        self._values = {} if values is None else values
        self._keys = {} if keys is None else keys
        self._fill = fill
        self._origin = origin  # a lazy map's (path, display, text): what a copy re-reads

    def __reduce__(self) -> tuple[Any, ...]:
        """A copy for another process (`serve` gets its model from a forked loader): a lazy
        map travels as its file's name and its text's digest, and the copy reads the file
        again only if a position is ever asked; a filled map travels whole."""
        if self._fill is not None and self._origin is not None:
            path, display, text = self._origin
            return (_reread, (path, display, text_digest(text)))
        return (SourceMap, (self.values, self.keys))

    def _filled(self) -> None:
        fill, self._fill = self._fill, None
        if fill is not None:
            built = fill()
            self._values, self._keys = built._values, built._keys

    @property
    def values(self) -> dict[DataPath, tuple[int, int]]:
        if self._fill is not None:
            self._filled()
        return self._values

    @property
    def keys(self) -> dict[DataPath, tuple[int, int]]:
        if self._fill is not None:
            self._filled()
        return self._keys

    def release(self) -> None:
        """Forget every position (and the text a lazy map would read them from): a served
        configuration is compiled and needs no more of them, and for a large spec they are
        megabytes. Whatever is asked afterwards is answered with the file's start."""
        self._values, self._keys, self._fill, self._origin = {}, {}, None, None

    def native_path(self, path: DataPath) -> DataPath:
        """The path as the file spells it (a translated document's map says otherwise)."""
        return path

    def locate(self, path: DataPath, *, key: bool = False) -> tuple[int, int]:
        """Position of `path`, or of its nearest located ancestor when it does not exist."""
        table = self.keys if key else self.values
        keys = self.keys
        probe = path
        while probe:
            if probe in table:
                return table[probe]
            if not key and probe in keys:
                return keys[probe]
            probe = probe[:-1]
        return self.values.get((), (1, 1))


@dataclass
class SourceDocument:
    """One loaded YAML file: its data, where things are, and its lines for display."""

    path: Path
    display: str
    data: Any
    source_map: SourceMap
    lines: list[str]
    dialect: str = "naftiko"
    native: SourceDocument | None = None  # an Ikanos file as written (this is its translation)

    def diag(
        self, path: DataPath, rule: str, message: str, *, key: bool = False, **kwargs: Any
    ) -> Diagnostic:
        line, column = self.source_map.locate(path, key=key)
        pointer = pointer_of(self.source_map.native_path(path))
        return Diagnostic(self.display, line, column, pointer, rule, message, **kwargs)


class _Builder:
    """Turn composed nodes into data, bounding alias expansion and checking keys."""

    def __init__(self, display: str, budget: int = MAX_NODES) -> None:
        self.display = display
        self.budget = budget
        self.source_map = SourceMap()
        self.problems: list[Diagnostic] = []
        self.count = 0
        self.active: set[int] = set()
        self.constructor = yaml.constructor.SafeConstructor()

    def _mark(self, node: yaml.Node) -> tuple[int, int]:
        return node.start_mark.line + 1, node.start_mark.column + 1

    def _problem(self, node: yaml.Node, path: DataPath, rule: str, message: str) -> None:
        line, column = self._mark(node)
        self.problems.append(
            Diagnostic(self.display, line, column, pointer_of(path), rule, message)
        )

    def build(self, node: yaml.Node, path: DataPath) -> Any:
        self.count += 1
        if self.count > self.budget:
            raise _TooLarge(node)
        if len(path) > MAX_DEPTH:
            raise _TooDeep(node)
        mark = node.start_mark
        values = self.source_map.values
        if path not in values:
            values[path] = (mark.line + 1, mark.column + 1)
        if type(node) is yaml.ScalarNode:
            tag = node.tag
            if tag == _STR:
                return node.value
            if tag in _CONSTRUCTED:
                return self.constructor.construct_object(node)
            return node.value  # timestamps and the rest stay as written, as the reference reads
        key = id(node)
        if key in self.active:  # a recursive alias can never be JSON
            self._problem(node, path, "yaml-recursive-alias", "recursive YAML alias")
            return None
        self.active.add(key)
        try:
            if type(node) is yaml.SequenceNode:
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            return self._mapping(node, path)
        finally:
            self.active.discard(key)

    def _mapping(self, node: yaml.Node, path: DataPath) -> Any:
        result: dict[str, Any] = {}
        keys = self.source_map.keys
        for key_node, value_node in node.value:
            if key_node.tag != _STR or type(key_node) is not yaml.ScalarNode:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    self._problem(
                        key_node, path, "yaml-merge-key", "YAML merge keys (<<) are not supported"
                    )
                    continue
                shown = key_node.value if isinstance(key_node, yaml.ScalarNode) else "<collection>"
                self._problem(
                    key_node,
                    path,
                    "yaml-key-type",
                    f"mapping key {shown!r} is not a string; quote it",
                )
                continue
            key = key_node.value
            child = (*path, key)
            if key in result:
                first = keys.get(child, (0, 0))
                self._problem(
                    key_node,
                    child,
                    "yaml-duplicate-key",
                    f"duplicate key {key!r} (first defined at line {first[0]})",
                )
                continue
            mark = key_node.start_mark
            keys[child] = (mark.line + 1, mark.column + 1)
            result[key] = self.build(value_node, child)
        return result


def display_path(path: Path) -> str:
    """Paths are shown relative to the working directory when they are below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def as_list(value: Any) -> list[Any]:
    """`value` if it is a list, else empty: rules run on data the schema may have rejected."""
    return value if isinstance(value, list) else []


def as_dict(value: Any) -> dict[str, Any]:
    """`value` if it is a mapping, else empty."""
    return value if isinstance(value, dict) else {}


class _TooLarge(Exception):
    def __init__(self, node: yaml.Node) -> None:
        self.node = node


class _TooDeep(_TooLarge):
    """Nested past MAX_DEPTH (caught before `_TooLarge`)."""


def load_source(
    path: Path, display: str | None = None
) -> tuple[SourceDocument | None, list[Diagnostic]]:
    """Load one YAML file; syntax and safety problems come back as diagnostics, never raised."""
    shown = display or str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, [Diagnostic(shown, 1, 1, "", "io", f"cannot read file: {exc.strerror}")]
    if len(raw) > MAX_FILE_BYTES:
        return None, [
            Diagnostic(
                shown,
                1,
                1,
                "",
                "yaml-too-large",
                f"file is {len(raw)} bytes; the limit is {MAX_FILE_BYTES}",
            )
        ]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [
            Diagnostic(shown, 1, 1, "", "yaml-encoding", f"file is not UTF-8 (byte {exc.start})")
        ]
    return parse_text(text, path, shown)


def parse_text(
    text: str, path: Path, display: str, *, fast: bool | None = None
) -> tuple[SourceDocument | None, list[Diagnostic]]:
    """Parse YAML text already in memory (used by `load_source` and by tests).

    `fast` forces the fast path on (True) or off (False); by default it is tried for large texts.
    """
    if fast is True or (fast is None and len(text) >= MIN_BYTES):
        budget = node_budget(len(text))
        data = fast_load(text, budget, force=fast is True, max_depth=MAX_DEPTH)
        if data is not None:
            source_map = SourceMap(
                fill=lambda: _careful_map(text, display), origin=(str(path), display, text)
            )
            return SourceDocument(path, display, data, source_map, text.splitlines()), []
    return _careful(text, path, display)


def text_digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass")).digest()


def _reread(path: str, display: str, digest: bytes) -> SourceMap:
    """A lazy map of `path` as it was read elsewhere; if the file has changed since, its
    positions would be wrong: every position is then the file's start."""
    return SourceMap(fill=lambda: _reread_map(Path(path), display, digest))


def _reread_map(path: Path, display: str, digest: bytes) -> SourceMap:
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return SourceMap()
    return _careful_map(text, display) if text_digest(text) == digest else SourceMap()


def _careful_map(text: str, display: str) -> SourceMap:
    """The source map of a document the fast path read (it parsed cleanly there too)."""
    doc, _ = _careful(text, Path(display), display)
    return doc.source_map if doc is not None else SourceMap()


class _Frame:
    """An open collection while events are read: where its current child stands."""

    __slots__ = ("mapping", "key", "line", "index", "open")

    def __init__(self, mapping: bool) -> None:
        self.mapping = mapping
        self.key: str | None = None
        self.line = -1  # where the current key stands (0-based)
        self.index = -1
        self.open = False  # a key is read and its value is not done (or an item is open)


def nearest_pointer(text: str) -> str:
    """The JSON pointer of the innermost node open where the parser stopped (a syntax
    error): the events before it say which mapping key or list item it was inside."""
    stack: list[_Frame] = []
    collections = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
    stopped = -1
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                stack.pop()
                if stack:
                    stack[-1].open = False
                continue
            if not isinstance(event, (yaml.ScalarEvent, yaml.AliasEvent, *collections)):
                continue
            top = stack[-1] if stack else None
            if top is not None and top.mapping and not top.open:  # a key
                top.key = event.value if isinstance(event, yaml.ScalarEvent) else None
                top.line = event.start_mark.line if event.start_mark is not None else -1
                top.open = True
            elif top is not None:  # a value, or a list item
                if not top.mapping:
                    top.index += 1
                top.open = isinstance(event, collections)
            if isinstance(event, collections):
                stack.append(_Frame(isinstance(event, yaml.MappingStartEvent)))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        stopped = mark.line if mark else -1
    except (yaml.YAMLError, RecursionError):
        pass
    path: list[str | int] = []
    for frame in stack:
        if not frame.open:  # the last key still counts when the error is on its line
            if frame.mapping and frame.key is not None and frame.line == stopped:
                path.append(frame.key)
            break
        if frame.mapping and frame.key is not None:
            path.append(frame.key)
        elif not frame.mapping:
            path.append(frame.index)
    return pointer_of(tuple(path))


def _too_deep() -> str:
    return f"document nests more than {MAX_DEPTH} levels deep; refusing to load it"


def _careful(text: str, path: Path, display: str) -> tuple[SourceDocument | None, list[Diagnostic]]:
    """PyYAML's composer and our builder: every position, every problem reported."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        last = max(1, len(text.splitlines()))
        if line > last:  # the parser's mark past the end of the file: point at the last line
            line, column = last, len(text.splitlines()[-1]) + 1 if text.splitlines() else 1
        what = exc.problem or "invalid YAML"
        context = f" ({exc.context})" if exc.context else ""
        pointer = nearest_pointer(text)
        return None, [Diagnostic(display, line, column, pointer, "yaml-syntax", f"{what}{context}")]
    except yaml.YAMLError as exc:  # pragma: no cover - unmarked errors are rare
        return None, [Diagnostic(display, 1, 1, "", "yaml-syntax", str(exc))]
    except RecursionError:  # the composer's own recursion, thousands of levels down
        return None, [Diagnostic(display, 1, 1, "", "yaml-too-deep", _too_deep())]
    lines = text.splitlines()
    if node is None:
        return SourceDocument(path, display, None, SourceMap(), lines), []
    builder = _Builder(display, alias_budget(node))
    try:
        data = builder.build(node, ())
    except _TooDeep as exc:
        line, column = exc.node.start_mark.line + 1, exc.node.start_mark.column + 1
        return None, [Diagnostic(display, line, column, "", "yaml-too-deep", _too_deep())]
    except _TooLarge as exc:
        line, column = exc.node.start_mark.line + 1, exc.node.start_mark.column + 1
        return None, [
            Diagnostic(
                display,
                line,
                column,
                "",
                "yaml-too-large",
                f"document expands to more than {builder.budget} nodes "
                "(aliases are expanded); refusing to load it",
            )
        ]
    return SourceDocument(path, display, data, builder.source_map, lines), builder.problems
