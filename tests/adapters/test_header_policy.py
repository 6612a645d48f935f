"""End-to-end headers, both ways, as SDKs rely on them (engine/headers.py's policy): paging
`Link`s rewritten to the gateway's routes, rate-limit and caching headers passed back,
conditional requests answered 304, a vendor media type asked for and passed through,
`Idempotency-Key` passed up, credentials and cookies never passed either way, `Location`
rewritten, and an MCP result that says how to fetch the next page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from mcp import Client

from tests.fixtures.process import serve
from tests.fixtures.upstream import RecordingUpstream, Reply, running

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]
SPEC = """\
naftiko: "1.0.0-alpha2"
capability:
  consumes:
    - type: http
      namespace: hub
      description: "A paginated upstream"
      baseUri: "http://127.0.0.1:9/api"
      resources:
        - name: items
          path: "/items"
          operations:
            - name: list-items
              method: GET
              inputParameters:
                - name: page
                  in: query
                - name: per_page
                  in: query
            - name: create-item
              method: POST
              body:
                type: json
                data:
                  name: "{{name}}"
        - name: item
          path: "/items/{{id}}"
          operations:
            - name: get-item
              method: GET
              inputParameters:
                - name: id
                  in: path
        - name: diff
          path: "/diff"
          operations:
            - name: get-diff
              method: GET
        - name: limited
          path: "/limited"
          operations:
            - name: get-limited
              method: GET
        - name: person
          path: "/person"
          operations:
            - name: get-person
              method: GET
              outputParameters:
                - name: name
                  type: string
                  value: "$.name"
  exposes:
    - type: rest
      namespace: hub-rest
      port: 8080
      resources:
        - path: "/items"
          description: "Items"
          operations:
            - method: GET
              name: list-items
              call: hub.list-items
              inputParameters:
                - name: page
                  in: query
                  type: integer
                  description: "Page"
                - name: per_page
                  in: query
                  type: integer
                  description: "Page size"
            - method: POST
              name: create-item
              call: hub.create-item
              inputParameters:
                - name: name
                  in: body
                  type: string
                  description: "Name"
                  value: "$.name"
        - path: "/items/{id}"
          description: "One item"
          operations:
            - method: GET
              name: get-item
              call: hub.get-item
              inputParameters:
                - name: id
                  in: path
                  type: string
                  description: "Id"
        - path: "/diff"
          description: "A diff"
          operations:
            - method: GET
              name: get-diff
              call: hub.get-diff
        - path: "/limited"
          description: "Rate limited"
          operations:
            - method: GET
              name: get-limited
              call: hub.get-limited
        - path: "/person"
          description: "A shaped answer"
          operations:
            - method: GET
              name: get-person
              call: hub.get-person
    - type: mcp
      namespace: hub-mcp
      port: 9090
      tools:
        - name: list-items
          description: "A page of items"
          inputParameters:
            - name: page
              type: integer
              description: "Page"
            - name: per_page
              type: integer
              description: "Page size"
          call: hub.list-items
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    spec = tmp_path_factory.mktemp("headers") / "hub.yaml"
    spec.write_text(SPEC)
    recorder = RecordingUpstream()
    with running(recorder) as base:
        api = base + "/api"
        recorder.script["/api/items/old"] = Reply(
            status=304, body=b"", headers=[("ETag", '"v1"'), ("Cache-Control", "max-age=60")]
        )
        recorder.script["/api/items?"] = Reply(body=b"[]")
        recorder.script["/api/items"] = Reply(
            status=200,
            body=b'[{"id": 1}, {"id": 2}]',
            headers=[
                (
                    "Link",
                    f'<{base}/api/repositories/9/items?page=3&per_page=2>; rel="next", '
                    f'<{api}/items?page=9&per_page=2>; rel="last", '
                    '<https://docs.example/paging>; rel="help"',
                ),
                ("ETag", 'W/"abc"'),
                ("X-RateLimit-Remaining", "4999"),
                ("X-RateLimit-Reset", "1767225600"),
                ("Set-Cookie", "session=upstream-secret"),
                ("X-Internal-Host", "db-7"),
                ("Location", f"{api}/items/42"),
            ],
        )
        recorder.script["/api/diff"] = Reply(
            body=b"diff --git a/x b/x\n", content_type="application/vnd.hub.diff"
        )
        recorder.script["/api/person"] = Reply(
            body=b'{"name": "ann", "ssn": "078-05-1120"}',
            headers=[("Link", f'<{api}/person?page=2>; rel="next"')],
        )
        recorder.script["/api/limited"] = Reply(
            status=429,
            body=b'{"message": "slow down"}',
            headers=[("Retry-After", "30"), ("X-RateLimit-Remaining", "0")],
        )
        with serve(spec, "--upstream", f"hub={api}") as process:
            yield {**process.urls, "recorder": recorder, "api": api}


