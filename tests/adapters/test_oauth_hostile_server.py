"""Inbound `oauth2` against a hostile authorization server run here over loopback: one that
drips its key set a byte every 2 s, publishes documents of the wrong shape or size, answers
introspection with errors, slowly, or about 300 made-up tokens at once. A request is answered
within the fetch deadline, the server is asked once for what many requests need at the same
moment, one token's error answer never refuses the other tokens, introspection calls are
bounded, and what the server cannot be used for is a JSON 503, never a 500 or a traceback."""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.fixtures.ports import free_port
from tests.fixtures.process import ServeProcess, serve
from tests.fixtures.upstream import RecordingUpstream, running

pytestmark = pytest.mark.e2e

DEADLINE = 5.0  # the runtime's documented FETCH_DEADLINE
BACKOFF = 5.0  # and FAILURE_BACKOFF
CAP = 1 << 20  # and MAX_DOCUMENT
BUSY = "too many access tokens are being checked at once; retry shortly"
Handler = Callable[[asyncio.StreamWriter, bytes], Awaitable[None]]
Misbehaviour = Callable[[str, str], dict[str, Handler]]  # (issuer, resource) -> handlers
PRIVATE = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PUBLIC: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(PRIVATE.public_key()))
PUBLIC.update(kid="k1", use="sig", alg="RS256")
KEYS = json.dumps({"keys": [PUBLIC]}).encode()


def head(status: str, length: int | None, *extra: str) -> bytes:
    lines = [f"HTTP/1.1 {status}", "Content-Type: application/json", "Connection: close"]
    lines += [f"Content-Length: {length}"] if length is not None else []
    return ("\r\n".join([*lines, *extra]) + "\r\n\r\n").encode()


def send(body: bytes, status: str = "200 OK", *extra: str) -> Handler:
    async def answer(writer: asyncio.StreamWriter, request: bytes) -> None:
        writer.write(head(status, len(body), *extra) + body)
        await writer.drain()

    return answer


def document(value: Any) -> Handler:
    return send(json.dumps(value).encode())


class HostileServer:
    """An authorization server per tenant (the issuer's last path segment): its metadata,
    `jwks` and `introspect` answered by handlers the test sets and swaps; it counts every
    request by path, every introspection by token, and the introspections in flight."""

    def __init__(self) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.routes: dict[str, Handler] = {}
        self.hits: Counter[str] = Counter()
        self.asked: Counter[str] = Counter()
        self.inflight = 0
        self.max_inflight = 0
        self.sent = 0  # body bytes the `endless` handler got out before the client left

    def tenant(self, name: str, **handlers: Handler) -> None:
        issuer = f"{self.base}/{name}"
        metadata = {
            "issuer": issuer,
            "jwks_uri": f"{issuer}/jwks",
            "introspection_endpoint": f"{issuer}/introspect",
        }
        defaults = {"metadata": document(metadata), "jwks": send(KEYS)}
        for kind, handler in {**defaults, **handlers}.items():
            path = f"/.well-known/oauth-authorization-server/{name}"
            self.routes[path if kind == "metadata" else f"/{name}/{kind}"] = handler

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await reader.readuntil(b"\r\n\r\n")
            path = request.split(b" ", 2)[1].decode()
            length = 0
            for line in request.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            body = await reader.readexactly(length) if length else b""
            self.hits[path] += 1
            if path.endswith("/introspect"):
                self.asked[parse_qs(body.decode())["token"][0]] += 1
            missing = send(b'{"error": "not_found"}', "404 Not Found")
            await self.routes.get(path, missing)(writer, body)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    @contextmanager
    def running(self) -> Iterator[HostileServer]:
        loop = asyncio.new_event_loop()
        started = threading.Event()

        async def main() -> None:
            server = await asyncio.start_server(self.handle, "127.0.0.1", self.port)
            started.set()
            async with server:
                await server.serve_forever()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(main())
            except asyncio.CancelledError:
                pass

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        assert started.wait(5)
        try:
            yield self
        finally:
            for task in asyncio.all_tasks(loop):
                loop.call_soon_threadsafe(task.cancel)
            thread.join(timeout=5)

    # ---------------------------------------------------------------- misbehaviours
    def drip(self, body: bytes, every: float) -> Handler:
        async def answer(writer: asyncio.StreamWriter, request: bytes) -> None:
            writer.write(head("200 OK", len(body)))
            for byte in body:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(every)

        return answer

    def endless(self, total: int) -> Handler:
        """A close-delimited body of `total` bytes (no Content-Length to refuse it by)."""

        async def answer(writer: asyncio.StreamWriter, request: bytes) -> None:
            writer.write(head("200 OK", None) + b'{"keys": [], "pad": "')
            chunk = b"x" * 65536
            while self.sent < total:
                writer.write(chunk)
                await writer.drain()
                self.sent += len(chunk)
            writer.write(b'"}')

        return answer

    def introspection(self, resource: str, issuer: str, slow: float = 0.0) -> Handler:
        """`good…` tokens are active for `resource`; `junk…` ones are a 500; any other is
        inactive after `slow` seconds."""

        async def answer(writer: asyncio.StreamWriter, request: bytes) -> None:
            token = parse_qs(request.decode())["token"][0]
            self.inflight += 1
            self.max_inflight = max(self.max_inflight, self.inflight)
            try:
                if token.startswith("junk"):
                    reply = send(b'{"error": "server_error"}', "500 Internal Server Error")
                elif token.startswith("good"):
                    claims = {"active": True, "aud": resource, "iss": issuer}
                    reply = document({**claims, "scope": "jobs:read", "exp": time.time() + 300})
                else:
                    await asyncio.sleep(slow)
                    reply = document({"active": False})
                await reply(writer, request)
            finally:
                self.inflight -= 1

        return answer


