"""What `serve` reads from disk at start-up, checked by plain `validate` (no network, no
secrets): script files, and the schemas avro and protobuf decode with. Each finding points
at the node naming the file.

Rule ids:
  script-file      a script step's location is a folder, and its file and dependencies are
                   readable UTF-8 inside it
  script-language  (also) the language is one the control adapter's `allowedLanguages` lists
  output-schema    (also) an avro/protobuf `outputSchema` loads
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from naftiko_runtime.diagnostics import Diagnostic
from naftiko_runtime.spec.model import schema_file, script_directory
from naftiko_runtime.spec.source import DataPath, SourceDocument, as_dict, as_list
from naftiko_runtime.spec.walk import Walk


def check_files(doc: SourceDocument, walk: Walk) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    allowed = _allowed_languages(walk)
    for node in walk.steps:
        if node.data.get("type") == "script":
            found.extend(_script(doc, node.pointer, node.data, allowed))
    for node in walk.consumed_resources:
        for o, op in enumerate(as_list(node.data.get("operations"))):
            found.extend(_schema(doc, (*node.pointer, "operations", o), as_dict(op)))
    return found


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
    from naftiko_runtime.engine.scripting import ScriptError, safe_file

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