def test_paging_links_lead_through_the_gateway(served: dict[str, Any]) -> None:
    reply = httpx.get(f"{served['rest']}/items?page=2&per_page=2", timeout=10)
    assert reply.status_code == 200
    links = reply.headers["link"]
    # GitHub pages through another path than the one asked: the route being served wins
    assert '</items?page=3&per_page=2>; rel="next"' in links
    assert '</items?page=9&per_page=2>; rel="last"' in links
    assert '<https://docs.example/paging>; rel="help"' in links  # not the upstream's: kept
    assert "127.0.0.1" not in links


def test_rate_limit_and_caching_headers_pass_back_and_nothing_else(served: dict[str, Any]) -> None:
    reply = httpx.get(f"{served['rest']}/items?page=2", timeout=10)
    assert reply.headers["etag"] == 'W/"abc"'
    assert reply.headers["x-ratelimit-remaining"] == "4999"
    assert reply.headers["x-ratelimit-reset"] == "1767225600"
    assert "set-cookie" not in reply.headers
    assert "x-internal-host" not in reply.headers
    assert reply.headers["location"] == "/items/42"  # the gateway's route for the upstream's


def test_conditional_requests_pass_up_and_a_304_passes_back(served: dict[str, Any]) -> None:
    headers = {"If-None-Match": '"v1"', "Authorization": "Bearer client-own", "Cookie": "a=b"}
    reply = httpx.get(f"{served['rest']}/items/old", headers=headers, timeout=10)
    assert reply.status_code == 304
    assert reply.headers["etag"] == '"v1"' and reply.content == b""
    seen = served["recorder"].seen[-1]
    assert seen.headers["if-none-match"] == '"v1"'
    assert "authorization" not in seen.headers and "cookie" not in seen.headers


def test_a_vendor_media_type_is_asked_for_and_passed_through(served: dict[str, Any]) -> None:
    reply = httpx.get(
        f"{served['rest']}/diff", headers={"Accept": "application/vnd.hub.diff"}, timeout=10
    )
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "application/vnd.hub.diff"
    assert reply.content == b"diff --git a/x b/x\n"
    assert served["recorder"].seen[-1].headers["accept"] == "application/vnd.hub.diff"


def test_an_idempotency_key_passes_up(served: dict[str, Any]) -> None:
    reply = httpx.post(
        f"{served['rest']}/items",
        json={"name": "n"},
        headers={"Idempotency-Key": "key-1"},
        timeout=10,
    )
    assert reply.status_code == 200, reply.text
    seen = served["recorder"].seen[-1]
    assert seen.headers["idempotency-key"] == "key-1"
    assert orjson.loads(seen.body) == {"name": "n"}


def test_an_upstream_429_passes_with_its_retry_after(served: dict[str, Any]) -> None:
    reply = httpx.get(f"{served['rest']}/limited", timeout=10)
    assert reply.status_code == 429
    assert reply.headers["retry-after"] == "30"
    assert reply.headers["x-ratelimit-remaining"] == "0"
    assert reply.json() == {"message": "slow down"}