SPEC_HEAD = """\
# naftiko-runtime: ignore naftiko-oauth2-https-authserver - a loopback authorization server
# naftiko-runtime: ignore naftiko-oauth2-resource-https - loopback resources under test
naftiko: "1.0.0-alpha2"
info:
  label: "Protected"
  description: "Adapters behind a hostile authorization server."
capability:
  consumes:
    - type: http
      namespace: api
      description: "The upstream."
      baseUri: "{upstream}"
      resources:
        - name: items
          path: "/items"
          operations:
            - name: list-items
              method: GET
  exposes:
"""
ADAPTER = """\
    - type: rest
      namespace: {name}
      port: {nominal}
      authentication:
        type: oauth2
        authorizationServerUri: "{issuer}"
        resource: "{resource}"
        scopes: ["jobs:read"]
        tokenValidation: {validation}
      resources:
        - path: "/items"
          description: "Items."
          operations:
            - method: GET
              name: list-items
              call: api.list-items
"""


class Gateway:
    """`serve` with one REST adapter per tenant of a hostile server."""

    def __init__(self, hostile: HostileServer, folder: Path) -> None:
        self.hostile, self.folder = hostile, folder
        self.adapters: dict[str, dict[str, str]] = {}

    def add(
        self, name: str, validation: str = "jwks", misbehave: Misbehaviour | None = None
    ) -> None:
        """A tenant and its adapter (served at its resource URL); `misbehave` gets the
        tenant's issuer and resource and returns the handlers that replace the good ones."""
        port = free_port()
        resource = f"http://127.0.0.1:{port}"
        issuer = f"{self.hostile.base}/{name}"
        handlers = {"introspect": self.hostile.introspection(resource, issuer, slow=0.5)}
        handlers.update(misbehave(issuer, resource) if misbehave else {})
        self.hostile.tenant(name, **handlers)
        self.adapters[name] = {"port": str(port), "issuer": issuer, "resource": resource}
        self.adapters[name]["validation"] = validation

    @contextmanager
    def serving(self, upstream: str) -> Iterator[ServeProcess]:
        text = SPEC_HEAD.format(upstream=upstream)
        ports: dict[int, int] = {}
        for nominal, (name, adapter) in enumerate(self.adapters.items(), start=8100):
            text += ADAPTER.format(name=name, nominal=nominal, **adapter)
            ports[nominal] = int(adapter["port"])
        spec = self.folder / "hostile.yaml"
        spec.write_text(text)
        with serve(spec, ports=ports) as process:
            yield process


def token(gateway: Gateway, name: str) -> str:
    adapter = gateway.adapters[name]
    now = int(time.time())
    claims: dict[str, Any] = {"iss": adapter["issuer"], "aud": adapter["resource"]}
    claims.update(scope="jobs:read", iat=now, exp=now + 300)
    return jwt.encode(claims, PRIVATE, algorithm="RS256", headers={"kid": "k1"})


