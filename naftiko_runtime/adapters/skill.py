"""The skill adapter: a catalogue of agent skills, as the reference serves it.

`GET /skills` lists them; `/skills/{name}` gives a skill's details and tools (a derived tool
points at the sibling MCP tool or REST operation that runs it); `/skills/{name}/contents`
lists the files of its `location`, `/contents/{path}` serves one, `/download` zips them all.
No path may leave the skill's folder: plain segments only, links resolved and checked. Only
regular files are served, each at most `max_file_bytes` (413 past it), and a download only
when they add up to no more than that; the disk is only touched on worker threads, a file
streamed and a zip built in a spooled temporary file, so neither stalls nor bloats the server.
"""

from __future__ import annotations

import mimetypes
import os
import re
import tempfile
import zipfile
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote

import anyio.to_thread
import orjson

from naftiko_runtime.adapters.asgi import (
    Receive,
    Scope,
    Send,
    http_only,
    respond,
    respond_json,
)
from naftiko_runtime.adapters.auth.base import Guard
from naftiko_runtime.adapters.auth.middleware import guarded
from naftiko_runtime.adapters.errors import Problem, problem
from naftiko_runtime.adapters.files import (
    CHUNK_BYTES,
    MAX_FILE_BYTES,
    Unservable,
    chunks,
    open_regular,
    over_cap,
    regular_files,
)
from naftiko_runtime.model import Skill, SkillAdapter

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
    try:
        base = root.resolve()
        target = (base / text).resolve()
    except (OSError, RuntimeError):  # a link loop is a RuntimeError before Python 3.13
        raise Unservable("symbolic link loop") from None
    if base != target and base not in target.parents:
        raise PathRefused(f"{text!r} leaves the skill's folder")
    return target


def _folder(skill: Skill) -> Path | None:
    location = skill.location
    return Path(location) if location is not None and Path(location).is_dir() else None


def _listing(root: Path) -> list[dict[str, Any]]:
    return [
        {"path": p.relative_to(root).as_posix(), "size": size, "type": media_type(p.name)}
        for p, size in regular_files(root)
    ]


def _open_file(root: Path, relative: str, cap: int) -> tuple[int, int, str]:
    """A descriptor on the file `relative` names, its size and media type."""
    target = inside(root, relative)
    fd, size = open_regular(target, cap)
    return fd, size, media_type(target.name)


def _zip(root: Path, cap: int) -> IO[bytes]:
    """The folder's files zipped into a spooled temporary file (in memory while small), or
    Unservable when they add up to more than `cap` bytes."""
    entries = regular_files(root)
    total = sum(size for _, size in entries)
    if total > cap:
        raise over_cap(total, cap)
    spool = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)
    try:
        with zipfile.ZipFile(spool, "w", zipfile.ZIP_DEFLATED) as archive:
            added = 0  # files may have grown since they were listed: the cap still holds
            for path, _ in entries:
                added += _add(archive, path, path.relative_to(root).as_posix(), cap, added)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool


def _add(archive: zipfile.ZipFile, path: Path, name: str, cap: int, added: int) -> int:
    """One file into the archive (after `added` bytes of others), read through
    `open_regular`: one swapped for a FIFO since it was listed is skipped, not waited on."""
    try:
        fd, size = open_regular(path, cap)
    except Unservable as exc:
        if exc.size is not None:
            raise over_cap(added + exc.size, cap) from None
        return 0
    try:
        if added + size > cap:
            raise over_cap(added + size, cap)
        info = zipfile.ZipInfo.from_file(path, name)
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w") as entry:
            for chunk in chunks(fd, size):
                entry.write(chunk)
    finally:
        os.close(fd)
    return size


async def _stream(send: Send, read: Any, size: int, kind: str) -> None:
    """A 200 of `size` bytes, each chunk from `read()` on a worker thread."""
    headers = [(b"content-type", kind.encode()), (b"content-length", str(size).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    while chunk := await anyio.to_thread.run_sync(read):
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


class SkillApp:
    """One skill adapter's ASGI app: its catalogue behind its guard."""

    openapi = None

    def __init__(
        self,
        adapter: SkillAdapter,
        guard: Guard | None = None,
        max_file_bytes: int = MAX_FILE_BYTES,
    ) -> None:
        self.adapter = adapter
        self.guard = guard
        catalogue = Catalogue(adapter, max_file_bytes)
        self.skills = catalogue.skills
        # the catalogue apart from this app: no cycle, so a reload frees it without a collection
        self._app = http_only(guarded(catalogue, guard))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


class Catalogue:
    """What a skill adapter serves: its skills, their details and their files."""

    def __init__(self, adapter: SkillAdapter, max_file_bytes: int) -> None:
        self.max_file_bytes = max_file_bytes  # `--max-file-size`
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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1").split("?")[0]
        match = _ROUTE.match(raw)
        if match is None:
            await respond(send, *_not_found(f"no route for {raw}"))
            return
        if scope["method"] not in ("GET", "HEAD"):
            await respond(send, *problem(405, "method_not_allowed", "GET only"))
            return
        name, rest, file = match.group("name"), match.group("rest"), match.group("file")
        if name is None:
            await respond(send, 200, self.catalog)
            return
        skill = self.skills.get(unquote(name))
        if skill is None:
            await respond(send, *_not_found(f"Skill not found: {unquote(name)}"))
            return
        if rest is None:
            await respond(send, 200, self.detail(skill))
            return
        root = await anyio.to_thread.run_sync(_folder, skill)
        if root is None:
            await respond(send, *_not_found(f"No location configured for skill: {skill.name}"))
            return
        if rest == "download":
            await self._download(send, skill, root)
        elif not file or file == "/":
            listing = await anyio.to_thread.run_sync(_listing, root)
            await respond_json(send, 200, {"name": skill.name, "files": listing})
        else:
            await self._file(send, root, file[1:])

    async def _download(self, send: Send, skill: Skill, root: Path) -> None:
        try:
            spool = await anyio.to_thread.run_sync(_zip, root, self.max_file_bytes)
        except Unservable as exc:
            message = f"skill {skill.name!r} cannot be downloaded: its files add up to"
            await respond(send, *_too_large(f"{message} {exc.reason}"))
            return
        try:
            size = spool.seek(0, os.SEEK_END)
            spool.seek(0)
            await _stream(send, lambda: spool.read(CHUNK_BYTES), size, "application/zip")
        finally:
            spool.close()

    async def _file(self, send: Send, root: Path, relative: str) -> None:
        """One file, streamed; every refusal names the file as the client did."""
        name = unquote(relative)
        try:
            fd, size, kind = await anyio.to_thread.run_sync(
                _open_file, root, relative, self.max_file_bytes
            )
        except PathRefused as exc:
            await respond(send, *problem(400, "invalid_request", str(exc)))
            return
        except Unservable as exc:
            if exc.too_large:
                await respond(send, *_too_large(f"file {name!r} is {exc.reason}"))
            elif exc.missing:
                await respond(send, *_not_found(f"File not found: {name}"))
            else:
                await respond(send, *_not_found(f"File not served: {name}: {exc.reason}"))
            return
        try:
            pieces = chunks(fd, size)
            await _stream(send, lambda: next(pieces, b""), size, kind)
        finally:
            os.close(fd)


def _not_found(message: str) -> Problem:
    return problem(404, "not_found", message)


def _too_large(message: str) -> Problem:
    return problem(413, "file_too_large", f"{message} (--max-file-size)")
