"""Request bodies of every alpha2 kind, binary results for REST and MCP, and the decoded-size
cap, over real loopback HTTP against an upstream this test starts (gzip bomb included)."""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from mcp import Client

from tests.fixtures.process import serve
from tests.fixtures.specs import api_header
from tests.fixtures.upstream import RecordingUpstream, Reply, running

pytestmark = pytest.mark.anyio
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
SPEC = (
    api_header()
    + """\
        - name: json
          path: "/json"
          operations:
            - name: post-json
              method: POST
              body:
                type: json
                data:
                  title: "{{title}}"
                  tags: "{{tags}}"
        - name: text
          path: "/text"
          operations:
            - name: post-text
              method: POST
              body:
                type: text
                data: "Hello {{title}}"
        - name: xml
          path: "/xml"
          operations:
            - name: post-xml
              method: POST
              body:
                type: xml
                data: "<note><title>{{title}}</title></note>"
        - name: sparql
          path: "/sparql"
          operations:
            - name: post-sparql
              method: POST
              body:
                type: sparql
                data: "SELECT ?s WHERE { ?s ?p \\"{{title}}\\" }"
        - name: form
          path: "/form"
          operations:
            - name: post-form
              method: POST
              body:
                type: formUrlEncoded
                data:
                  title: "{{title}}"
                  n: "2"
        - name: form-text
          path: "/form-text"
          operations:
            - name: post-form-text
              method: POST
              body:
                type: formUrlEncoded
                data: "title={{title}}&n=2"
        - name: multipart
          path: "/multipart"
          operations:
            - name: post-multipart
              method: POST
              body:
                type: multipartForm
                data:
                  - name: title
                    value: "{{title}}"
                  - name: file
                    filename: "logo.png"
                    contentType: "image/png"
                    value: "{{file}}"
        - name: raw
          path: "/raw"
          operations:
            - name: post-raw
              method: POST
              body: |
                {"title": "{{title}}", "missing": {{missing}}}
        - name: image
          path: "/image"
          operations:
            - name: get-image
              method: GET
              outputRawFormat: binary
        - name: pdf
          path: "/pdf"
          operations:
            - name: get-pdf
              method: GET
              outputRawFormat: binary
        - name: bomb
          path: "/bomb"
          operations:
            - name: get-bomb
              method: GET
  exposes:
    - type: rest
      namespace: bodies
      port: 8080
      resources:
{routes}
    - type: mcp
      namespace: bodies-mcp
      port: 9090
      tools:
        - name: image
          description: "An image"
          call: api.get-image
        - name: pdf
          description: "A document"
          call: api.get-pdf
"""
)
KINDS = ["json", "text", "xml", "sparql", "form", "form-text", "multipart", "raw"]
ROUTE = """\
        - path: "/KIND"
          operations:
            - method: POST
              name: KIND
              inputParameters:
                - name: title
                  in: body
                  type: string
                  description: "Title"
                - name: tags
                  in: body
                  type: array
                  description: "Tags"
                - name: file
                  in: body
                  type: string
                  description: "File, base64"
                - name: missing
                  in: query
                  type: integer
                  description: "Declared, never sent: missing at run time"
              call: api.post-KIND
"""
GETS = """\
        - path: "/NAME"
          operations:
            - method: GET
              name: get-NAME
              call: api.get-NAME
"""


class BombingUpstream(RecordingUpstream):
    """The recording upstream, plus a gzip bomb: ~1 MB that inflates to 1 GiB."""

    bomb: bytes = b""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/bomb":
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-encoding", b"gzip"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": self.bomb})
            return
        await super().__call__(scope, receive, send)