def get(url: str, bearer: str, timeout: float = 20.0) -> httpx.Response:
    headers = {"authorization": f"Bearer {bearer}"}
    return httpx.get(url + "/items", headers=headers, timeout=timeout)


def assert_unavailable(reply: httpx.Response, process: ServeProcess) -> None:
    """The documented answer when the authorization server cannot be used."""
    assert reply.status_code == 503, (reply.status_code, reply.text[:300])
    assert reply.headers["content-type"] == "application/json"
    assert reply.json()["error"]["type"] == "authorization_unavailable"
    assert "Traceback" not in reply.text and "/" not in reply.json()["error"]["message"]
    assert "Traceback" not in process.output()


def deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


WRONG: dict[str, Misbehaviour] = {  # JWT checks, or introspection for `introspect-…`
    "keys-not-a-list": lambda issuer, resource: {"jwks": document({"keys": 5})},
    "keys-not-objects": lambda issuer, resource: {"jwks": document({"keys": [5, "k1"]})},
    "keys-nested-deep": lambda issuer, resource: {
        "jwks": send(b'{"keys": ' + deep(100_000) + b"}")
    },
    "keys-over-the-cap": lambda issuer, resource: {
        "jwks": document({"keys": [PUBLIC], "pad": "x" * CAP})
    },
    "keys-compressed": lambda issuer, resource: {
        "jwks": send(gzip.compress(KEYS), "200 OK", "Content-Encoding: gzip")
    },
    "jwks-uri-unparsable": lambda issuer, resource: {
        "metadata": document({"issuer": issuer, "jwks_uri": "http://[::1"})
    },
    "metadata-nested-deep": lambda issuer, resource: {"metadata": send(deep(100_000))},
    "introspect-exp-a-word": lambda issuer, resource: {
        "introspect": document({"active": True, "aud": resource, "exp": "tomorrow"})
    },
    "introspect-scope-an-object": lambda issuer, resource: {
        "introspect": document({"active": True, "aud": resource, "scope": {"jobs:read": 1}})
    },
    "introspect-nested-deep": lambda issuer, resource: {"introspect": send(deep(100_000))},
    "introspect-over-the-cap": lambda issuer, resource: {
        "introspect": document({"active": True, "aud": resource, "pad": "x" * CAP})
    },
}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: Any) -> Iterator[dict[str, Any]]:
    server = HostileServer()
    gateway = Gateway(server, tmp_path_factory.mktemp("hostile"))
    gateway.add("drip", misbehave=lambda issuer, resource: {"jwks": server.drip(KEYS, 2.0)})
    gateway.add("poison", "introspection")
    gateway.add("flood", "introspection")
    for name, misbehave in WRONG.items():
        gateway.add(name, "introspection" if name.startswith("introspect") else "jwks", misbehave)
    with server.running(), running(RecordingUpstream()) as upstream:
        with gateway.serving(upstream) as process:
            yield {"server": server, "gateway": gateway, "process": process}


def url(gateway: Gateway, name: str) -> str:
    return gateway.adapters[name]["resource"]


@pytest.mark.slow
def test_a_dripping_key_set_is_fetched_once_and_answered_within_the_deadline(
    hostile: dict[str, Any],
) -> None:
    """Three requests at once while the key set drips a byte every 2 s: one fetch, cut at the
    deadline, its failure shared by all three (JSON 503); the next request inside the
    back-off is answered at once without a fetch; after it, a slow but good key set is
    fetched once for five concurrent requests, which pass."""
    server: HostileServer = hostile["server"]
    base, bearer = url(hostile["gateway"], "drip"), token(hostile["gateway"], "drip")

    def timed(_: int) -> tuple[float, httpx.Response]:
        started = time.monotonic()
        reply = get(base, bearer, timeout=DEADLINE + 4)
        return time.monotonic() - started, reply

    started = time.monotonic()
    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(timed, range(3)))
    for elapsed, reply in answers:
        assert elapsed < DEADLINE + 2, elapsed
        assert_unavailable(reply, hostile["process"])
    assert server.hits["/drip/jwks"] == 1
    assert server.hits["/.well-known/oauth-authorization-server/drip"] == 1

    elapsed, reply = timed(0)
    assert elapsed < 1.0 and server.hits["/drip/jwks"] == 1  # the back-off holds
    assert_unavailable(reply, hostile["process"])

    async def slow_keys(writer: asyncio.StreamWriter, request: bytes) -> None:
        await asyncio.sleep(1.0)
        await send(KEYS)(writer, request)

    server.routes["/drip/jwks"] = slow_keys
    time.sleep(max(0.0, started + DEADLINE + BACKOFF + 0.5 - time.monotonic()))
    with ThreadPoolExecutor(5) as pool:
        replies = list(pool.map(lambda _: get(base, bearer), range(5)))
    assert [r.status_code for r in replies] == [200] * 5
    assert server.hits["/drip/jwks"] == 2


