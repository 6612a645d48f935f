"""A fast path for plain YAML: rapidyaml parses, JSON carries the data back, PyYAML's rules decide.

PyYAML composing a node tree costs about 0.5 s per megabyte; rapidyaml parses and emits the same
file as JSON in under 40 ms. The two do not read every document alike (YAML 1.1 against 1.2
scalars, anchors, tags, escapes), so this path only takes documents where they provably agree
and answers `None` for everything else, which then goes the careful way in `source.py`:

- the text is screened first: tabs, control and exotic line-break characters, backslashes,
  anchors, aliases, tags, directives, complex keys and reserved indicators send it back;
- every key and string value that PyYAML would have resolved to something other than a string
  (`yes`, `~`, `0x1F`, a timestamp key ...) sends it back, since JSON no longer says whether it
  was quoted; only forms rapidyaml itself emits bare when plain (JSON numbers, `true`, `false`,
  `null`, empty) are known to have been quoted;
- numbers are accepted only in the forms PyYAML reads as the same number;
- duplicate keys, non-mapping roots, several documents and very large documents send it back so
  that the careful path can report them with positions.

Positions are not computed here: the caller keeps the text and builds the source map only when a
diagnostic or a start-up error asks for one.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
from types import FrameType
from typing import Any

import yaml.resolver

MIN_BYTES = 64 * 1024
"""Below this the careful path is quick, and importing rapidyaml (~11 ms) would not pay back."""

# Screens, each scanned over "\n" + text + "\n" so that a line start is always "\n"; one
# alternation of them all took three times as long (a regex tries every branch at every
# position). `[ ]*+` is possessive: no branch after it starts with a space, so giving spaces
# back could never match, and not trying saves half the time.
_BAD_CHAR = re.compile(
    r"[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)
_PRINTABLE_ASCII = bytes(range(0x20, 0x7F)) + b"\n"
_ESCAPE = re.compile(r'\\(?![\\"nt])')  # escapes beyond these differ between YAML 1.1 and 1.2
_SCREENS = (
    re.compile(r"\n(?:%|(?:---|\.\.\.)[ ]*+[^\s#])"),  # directives, content on a marker line
    # at the start of a block node: anchors, aliases, tags, reserved indicators, flow closers
    # (rapidyaml takes them as a plain scalar), complex keys, text after a block scalar header
    re.compile(
        r"[:?\-\n][ ]*+(?:[&*!@`\]},%]|\?(?=[ \n])|[|>](?![-+1-9]{0,2}[ ]*+(?:#[^\n]*)?\n))"
    ),
    re.compile(r"[\[{,][ ]*+(?:[&*!@`]|\?(?=[ \n]))"),  # the same inside flow collections
)


def _screened_out(text: str, raw: bytes) -> bool:
    """Whether `text` (`raw` is its UTF-8) holds anything this path cannot vouch for."""
    if len(raw) == len(text):  # ASCII: deleting what is allowed must leave nothing
        if raw.translate(None, _PRINTABLE_ASCII):
            return True
    elif _BAD_CHAR.search(text):
        return True
    if "\\" in text and _ESCAPE.search(text):
        return True
    framed = f"\n{text}\n"
    return any(screen.search(framed) for screen in _SCREENS)


def _document_marks(text: str) -> int:
    """Lines starting `---` or `...` (str.count: a tenth of a multi-line regex's time)."""
    starts = text.startswith(("---", "..."))
    return starts + text.count("\n---") + text.count("\n...")


_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
_YAML_FLOAT = re.compile(r"[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?")
_BARE_WORDS = frozenset(("", "true", "false", "null"))
_MAX_KEY = 1000  # PyYAML refuses implicit keys over 1024 characters; rapidyaml does not


class _Disagree(Exception):
    """PyYAML could read this document differently; take the careful path."""


_RESOLVERS: dict[str, list[tuple[str, re.Pattern[str]]]] = (
    yaml.resolver.Resolver.yaml_implicit_resolvers
)
_VALUE_TAGS = frozenset(f"tag:yaml.org,2002:{name}" for name in ("int", "float", "bool", "null"))


_GOOD_KEYS: set[str] = set()  # keys repeat across a document; bounded below


def _key_is_plain_string(key: str) -> bool:
    """No implicit resolver claims it (the empty key is PyYAML's null); remembered when true."""
    for _tag, pattern in _RESOLVERS.get(key[:1], ()):
        if pattern.match(key):
            return False
    if len(_GOOD_KEYS) < 4096:
        _GOOD_KEYS.add(key)
    return True


_NUMBER_START = frozenset("-0123456789")


def _value_is_string(value: str) -> bool:
    first = value[:1]
    resolvers = _RESOLVERS.get(first)
    if resolvers is None:  # most strings: no implicit type starts with their first character
        return True
    if value in _BARE_WORDS or (first in _NUMBER_START and _JSON_NUMBER.fullmatch(value)):
        return True  # rapidyaml emits these bare when plain, so a JSON string was quoted
    for tag, pattern in resolvers:
        if tag in _VALUE_TAGS and pattern.match(value):
            return False
    return True


def _check(value: Any) -> None:
    """A string PyYAML might have read as something else, anywhere in a list, disagrees."""
    kind = type(value)
    if kind is str:
        if not _value_is_string(value):
            raise _Disagree
    elif kind is list:
        for item in value:
            _check(item)


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _Disagree  # duplicate key: the careful path reports where
    good_keys, resolvers = _GOOD_KEYS, _RESOLVERS
    for key, value in pairs:
        if key not in good_keys and (len(key) > _MAX_KEY or not _key_is_plain_string(key)):
            raise _Disagree
        kind = type(value)  # nested objects were checked when they were decoded
        if kind is str:
            if value[:1] in resolvers and not _value_is_string(value):
                raise _Disagree
        elif kind is list:
            _check(value)
    return result


def _float(literal: str) -> float:
    if not _YAML_FLOAT.fullmatch(literal):
        raise _Disagree  # `1e3` is a string to PyYAML
    return float(literal)


def _constant(literal: str) -> Any:
    raise _Disagree


def _ryml() -> Any:
    """rapidyaml, imported on first use so that small specs never pay for it; None without it."""
    try:
        import ryml
    except ImportError:  # pragma: no cover - the careful path serves alone without the wheel
        return None
    return ryml


def available() -> bool:
    return _ryml() is not None


def _quiet_json(raw: bytes, max_nodes: int) -> str | None:
    """rapidyaml's parse and emit as JSON, with its error prints (on fd 2) silenced."""
    ryml = _ryml()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as sink:
            os.dup2(sink.fileno(), 2)
        try:
            tree = ryml.parse_in_arena(raw)
            root = tree.root_id()
            if tree.is_stream(root):  # `---` opens the document
                if tree.num_children(root) != 1:
                    return None
                root = tree.first_child(root)
            if tree.size() > max_nodes or not tree.is_map(root):
                return None
            emitted: str = ryml.emit_json(tree, root)
            return emitted
        except Exception:  # noqa: BLE001 - any failure is reported by the careful path
            return None
        finally:
            os.dup2(saved, 2)
    finally:
        os.close(saved)


def _depth() -> int:
    frame: FrameType | None = sys._getframe()
    depth = 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1
    return depth


def fast_load(
    text: str, max_nodes: int, *, force: bool = False, max_depth: int = 100
) -> dict[str, Any] | None:
    """The document's data when the fast path can vouch for it, else `None`.

    Only one thread may run: silencing rapidyaml's error print swaps the process's stderr, which
    another thread could be writing to (a reload runs on a worker thread and goes the careful
    way). `force` is for tests.
    """
    if not (force or threading.active_count() == 1) or not available():
        return None
    if "\r" in text:
        if "\r" in text.replace("\r\n", ""):
            return None  # a lone CR is a line break to PyYAML
        text = text.replace("\r\n", "\n")
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: not a character YAML allows
        return None
    if _screened_out(text, raw) or _document_marks(text) > 1:
        return None
    emitted = _quiet_json(raw, max_nodes)
    if emitted is None:
        return None
    # the decoder nests one recursion level per level of data: a limit just above this
    # frame's depth refuses what nests past max_depth (the careful path then reports it)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(_depth() + max_depth)
    try:
        data = json.loads(
            emitted,
            object_pairs_hook=_object,
            parse_float=_float,
            parse_constant=_constant,
        )
    except (_Disagree, ValueError, RecursionError):
        return None
    finally:
        sys.setrecursionlimit(limit)
    return data if isinstance(data, dict) else None
