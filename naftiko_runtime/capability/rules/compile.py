"""What `serve` reads from disk at start-up, checked by plain `validate` (no network, no
secrets): script files, and the schemas avro and protobuf decode with. Each finding points
at the node naming the file.

Rule ids:
  script-file      a script step's location is a folder, and its file and dependencies are
                   readable UTF-8 inside it
  script-language  (also) the language is one the control adapter's `allowedLanguages` lists
  output-schema    (also) an avro/protobuf `outputSchema` loads
  extra-missing    what the spec uses has its optional dependencies installed here (a script
                   language, an output format, digest auth, a forward that passes bodies,
                   configured tracing); the diagnostic names the extra to install
The rows listed here are `extra-missing` and `compile` (`validate --compile`: the engine
compiles every operation, in the CLI); `script-file` is listed with `graph`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from naftiko_runtime.capability.build import schema_file, script_directory
from naftiko_runtime.capability.rules.rule import ERR, ours
from naftiko_runtime.capability.source import DataPath, SourceDocument, as_dict, as_list
from naftiko_runtime.capability.walk import Walk
from naftiko_runtime.diagnostics import Diagnostic
from naftiko_runtime.extras import EXTRAS, install_hint, missing_extra

RULES = (
    ours(
        "extra-missing",
        ERR,
        "what the spec uses is installed: script languages, output formats, digest auth, "
        "forwarded bodies and configured tracing need their extra",
        "Install the extra the message names (`pip install 'naftiko-runtime[all]'` brings "
        "every one).",
    ),
    ours(
        "compile",
        ERR,
        "`validate --compile`: every operation and tool compiles for serving (what needs "
        "no network or secret is checked without it)",
        "The message says what cannot be built; fix it there.",
    ),
)


def check_files(doc: SourceDocument, walk: Walk) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    allowed = _allowed_languages(walk)
    for node in walk.steps:
        if node.data.get("type") == "script":
            found.extend(_script(doc, node.pointer, node.data, allowed))
    for node in walk.consumed_resources:
        for o, op in enumerate(as_list(node.data.get("operations"))):
            found.extend(_schema(doc, (*node.pointer, "operations", o), as_dict(op)))
    found.extend(_extras(doc, walk))
    return found


_BODY_METHODS = ("POST", "PUT", "PATCH")


def _extras(doc: SourceDocument, walk: Walk) -> Iterator[Diagnostic]:
    """`extra-missing`: each node that needs an optional part of the install this machine
    lacks, with the extra that brings it."""
    for where, feature, what in _needs(walk):
        extra = missing_extra(feature)
        if extra is not None:
            yield doc.diag(
                where,
                "extra-missing",
                f"{what} needs the '{extra}' extra ({EXTRAS[extra]}), which is not installed",
                hint=f"{install_hint(extra)} (or 'naftiko-runtime[all]')",
                key=where[-1] in ("forward", "traces", "exporters"),  # a block: at its key
            )


def _needs(walk: Walk) -> Iterator[tuple[DataPath, str, str]]:
    """(where, feature, what) for each use of an optional feature."""
    default_language = None
    for node in walk.exposes:
        if node.data.get("type") == "control":
            scripting = as_dict(as_dict(node.data.get("management")).get("scripting"))
            default_language = scripting.get("defaultLanguage")
            yield from _tracing_needs(node.pointer, as_dict(node.data.get("observability")))
            break
    for node in walk.steps:
        if node.data.get("type") != "script":
            continue
        language = node.data.get("language") or default_language
        language = "javascript" if language == "js" else language
        if language in ("javascript", "python"):
            where = (*node.pointer, "language") if "language" in node.data else node.pointer
            yield where, language, f"a {language} script step"
    for node in walk.consumed_resources:
        for o, op in enumerate(as_list(node.data.get("operations"))):
            op = as_dict(op)
            fmt = str(op.get("outputRawFormat", "json")).lower()
            where = (*node.pointer, "operations", o, "outputRawFormat")
            if fmt in ("xml", "html", "markdown", "avro", "protobuf"):
                yield where, fmt, f"outputRawFormat {fmt}"
            schema = op.get("outputSchema")
            if fmt == "protobuf" and isinstance(schema, str) and schema.endswith(".proto"):
                yield (*where[:-1], "outputSchema"), "proto-source", "a .proto outputSchema"
    for node in walk.consumes:
        auth = as_dict(node.data.get("authentication"))
        if auth.get("type") == "digest":
            where = (*node.pointer, "authentication", "type")
            yield where, "aiohttp", "digest authentication (a challenge round trip)"
    for node in walk.rest_resources:
        forward = node.data.get("forward")
        if not isinstance(forward, dict):
            continue
        methods = forward.get("methods")
        listed = [str(m).upper() for m in methods] if isinstance(methods, list) else None
        if listed is None or any(m in _BODY_METHODS for m in listed):
            yield (
                (*node.pointer, "forward"),
                "aiohttp",
                "a forward that passes request bodies (POST, PUT, PATCH; `methods: [GET]` "
                "needs none)",
            )


def _tracing_needs(
    pointer: DataPath, observability: dict[str, Any]
) -> Iterator[tuple[DataPath, str, str]]:
    """Tracing the spec configures (traces or an exporter); the default is only a warning
    at start-up (see runtime)."""
    if observability.get("enabled", True) is False:
        return
    for key in ("traces", "exporters"):
        if key in observability:
            yield (*pointer, "observability", key), "tracing", f"observability.{key}"
            break
    traces = as_dict(observability.get("traces"))
    if traces.get("propagation") == "b3":
        where = (*pointer, "observability", "traces", "propagation")
        yield where, "b3", "b3 trace propagation"


def _allowed_languages(walk: Walk) -> tuple[str, ...] | None:
    """The first control adapter's `management.scripting.allowedLanguages` (as serve reads)."""
    for node in walk.exposes:
        if node.data.get("type") == "control":
            scripting = as_dict(as_dict(node.data.get("management")).get("scripting"))
            languages = scripting.get("allowedLanguages")
            return tuple(str(v) for v in languages) if isinstance(languages, list) else None
    return None