@pytest.mark.parametrize("name", list(WRONG))
def test_documents_of_the_wrong_shape_or_size_are_a_json_503(
    hostile: dict[str, Any], name: str
) -> None:
    bearer = token(hostile["gateway"], name) if "introspect" not in name else "good-opaque"
    reply = get(url(hostile["gateway"], name), bearer)
    assert_unavailable(reply, hostile["process"])


def test_an_introspection_error_about_one_token_does_not_refuse_the_others(
    hostile: dict[str, Any],
) -> None:
    """A token the server answers 500 about is a 503 for that token (asked once, then
    remembered briefly); the next token is still asked and passes; ten requests with one
    new token make one introspection call."""
    server: HostileServer = hostile["server"]
    base = url(hostile["gateway"], "poison")
    assert_unavailable(get(base, "junk-1"), hostile["process"])
    assert get(base, "good-1").status_code == 200
    assert_unavailable(get(base, "junk-1"), hostile["process"])
    assert server.asked["junk-1"] == 1 and server.asked["good-1"] == 1
    with ThreadPoolExecutor(10) as pool:
        replies = list(pool.map(lambda _: get(base, "good-2"), range(10)))
    assert [r.status_code for r in replies] == [200] * 10
    assert server.asked["good-2"] == 1


def test_a_flood_of_made_up_tokens_makes_a_bounded_number_of_introspection_calls(
    hostile: dict[str, Any],
) -> None:
    """300 different made-up tokens at once, each answered inactive after 0.5 s: at most 8
    calls in flight, the tokens that found no slot within 1 s answered a JSON 503 (busy),
    the others 401; a good token afterwards passes."""
    server: HostileServer = hostile["server"]
    base = url(hostile["gateway"], "flood")

    async def flood() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=300)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:
            return await asyncio.gather(
                *(
                    client.get(base + "/items", headers={"authorization": f"Bearer made-up-{i}"})
                    for i in range(300)
                )
            )

    started = time.monotonic()
    replies = asyncio.run(flood())
    elapsed = time.monotonic() - started
    calls = sum(n for token, n in server.asked.items() if token.startswith("made-up"))
    assert server.max_inflight <= 8 and calls <= 40, (server.max_inflight, calls)
    statuses = Counter(r.status_code for r in replies)
    assert set(statuses) <= {401, 503} and statuses[503] > 0, statuses
    for reply in replies:
        if reply.status_code == 503:
            assert_unavailable(reply, hostile["process"])
            assert reply.json()["error"]["message"] == BUSY
    assert elapsed < 30, elapsed  # mostly the test client's own cost of 300 connections
    assert get(base, "good-after-the-flood").status_code == 200


def test_a_huge_key_set_is_cut_off_at_the_cap_with_bounded_memory(tmp_path: Path) -> None:
    """A 96 MB key set (close-delimited, so no Content-Length announces it) is read up to
    1 MiB, then refused: a JSON 503, the server's peak memory grows by less than 32 MB and
    the authorization server gets to send only what the sockets buffer."""
    if not Path("/proc/self/status").exists():
        pytest.skip("needs /proc to read the server's peak memory")
    server = HostileServer()
    gateway = Gateway(server, tmp_path)
    gateway.add("warm")
    gateway.add("huge", misbehave=lambda issuer, resource: {"jwks": server.endless(96 << 20)})
    with server.running(), running(RecordingUpstream()) as upstream:
        with gateway.serving(upstream) as process:
            assert get(url(gateway, "warm"), token(gateway, "warm")).status_code == 200
            before = peak(process)
            reply = get(url(gateway, "huge"), token(gateway, "huge"))
            grown = peak(process) - before
            assert grown < 32 << 20, f"peak RSS grew {grown >> 20} MiB"
            assert server.sent < 16 << 20, f"{server.sent >> 20} MiB were read"
            assert_unavailable(reply, process)


def peak(process: ServeProcess) -> int:
    """The serving process's peak resident memory (VmHWM), in bytes."""
    for line in Path(f"/proc/{process.process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")
