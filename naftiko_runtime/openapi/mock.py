"""The upstreams `check --exercise` talks to: a mock of each OpenAPI document (Prism where it
is installed, else a built-in one answering from the document's examples and schemas),
behind one recording proxy on loopback, so every request the gateway sends and every answer
it gets can be held against the document afterwards.

Everything here is bounded: Prism gets a deadline to start and is stopped by its process
id (its whole process group, which it leads), the proxy's socket is closed on exit, and
each forwarded exchange has a timeout and a size limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from naftiko_runtime.openapi.documents import (
    OpenApiDocument,
    OpenApiError,
    Operation,
    as_dict,
    as_list,
)
from naftiko_runtime.openapi.samples import NoSample, media_sample, sample

MAX_EXCHANGE_BYTES = 16 * 1024 * 1024  # a request or answer larger than this is refused
PRISM_START_SECONDS = 30.0  # longest wait for a Prism to listen (the budget may cut it)
_HOP = {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}
_ROUTE = re.compile(r"^/d(\d+)(/.*)?$")


@dataclass
class Exchange:
    """One request the gateway sent (path as the upstream sees it) and what came back."""

    document: int
    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes
    status: int = 0
    content_type: str = ""
    reply: bytes = b""
    failure: str | None = None  # the mock could not be asked
    unanswerable: bool = False  # the document declares no success answer for it

    def reply_json(self) -> Any:
        """The answer as JSON, or None when it is not."""
        if "json" not in self.content_type:
            return None
        try:
            return json.loads(self.reply)
        except ValueError:
            return None


def plain_parameters(data: dict[str, Any]) -> dict[str, Any]:
    """The document with each parameter schema `anyOf: [X, {type: null}]` (an optional
    value, as FastAPI writes `list[str] | None`) read as X: openapi-core picks a parameter's
    style from its schema's own `type`, and so does Prism: both would read such an array, sent
    as one `name=value`, as a string and refuse it."""
    paths = data.get("paths")
    if not isinstance(paths, dict):
        return data

    def plain(parameter: Any) -> Any:
        schema = parameter.get("schema") if isinstance(parameter, dict) else None
        if not isinstance(schema, dict) or "type" in schema:
            return parameter
        for key in ("anyOf", "oneOf"):
            parts = schema.get(key)
            if isinstance(parts, list):
                kept = [p for p in parts if not (isinstance(p, dict) and p.get("type") == "null")]
                if len(kept) == 1 and len(parts) == 2 and isinstance(kept[0], dict):
                    rest = {k: v for k, v in schema.items() if k != key}
                    return {**parameter, "schema": {**rest, **kept[0]}}
        return parameter

    def item(node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        out = {
            k: (
                dict(v, parameters=[plain(p) for p in v.get("parameters") or []])
                if isinstance(v, dict) and "parameters" in v
                else v
            )
            for k, v in node.items()
        }
        if "parameters" in node:
            out["parameters"] = [plain(p) for p in node.get("parameters") or []]
        return out

    copied = dict(data, paths={path: item(node) for path, node in paths.items()})
    components = data.get("components")
    if isinstance(components, dict) and isinstance(components.get("parameters"), dict):
        copied["components"] = dict(
            components, parameters={k: plain(v) for k, v in components["parameters"].items()}
        )
    return copied


def self_contained(data: Any) -> bool:
    """Whether every `$ref` points inside the document (a copy elsewhere still resolves)."""
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and not ref.startswith("#"):
                return False
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return True


def find_prism(explicit: str | None, environ: Mapping[str, str]) -> str | None:
    """Prism's executable: `--prism`, `$NAFTIKO_PRISM`, `prism` on PATH, else
    `node_modules/.bin/prism` in the working folder or one above it."""
    for candidate in (explicit, environ.get("NAFTIKO_PRISM")):
        if candidate:
            return candidate if Path(candidate).is_file() else None  # named, so nothing else
    on_path = shutil.which("prism")
    if on_path:
        return on_path
    here = Path.cwd()
    for folder in (here, *here.parents):
        local = folder / "node_modules" / ".bin" / "prism"
        if local.is_file():
            return str(local)
    return None


class Prism:
    """One `prism mock` of one document, on a loopback port, in a process group of its own."""

    def __init__(self, executable: str, document: Path) -> None:
        self.executable = executable
        self.document = document
        self.process: subprocess.Popen[bytes] | None = None
        self.failure: str | None = None
        self.port = 0
        self.log = tempfile.TemporaryFile()

    def start(self) -> None:
        with socket.socket() as probe:  # a free port, handed to Prism
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        try:
            self.process = subprocess.Popen(
                [self.executable, "mock", "-h", "127.0.0.1", "-p", str(self.port)]
                + [str(self.document)],
                stdin=subprocess.DEVNULL,
                stdout=self.log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # it leads its group: stopping it stops its children
            )
        except OSError as exc:  # not executable, no node: `ready` says so
            self.failure = f"cannot start: {exc.strerror or exc}"

    async def ready(self, deadline: float) -> str:
        """Its base URL once it listens; raises OSError when it died or the deadline came."""
        if self.process is None:
            raise OSError(self.failure or "not started")
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
                return f"http://127.0.0.1:{self.port}"
            except OSError:
                if self.process.poll() is not None:
                    raise OSError(f"Prism exited: {self.tail()}") from None
                if time.monotonic() > deadline:
                    raise OSError("Prism did not listen in time") from None
                await asyncio.sleep(0.1)

    def tail(self) -> str:
        self.log.seek(0)
        text = self.log.read().decode(errors="replace")
        return " ".join(text.split()[-40:])

    def stop(self) -> None:
        """Stop it by its process id (its group), then wait for it."""
        process = self.process
        self.log.close()
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def _template(path: str) -> re.Pattern[str]:
    """`/jobs/{id}` as a whole-path pattern (a trailing slash counts, as upstreams route)."""
    parts = re.split(r"(\{[^}/]*\})", path)
    return re.compile(
        "^" + "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts) + "$"
    )


def find_operation(document: OpenApiDocument, method: str, path: str) -> Operation | None | str:
    """The operation serving `method path`; else "405" when the path has other methods."""
    base = document.base_path()
    other = None
    for operation in document.operations():
        if _template(base + operation.path).match(path) or _template(operation.path).match(path):
            if operation.method == method:
                return operation
            other = "405"
    return other


def _successes(operation: Operation) -> list[str]:
    """The success codes an operation declares (`default` counts: it may be one)."""
    responses = as_dict(operation.data.get("responses"))
    return sorted(str(c) for c in responses if str(c)[:1] == "2" or str(c) == "default")


def builtin_reply(document: OpenApiDocument, method: str, path: str) -> tuple[int, str, bytes]:
    """The built-in mock: the operation's first success answer, from its example, else made
    from its schema; 404 and 405 as JSON for what the document does not have."""
    found = find_operation(document, method, path)
    if not isinstance(found, Operation):
        status = 405 if found == "405" else 404
        return status, "application/json", json.dumps({"error": "not in the document"}).encode()
    codes = _successes(found)
    if not codes:
        return 204, "", b""
    by_code = {str(k): v for k, v in as_dict(found.data.get("responses")).items()}  # `200:`
    code = codes[0]
    status = int(code) if code.isdigit() else 200
    try:
        response = document.deref(by_code.get(code))
        return (status, *_body_of(document, as_dict(response), found))
    except (NoSample, OpenApiError):
        return status, "", b""


def _body_of(
    document: OpenApiDocument, response: dict[str, Any], operation: Operation
) -> tuple[str, bytes]:
    if document.version == "2.0":
        produces = as_list(operation.data.get("produces")) or as_list(document.data.get("produces"))
        media_type = next((str(m) for m in produces if "json" in str(m)), "application/json")
        examples = as_dict(response.get("examples"))
        if media_type in examples:
            return media_type, json.dumps(examples[media_type]).encode()
        if "schema" not in response:
            return "", b""
        return media_type, json.dumps(sample(response["schema"], document, every=True)).encode()
    content = as_dict(response.get("content"))
    if not content:
        return "", b""
    media_type = next((str(m) for m in content if "json" in str(m)), str(next(iter(content))))
    media = as_dict(document.deref(content[media_type]))
    value = media_sample(media, document, every=True)
    if "json" in media_type:
        return media_type, json.dumps(value).encode()
    return media_type, (value if isinstance(value, str) else json.dumps(value)).encode()


@dataclass
class Upstreams:
    """The recording proxy: `/d{i}/...` goes to document i's mock (Prism's URL, or None for
    the built-in mock). Every exchange is kept in `exchanges`, in order."""

    documents: Sequence[OpenApiDocument]
    mocks: list[str | None]
    timeout: float
    exchanges: list[Exchange] = field(default_factory=list)
    base: str = ""
    _runner: Any = None
    _session: Any = None

    async def start(self) -> str:
        from aiohttp import ClientSession, web

        app = web.Application(client_max_size=MAX_EXCHANGE_BYTES)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        site = web.SockSite(self._runner, sock)
        await site.start()
        self._session = ClientSession(auto_decompress=True)
        self.base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        return self.base

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: Any) -> Any:
        from aiohttp import web

        route = _ROUTE.match(request.rel_url.raw_path)
        if route is None or int(route.group(1)) >= len(self.documents):
            return web.json_response({"error": "no such upstream"}, status=404)
        index = int(route.group(1))
        exchange = Exchange(
            index,
            request.method,
            route.group(2) or "/",
            request.rel_url.raw_query_string,
            [(k, v) for k, v in request.headers.items()],
            await request.read(),
        )
        self.exchanges.append(exchange)
        document = self.documents[index]
        try:
            found = find_operation(document, exchange.method, exchange.path)
            exchange.unanswerable = isinstance(found, Operation) and not _successes(found)
            if self.mocks[index] is None:
                answer = builtin_reply(document, exchange.method, exchange.path)
                exchange.status, exchange.content_type, exchange.reply = answer
        except Exception:  # noqa: BLE001 - a document too broken to answer from
            exchange.unanswerable = True  # nothing it answers can be judged
            exchange.status, exchange.content_type = 500, "application/json"
            exchange.reply = b'{"error": "the document cannot be answered from"}'
        mock = self.mocks[index]
        if mock is not None:
            await self._forward(mock, exchange)
        headers = {"Content-Type": exchange.content_type} if exchange.content_type else {}
        return web.Response(status=exchange.status, body=exchange.reply, headers=headers)

    async def _forward(self, mock: str, exchange: Exchange) -> None:
        from aiohttp import ClientError, ClientTimeout

        base = self.documents[exchange.document].base_path()
        path = exchange.path  # Prism routes paths without the servers' base path
        if base and (path == base or path.startswith(base + "/")):
            path = path[len(base) :] or "/"
        url = mock + path + (f"?{exchange.query}" if exchange.query else "")
        headers = [(k, v) for k, v in exchange.headers if k.lower() not in _HOP]
        try:
            async with self._session.request(
                exchange.method,
                url,
                headers=headers,
                data=exchange.body or None,
                allow_redirects=False,
                timeout=ClientTimeout(total=self.timeout),
            ) as answer:
                chunks, size = [], 0
                async for chunk in answer.content.iter_chunked(65536):
                    size += len(chunk)
                    if size > MAX_EXCHANGE_BYTES:
                        raise ClientError("the mock's answer is too large")
                    chunks.append(chunk)
                exchange.status = answer.status
                exchange.content_type = answer.headers.get("Content-Type", "")
                exchange.reply = b"".join(chunks)
        except (ClientError, TimeoutError) as exc:
            exchange.failure = f"the mock did not answer ({type(exc).__name__})"
            exchange.status, exchange.content_type = 502, "application/json"
            exchange.reply = json.dumps({"error": exchange.failure}).encode()
