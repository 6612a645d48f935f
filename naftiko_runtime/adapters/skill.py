"""The skill adapter: a catalogue of agent skills, as the reference serves it.

`GET /skills` lists them; `/skills/{name}` gives a skill's details and tools (a derived tool
points at the sibling MCP tool or REST operation that runs it); `/skills/{name}/contents`
lists the files of its `location`, `/contents/{path}` serves one, `/download` zips them all.
No path may leave the skill's folder: plain segments only, links resolved and checked.
"""

from __future__ import annotations

import io
import mimetypes
import re
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import orjson

from naftiko_runtime.adapters.asgi import Send, admit, respond, respond_json
from naftiko_runtime.adapters.inbound_auth import Guard
from naftiko_runtime.spec.model import Skill, SkillAdapter

_SEGMENT = re.compile(r"^[A-Za-z0-9._-]+$")
_ROUTE = re.compile(
    r"^/skills(?:/(?P<name>[^/]+)(?:/(?P<rest>download|contents)(?P<file>/.*)?)?)?/?$"
)
_TYPES = {".md": "text/markdown", ".yaml": "application/yaml", ".yml": "application/yaml"}


def media_type(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return _TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


class PathRefused(ValueError):
    pass


def inside(root: Path, relative: str) -> Path:
    """`relative` (still URL-encoded) under `root`, or PathRefused."""
    text = unquote(relative)
    parts = text.split("/")
    if (
        not text
        or text.startswith("/")
        or any(not _SEGMENT.match(p) or p in (".", "..") for p in parts)
    ):
        raise PathRefused(f"invalid file path {text!r}")
    base = root.resolve()
    target = (base / text).resolve()
    if base != target and base not in target.parents:
        raise PathRefused(f"{text!r} leaves the skill's folder")
    return target


def _files(root: Path) -> list[Path]:
    base = root.resolve()
    found = []
    for path in sorted(root.rglob("*")):
        resolved = path.resolve()
        if resolved.is_file() and (base == resolved.parent or base in resolved.parents):
            found.append(path)  # links out of the folder are never listed
    return found


class SkillApp:
    """One skill adapter's ASGI app."""

    openapi = None

    def __init__(self, adapter: SkillAdapter, guard: Guard | None = None) -> None:
        self.adapter = adapter
        self.guard = guard
        self.skills = {skill.name: skill for skill in adapter.skills}
        self.modes = dict(adapter.modes)
        self.catalog = orjson.dumps(
            {
                "count": len(adapter.skills),
                "skills": [
                    {
                        "name": s.name,
                        "description": s.description,
                        **{k: v for k, v in s.fields if k == "license"},
                        "tools": [t.name for t in s.tools],
                    }
                    for s in adapter.skills
                ],
            }
        )

    def detail(self, skill: Skill) -> bytes:
        tools = []
        for tool in skill.tools:
            entry: dict[str, Any] = {"name": tool.name, "description": tool.description}
            if tool.source_namespace is not None:
                entry["type"] = "derived"
                entry["invocationRef"] = {
                    "targetNamespace": tool.source_namespace,
                    "action": tool.action,
                    "mode": self.modes.get(tool.source_namespace, "unknown"),
                }
            elif tool.instruction is not None:
                entry["type"] = "instruction"
                entry["instruction"] = tool.instruction
            tools.append(entry)
        fields = {k: v for k, v in skill.fields if k != "metadata" or v}
        return orjson.dumps(
            {"name": skill.name, "description": skill.description, **fields, "tools": tools}
        )

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Send) -> None:
        if not await admit(scope, receive, send, self.guard):
            return
        raw = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1").split("?")[0]
        match = _ROUTE.match(raw)
        if match is None:
            await respond_json(
                send, 404, {"error": {"type": "not_found", "message": f"no route for {raw}"}}
            )
            return
        if scope["method"] not in ("GET", "HEAD"):
            await respond_json(
                send, 405, {"error": {"type": "method_not_allowed", "message": "GET only"}}
            )
            return
        name, rest, file = match.group("name"), match.group("rest"), match.group("file")
        if name is None:
            await respond(send, 200, self.catalog, "application/json")
            return
        skill = self.skills.get(unquote(name))
        if skill is None:
            await respond_json(send, 404, _not_found(f"Skill not found: {unquote(name)}"))
            return
        if rest is None:
            await respond(send, 200, self.detail(skill), "application/json")
            return
        if skill.location is None or not Path(skill.location).is_dir():
            await respond_json(
                send, 404, _not_found(f"No location configured for skill: {skill.name}")
            )
            return
        root = Path(skill.location)
        if rest == "download":
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in _files(root):
                    archive.write(path, path.relative_to(root).as_posix())
            await respond(send, 200, buffer.getvalue(), "application/zip")
            return
        if not file or file == "/":
            listing = [
                {
                    "path": p.relative_to(root).as_posix(),
                    "size": p.stat().st_size,
                    "type": media_type(p.name),
                }
                for p in _files(root)
            ]
            await respond_json(send, 200, {"name": skill.name, "files": listing})
            return
        try:
            target = inside(root, file[1:])
        except PathRefused as exc:
            await respond_json(
                send, 400, {"error": {"type": "invalid_request", "message": str(exc)}}
            )
            return
        if not target.is_file():
            await respond_json(send, 404, _not_found(f"File not found: {unquote(file[1:])}"))
            return
        await respond(send, 200, target.read_bytes(), media_type(target.name))


def _not_found(message: str) -> dict[str, Any]:
    return {"error": {"type": "not_found", "message": message}}
