"""Request bodies through `import openapi`, as an official SDK sends them: a JSON object
body is bound member by member (GitHub's issues.create has a member named `body`, which must
never swallow the payload), a body with no named members is bound whole under a name no
member can take, forms go up as forms; over REST and MCP the upstream receives exactly the
members the client sent, and the MCP tool lists them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml
from mcp import Client

from naftiko_runtime.openapi.documents import load_document
from naftiko_runtime.openapi.importer import import_openapi
from tests.fixtures.process import serve
from tests.fixtures.upstream import RecordingUpstream, Reply, running

pytestmark = pytest.mark.anyio
ISSUE = {  # GitHub's issues/create request body, as its description gives it
    "type": "object",
    "required": ["title"],
    "properties": {
        "title": {"oneOf": [{"type": "string"}, {"type": "integer"}], "description": "Title"},
        "body": {"type": "string", "description": "The contents of the issue."},
        "assignee": {"type": ["string", "null"]},
        "milestone": {"oneOf": [{"type": "string"}, {"type": "integer"}], "nullable": True},
        "labels": {"type": "array", "items": {"type": "string"}},
        "assignees": {"type": "array", "items": {"type": "string"}},
    },
}
DOCUMENT: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Hub", "version": "1"},
    "servers": [{"url": "https://api.hub.example"}],
    "paths": {
        "/repos/{owner}/{repo}/issues": {
            "parameters": [
                {"name": "owner", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "repo", "in": "path", "required": True, "schema": {"type": "string"}},
            ],
            "post": {
                "operationId": "issues/create",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/issue"}}
                    },
                },
                "responses": {"201": {"description": "created"}},
            },
        },
        "/orgs/{owner}/transfer": {
            "post": {
                "operationId": "transfer",
                "parameters": [
                    {"name": "owner", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "owner": {"type": "string"},
                                    "note": {"type": "string"},
                                },
                            }
                        }
                    }
                },
                "responses": {"200": {"description": "ok"}},
            }
        },
        "/labels": {
            "put": {
                "operationId": "set-labels",
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {
                                "oneOf": [
                                    {"type": "array", "items": {"type": "string"}},
                                    {"type": "object", "properties": {"labels": {"type": "array"}}},
                                ]
                            }
                        }
                    }
                },
                "responses": {"200": {"description": "ok"}},
            }
        },
        "/tokens": {
            "post": {
                "operationId": "tokens",
                "requestBody": {
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "grant_type": {"type": "string"},
                                    "scope": {"type": "string"},
                                },
                            }
                        }
                    }
                },
                "responses": {"200": {"description": "ok"}},
            }
        },
        "/uploads": {
            "post": {
                "operationId": "upload",
                "requestBody": {
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "file": {"type": "string", "format": "binary"},
                                    "purpose": {"type": "string"},
                                },
                            }
                        }
                    }
                },
                "responses": {"200": {"description": "ok"}},
            }
        },
    },
    "components": {"schemas": {"issue": ISSUE}},
}


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("bodies")
    source = folder / "hub.json"
    source.write_text(json.dumps(DOCUMENT))
    text = import_openapi(load_document(source))
    spec = folder / "hub.yaml"
    spec.write_text(text)
    return spec, yaml.safe_load(text)


def _consumed(data: dict[str, Any], name: str) -> dict[str, Any]:
    for resource in data["capability"]["consumes"][0]["resources"]:
        for op in resource["operations"]:
            if op["name"] == name:
                return dict(op)
    raise KeyError(name)


def _tool(data: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in data["capability"]["exposes"][1]["tools"] if t["name"] == name)


def test_an_object_body_is_bound_member_by_member(imported: tuple[Path, dict[str, Any]]) -> None:
    """Each member of GitHub's issue body is an input of its own: a member named `body` is
    just a member, never the whole payload (what lost title and labels before)."""
    op = _consumed(imported[1], "issues-create")
    assert [p["name"] for p in op["inputParameters"]] == ["owner", "repo"]
    assert op["body"] == {
        "type": "json",
        "data": {k: "{{" + k + "}}" for k in ISSUE["properties"]},
    }
    tool = _tool(imported[1], "issues-create")
    inputs = {i["name"]: i for i in tool["inputParameters"]}
    assert list(inputs) == ["owner", "repo", *ISSUE["properties"]]
    assert inputs["title"]["type"] == "string" and inputs["title"]["required"] is True
    assert inputs["labels"]["type"] == "array" and inputs["body"]["required"] is False


def test_a_member_named_like_a_parameter_gets_its_own_input(
    imported: tuple[Path, dict[str, Any]],
) -> None:
    op = _consumed(imported[1], "transfer")
    assert op["body"]["data"] == {"owner": "{{body-owner}}", "note": "{{note}}"}
    rest = imported[1]["capability"]["exposes"][0]["resources"]
    route = next(r for r in rest if r["path"] == "/orgs/{owner}/transfer")
    inputs = {i["name"]: i for i in route["operations"][0]["inputParameters"]}
    assert inputs["owner"]["in"] == "path"
    assert (inputs["body-owner"]["in"], inputs["body-owner"]["value"]) == ("body", "$.owner")


def test_a_body_without_named_members_is_bound_whole(imported: tuple[Path, dict[str, Any]]) -> None:
    op = _consumed(imported[1], "set-labels")
    assert op["body"] == {"type": "json", "data": "{{requestBody}}"}


def test_forms_go_up_as_the_document_declares(imported: tuple[Path, dict[str, Any]]) -> None:
    form = _consumed(imported[1], "tokens")["body"]
    assert form == {
        "type": "formUrlEncoded",
        "data": {"grant_type": "{{grant_type}}", "scope": "{{scope}}"},
    }
    multipart = _consumed(imported[1], "upload")["body"]
    assert multipart["type"] == "multipartForm"
    assert multipart["data"] == [
        {
            "name": "file",
            "value": "{{file}}",
            "filename": "file",
            "contentType": "application/octet-stream",
        },
        {"name": "purpose", "value": "{{purpose}}"},
    ]


@pytest.fixture(scope="module")
def served(imported: tuple[Path, dict[str, Any]]) -> Iterator[dict[str, Any]]:
    recorder = RecordingUpstream()
    recorder.script["/repos/"] = Reply(status=201, body=b'{"number": 7}')
    with running(recorder) as base:
        args = [imported[0], "--upstream", f"*={base}"]
        with serve(*args, env={"HUB_TOKEN": "t0ken-hub"}) as process:
            yield {**process.urls, "recorder": recorder}


@pytest.mark.e2e
def test_rest_sends_every_member_the_client_sent_and_no_other(served: dict[str, Any]) -> None:
    payload = {"title": "Found a bug", "body": "It breaks.", "labels": ["bug", "p1"]}
    reply = httpx.post(f"{served['rest']}/repos/octo/hello/issues", json=payload, timeout=10)
    assert reply.status_code == 201, reply.text
    seen = served["recorder"].seen[-1]
    assert (seen.method, seen.raw_path) == ("POST", "/repos/octo/hello/issues")
    assert orjson.loads(seen.body) == payload  # absent members are left out, not null
    assert seen.headers["content-type"] == "application/json"


@pytest.mark.e2e
def test_a_form_goes_up_url_encoded(served: dict[str, Any]) -> None:
    reply = httpx.post(f"{served['rest']}/tokens", json={"grant_type": "client credentials"})
    assert reply.status_code == 200, reply.text
    seen = served["recorder"].seen[-1]
    assert seen.body == b"grant_type=client%20credentials"
    assert seen.headers["content-type"] == "application/x-www-form-urlencoded"


@pytest.mark.e2e
async def test_mcp_sends_every_argument_as_its_member(served: dict[str, Any]) -> None:
    async with Client(served["mcp"]) as client:
        listed = {t.name: t for t in (await client.list_tools()).tools}
        schema = listed["issues-create"].input_schema
        assert {"title", "body", "labels", "assignees"} <= set(schema["properties"])
        assert "title" in schema["required"]
        arguments = {"owner": "octo", "repo": "hello", "title": "T", "body": "B"}
        result = await client.call_tool("issues-create", {**arguments, "labels": ["x"]})
    assert not result.is_error, result.content
    seen = served["recorder"].seen[-1]
    assert orjson.loads(seen.body) == {"title": "T", "body": "B", "labels": ["x"]}


def test_import_warns_of_what_validate_would_refuse(tmp_path: Path) -> None:
    """Two routes that differ only in a variable's name clash: `import` says so at once,
    with the lines, instead of leaving it to the next `validate`; a parameter name the
    dialect cannot hold (Stripe's `expand[]`) is left out with a note, not written."""
    from tests.openapi.test_import import cli

    def get(name: str, parameter: str, location: str = "path") -> dict[str, Any]:
        schema = {"type": "string"}
        parameters = [{"name": parameter, "in": location, "required": True, "schema": schema}]
        answers = {"200": {"description": "ok"}}
        return {"get": {"operationId": name, "parameters": parameters, "responses": answers}}

    document = {
        "openapi": "3.0.0",
        "info": {"title": "W", "version": "1"},
        "servers": [{"url": "https://w.example"}],
        "paths": {"/a/{x}": get("one", "x"), "/a/{y}": get("two", "y")},
    }
    source = tmp_path / "w.json"
    source.write_text(json.dumps(document))
    code, _, err = cli("import", "openapi", str(source), "-o", str(tmp_path / "w.yaml"))
    assert code == 0  # written all the same
    assert "`validate` would refuse what was written (1 error(s))" in err
    assert "w.yaml:53:23: [route-conflict] route GET /a/{y} on port 8080 is already " in err
    assert "defined at w.yaml:41:23" in err and "naftiko-import-" not in err
    document["paths"] = {"/charges": get("list", "expand[]", "query")}
    source.write_text(json.dumps(document))
    code, out, err = cli("import", "openapi", str(source))
    assert code == 0 and "would refuse" not in err
    assert "query parameter 'expand[]': a name the dialect cannot hold; left out" in out
    assert "warning: 1 parameter(s) left out" in err  # said, not only written


@pytest.mark.e2e
def test_openapi_publishes_the_body_members(served: dict[str, Any]) -> None:
    """`/openapi.json` describes the body the client sends: its members by their own names
    (`owner`, not the input `body-owner`), an object even with one member."""
    published = httpx.get(f"{served['rest']}/openapi.json", timeout=10).json()
    issue = published["paths"]["/repos/{owner}/{repo}/issues"]["post"]["requestBody"]
    schema = issue["content"]["application/json"]["schema"]
    assert schema["type"] == "object"
    assert list(schema["properties"]) == list(ISSUE["properties"])
    # (which members are required, the import says on MCP inputs only: `required` on a REST
    # input is dialect, and its output stays portable)
    transfer = published["paths"]["/orgs/{owner}/transfer"]["post"]["requestBody"]
    assert set(transfer["content"]["application/json"]["schema"]["properties"]) == {
        "owner",
        "note",
    }
    whole = published["paths"]["/labels"]["put"]["requestBody"]["content"]["application/json"]
    assert whole["schema"]["type"] in ("array", "object", "string")


@pytest.mark.e2e
def test_an_explicit_null_goes_up_as_null(served: dict[str, Any]) -> None:
    """Found by review: `{"milestone": null}` (GitHub's way to clear it) went up as `{}`.
    A member given as null is sent as null; one never given is left out."""
    payload = {"title": "T", "milestone": None}
    reply = httpx.post(f"{served['rest']}/repos/octo/hello/issues", json=payload, timeout=10)
    assert reply.status_code == 201, reply.text
    assert orjson.loads(served["recorder"].seen[-1].body) == {"title": "T", "milestone": None}


@pytest.mark.e2e
def test_a_form_of_too_many_fields_is_a_quick_400(served: dict[str, Any]) -> None:
    """Found by review: 10 MiB of tiny form fields cost seconds of CPU on the event loop
    that every port shares. Past 1,000 fields: 400 before they are parsed."""
    import time

    body = b"&".join(b"f%d=x" % n for n in range(200_000))
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    started = time.monotonic()
    reply = httpx.post(f"{served['rest']}/tokens", content=body, headers=headers, timeout=30)
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"]["problems"] == [{"name": "body", "problem": "too many fields"}]
    parts = b"".join(
        b'--b\r\nContent-Disposition: form-data; name="f%d"\r\n\r\nx\r\n' % n for n in range(20_000)
    )
    multipart = {"Content-Type": "multipart/form-data; boundary=b"}
    reply = httpx.post(f"{served['rest']}/uploads", content=parts + b"--b--\r\n", headers=multipart)
    assert reply.status_code == 400, reply.text
    assert time.monotonic() - started < 10


@pytest.mark.e2e
def test_a_malformed_part_or_a_file_where_json_goes_is_a_400(served: dict[str, Any]) -> None:
    bad_charset = (
        b'--b\r\nContent-Disposition: form-data; name="purpose"\r\n'
        b"Content-Type: text/plain; charset=x-nope\r\n\r\nhi\r\n--b--\r\n"
    )
    multipart = {"Content-Type": "multipart/form-data; boundary=b"}
    reply = httpx.post(f"{served['rest']}/uploads", content=bad_charset, headers=multipart)
    assert reply.status_code == 400, reply.text
    file_in_json = (
        b'--b\r\nContent-Disposition: form-data; name="title"; filename="t.bin"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\nraw\r\n--b--\r\n"
    )
    path = "/repos/octo/hello/issues"
    reply = httpx.post(f"{served['rest']}{path}", content=file_in_json, headers=multipart)
    assert reply.status_code == 400, reply.text
    assert "multipart" in reply.json()["error"]["message"]