def _script(
    doc: SourceDocument, pointer: DataPath, step: dict[str, Any], allowed: tuple[str, ...] | None
) -> Iterator[Diagnostic]:
    from naftiko_runtime.engine.scripting.base import ScriptError, safe_file

    language = step.get("language")
    if allowed and isinstance(language, str) and language not in allowed:
        yield doc.diag(
            (*pointer, "language"),
            "script-language",
            f"script language {language!r} is not in the control adapter's allowedLanguages "
            f"({', '.join(allowed)}): serve refuses to start",
            hint="add it to management.scripting.allowedLanguages, or rewrite the script",
        )
    location, file = step.get("location"), step.get("file")
    if not isinstance(location, str) or not isinstance(file, str):
        return  # the default location is the control port's to change at run time
    directory = Path(script_directory(location, doc.path))
    if not _is_dir(directory):
        yield doc.diag(
            (*pointer, "location"),
            "script-file",
            f"script location {location!r} is not a folder on this machine: serve refuses to start",
            hint="`file:///./scripts` is a folder beside the spec",
        )
        return
    name = str(step.get("name"))
    wanted: list[tuple[DataPath, Any]] = [
        ((*pointer, "dependencies", d), dependency)
        for d, dependency in enumerate(as_list(step.get("dependencies")))
    ]
    wanted.append(((*pointer, "file"), file))
    for where, relative in wanted:
        if not isinstance(relative, str):
            continue
        try:
            safe_file(directory, relative, name).read_bytes().decode("utf-8")
        except ScriptError as exc:
            problem = exc.message.partition(": ")[2] or exc.message
            yield doc.diag(where, "script-file", f"{problem}: serve refuses to start")
        except OSError as exc:
            yield doc.diag(
                where,
                "script-file",
                f"script file {relative!r} cannot be read in {location!r}: {exc.strerror or exc}",
                hint=f"create {relative} in that folder, or fix the name",
            )
        except UnicodeDecodeError:
            yield doc.diag(where, "script-file", f"script file {relative!r} is not UTF-8")


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except (OSError, ValueError):  # a NUL byte, a name too long
        return False


def _schema(doc: SourceDocument, pointer: DataPath, op: dict[str, Any]) -> Iterator[Diagnostic]:
    from naftiko_runtime.engine.formats import load_schema

    fmt = str(op.get("outputRawFormat", "json")).lower()
    value = op.get("outputSchema")
    if fmt not in ("avro", "protobuf") or not isinstance(value, str) or not value.strip():
        return
    if missing_extra(fmt) or (value.endswith(".proto") and missing_extra("proto-source")):
        return  # `extra-missing` names what to install; loading would only say ImportError
    try:
        load_schema(fmt, schema_file(value, doc.path))
    except Exception as exc:  # noqa: BLE001 - any failure to load is the finding
        yield doc.diag(
            (*pointer, "outputSchema"),
            "output-schema",
            f"outputSchema {value!r} cannot be loaded: {_shown(exc, doc)}",
        )


def _shown(exc: Exception, doc: SourceDocument) -> str:
    """The loader's reason with this machine's folder of the spec left out."""
    return (
        str(exc)
        .replace(str(doc.path.parent.resolve()) + "/", "")
        .replace(str(doc.path.parent) + "/", "")
    )