async def test_an_mcp_result_says_how_to_fetch_the_next_page(served: dict[str, Any]) -> None:
    async with Client(served["mcp"]) as client:
        result = await client.call_tool("list-items", {"page": 2, "per_page": 2})
    assert not result.is_error
    assert result.structured_content is not None
    assert result.structured_content["next"] == {"page": 3, "per_page": 2}
    assert result.meta is not None and result.meta["io.naftiko/paging"]["next"]["page"] == 3
    texts = [getattr(c, "text", "") for c in result.content]
    assert orjson.loads(texts[0]) == [{"id": 1}, {"id": 2}]
    assert 'call list-items with {"page":3,"per_page":2}' in texts[1]


def test_declared_outputs_hold_whatever_the_client_accepts(served: dict[str, Any]) -> None:
    """Found by review: `Accept: text/csv` on a shaped operation used to pass the raw body
    through, undeclared fields and all. The declared outputs are the contract."""
    for accept in ("text/csv", "application/xml"):
        reply = httpx.get(f"{served['rest']}/person", headers={"Accept": accept}, timeout=10)
        assert reply.status_code == 200
        assert reply.json() == {"name": "ann"}
        assert "ssn" not in reply.text


def test_a_paging_link_the_route_cannot_follow_is_dropped(served: dict[str, Any]) -> None:
    """Found by review: `/person` takes no `page`, so a next link to it would fetch the same
    page for ever: it is not passed back."""
    reply = httpx.get(f"{served['rest']}/person", timeout=10)
    assert "link" not in reply.headers


def test_next_page_reads_only_plain_numbers() -> None:
    from naftiko_runtime.engine.headers import next_page

    link = [("Link", '<https://x.example/items?page=%C2%B2&cursor=0012>; rel="next"')]
    after = next_page(link, {"page": 1}, {"page", "cursor"})
    assert after == {"page": "\u00b2", "cursor": "0012"}  # text, never a crash or a 12
    assert next_page([("Link", '<https://x.example/i?page=3>; rel="next"')], {}, {"page"}) == {
        "page": 3
    }


OVERRIDE = """\
naftiko: "1.0.0-alpha2"
capability:
  consumes:
    - type: http
      namespace: own
      description: "An upstream whose headers the spec chooses"
      baseUri: "http://127.0.0.1:9"
      headerPolicy:
        up: [X-Tenant, Authorization, -Idempotency-Key]
        back: [Set-Cookie, X-Request-*, -ETag]
      resources:
        - name: thing
          path: "/thing"
          operations:
            - name: get-thing
              method: GET
  exposes:
    - type: rest
      namespace: own-rest
      port: 8080
      resources:
        - path: "/thing"
          description: "A thing"
          operations:
            - method: GET
              name: get-thing
              call: own.get-thing
"""


def test_a_capability_overrides_the_header_policy(tmp_path: Any) -> None:
    """`headerPolicy` (dialect) on a consumed API: names added pass, `-name` does not,
    `prefix-*` is a family; credentials and cookies pass only when the spec names them."""
    spec = tmp_path / "own.yaml"
    spec.write_text(OVERRIDE)
    recorder = RecordingUpstream()
    recorder.script["/thing"] = Reply(
        headers=[
            ("Set-Cookie", "session=s1"),
            ("X-Request-Id", "r-1"),
            ("ETag", '"e1"'),
            ("X-RateLimit-Remaining", "7"),
        ]
    )
    with running(recorder) as base:
        with serve(spec, "--upstream", f"own={base}", ports=[8080]) as process:
            headers = {
                "X-Tenant": "acme",
                "Authorization": "Bearer user-token",
                "Idempotency-Key": "k-1",
                "Cookie": "c=1",
            }
            reply = httpx.get(process.rest + "/thing", headers=headers, timeout=10)
    assert reply.status_code == 200
    seen = recorder.seen[-1].headers
    assert seen["x-tenant"] == "acme" and seen["authorization"] == "Bearer user-token"
    assert "idempotency-key" not in seen and "cookie" not in seen
    assert reply.headers["set-cookie"] == "session=s1"
    assert reply.headers["x-request-id"] == "r-1"
    assert "etag" not in reply.headers
    assert reply.headers["x-ratelimit-remaining"] == "7"  # the defaults still hold