def _gzip_bomb(size: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"\0" * (1024 * 1024)
    out = [compressor.compress(chunk) for _ in range(size // len(chunk))]
    return b"".join(out) + compressor.flush()


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[BombingUpstream, dict[str, Any]]]:
    routes = "".join(ROUTE.replace("KIND", k) for k in KINDS)
    routes += "".join(GETS.replace("NAME", n) for n in ("image", "pdf", "bomb"))
    spec = tmp_path_factory.mktemp("bodies") / "bodies.yaml"
    spec.write_text(SPEC.replace("{routes}", routes))
    upstream = BombingUpstream(
        script={
            "/image": Reply(body=PNG, content_type="image/png"),
            "/pdf": Reply(body=b"%PDF-1.7 fake", content_type="application/pdf"),
        }
    )
    upstream.bomb = _gzip_bomb(1024 * 1024 * 1024)
    with running(upstream) as base, serve(spec, "--upstream", f"api={base}") as process:
        yield upstream, {**process.urls, "pid": process.process.pid}


def post(urls: dict[str, Any], kind: str, payload: dict[str, Any]) -> Any:
    reply = httpx.post(f"{urls['rest']}/{kind}", json=payload, timeout=10)
    assert reply.status_code == 200, reply.text
    return reply


def seen(upstream: RecordingUpstream, path: str) -> Any:
    return next(s for s in reversed(upstream.seen) if s.raw_path == path)


TRICKY = 'A "quoted" <b>&</b> title=x&y'


def test_every_body_kind_has_its_content_type_and_escaping(
    served: tuple[BombingUpstream, dict[str, Any]],
) -> None:
    upstream, urls = served
    for kind in KINDS:
        post(
            urls,
            kind,
            {"title": TRICKY, "tags": ["a", "b"], "file": base64.b64encode(PNG).decode()},
        )
    json_body = seen(upstream, "/json")
    assert json_body.headers["content-type"] == "application/json"
    assert json.loads(json_body.body) == {"title": TRICKY, "tags": ["a", "b"]}
    text = seen(upstream, "/text")
    assert text.headers["content-type"].startswith("text/plain")
    assert text.body.decode() == f"Hello {TRICKY}"
    xml = seen(upstream, "/xml")
    assert xml.headers["content-type"] == "application/xml"
    assert xml.body == (
        b"<note><title>A &quot;quoted&quot; &lt;b&gt;&amp;&lt;/b&gt; title=x&amp;y</title></note>"
    )
    assert seen(upstream, "/sparql").headers["content-type"] == "application/sparql-query"
    for path in ("/form", "/form-text"):
        form = seen(upstream, path)
        assert form.headers["content-type"] == "application/x-www-form-urlencoded"
        assert dict(parse_qsl(form.body.decode())) == {"title": TRICKY, "n": "2"}
    raw = seen(upstream, "/raw")
    assert raw.headers["content-type"] == "application/json"
    assert json.loads(raw.body) == {"title": TRICKY, "missing": None}


def test_multipart_sends_fields_and_files(served: tuple[BombingUpstream, dict[str, Any]]) -> None:
    from email.parser import BytesParser
    from email.policy import HTTP

    upstream, urls = served
    post(urls, "multipart", {"title": TRICKY, "file": base64.b64encode(PNG).decode()})
    request = seen(upstream, "/multipart")
    kind = request.headers["content-type"]
    assert kind.startswith("multipart/form-data; boundary=")
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + kind.encode() + b"\r\n\r\n" + request.body
    )
    parts = {
        part.get_param("name", header="content-disposition"): part for part in message.iter_parts()
    }
    assert parts["title"].get_content() == TRICKY
    assert parts["file"].get_filename() == "logo.png"
    assert parts["file"].get_content_type() == "image/png"
    assert parts["file"].get_payload(decode=True) == PNG


async def test_binary_results_keep_bytes_and_type_for_rest_and_mcp(
    served: tuple[BombingUpstream, dict[str, Any]],
) -> None:
    _, urls = served
    image = httpx.get(urls["rest"] + "/image", timeout=10)
    assert (image.status_code, image.headers["content-type"], image.content) == (
        200,
        "image/png",
        PNG,
    )
    async with Client(urls["mcp"]) as client:
        picture = await client.call_tool("image", {})
        [block] = picture.content
        assert block.type == "image" and block.mime_type == "image/png"  # type: ignore[union-attr]
        assert base64.b64decode(block.data) == PNG  # type: ignore[union-attr]
        document = await client.call_tool("pdf", {})
        [embedded] = document.content
        assert embedded.type == "resource"
        blob = embedded.resource  # type: ignore[union-attr]
        assert (
            blob.mime_type == "application/pdf" and base64.b64decode(blob.blob) == b"%PDF-1.7 fake"
        )


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_a_gzip_bomb_is_a_502_and_memory_stays_flat(
    served: tuple[BombingUpstream, dict[str, Any]],
) -> None:
    _, urls = served
    assert len(served[0].bomb) < 2 * 1024 * 1024  # ~1 MB on the wire, 1 GiB inflated
    reply = httpx.get(urls["rest"] + "/bomb", timeout=30)
    assert reply.status_code == 502
    error = reply.json()["error"]
    assert error["type"] == "upstream_bad_response" and "too large" in error["message"]
    assert _peak_rss_mb(urls["pid"]) < 400  # generous: the cap is 16 MiB
    assert httpx.get(urls["rest"] + "/image", timeout=10).status_code == 200  # still serving
