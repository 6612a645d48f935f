"""Every capability the docs show is a file in docs/examples/ that validates (under `--strict`
too, unless the page says it is not portable) and serves: each one is served by a real
`naftiko-runtime serve` against a recording upstream on loopback (the tutorial's against the
bundled Letta simulator, as the tutorial runs it), and answers what its page says."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from mcp import Client

from tests.conftest import REPO, cli
from tests.fixtures.process import serve
from tests.fixtures.upstream import RecordingUpstream, Reply, running

EXAMPLES = REPO / "docs" / "examples"
NOT_PORTABLE = {"dialect.yaml"}  # docs/reference/dialect.md: valid here, refused by --strict
RUN_1 = "run-00005eed-0000-4000-8000-000000000001"  # the simulator's first run


@dataclass
class Served:
    """A served example: base URL per spec port, and what the upstream received."""

    urls: dict[int, str]
    upstream: RecordingUpstream

    def get(self, path: str, port: int = 8080, **kwargs: Any) -> httpx.Response:
        return httpx.get(self.urls[port] + path, timeout=10, **kwargs)

    def mcp(self, port: int = 9090) -> str:
        return self.urls[port] + "/mcp"

    @property
    def seen(self) -> list[Any]:
        return self.upstream.seen


@dataclass
class Case:
    check: Callable[[Served], None]
    replies: dict[str, Reply] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    simulate: bool = False  # the Letta simulator instead of the recording upstream


def _json(payload: Any, content_type: str = "application/json") -> Reply:
    return Reply(body=json.dumps(payload).encode(), content_type=content_type)


def _mcp(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


# ------------------------------------------------------------------- one check per example


def check_minimal(s: Served) -> None:
    assert s.get("/items").json() == {"path": "/items", "method": "GET"}


def check_binds(s: Served) -> None:
    assert s.get("/items").status_code == 200
    [seen] = s.seen
    assert seen.headers["authorization"] == "Bearer tok-from-the-file"
    assert seen.query == "limit=25"


def check_consumes(s: Served) -> None:
    assert s.get("/stock/w1?sku=A-1", headers={"tag": "t-9"}).status_code == 200
    [seen] = s.seen
    assert (seen.raw_path, seen.query) == ("/warehouses/w1/stock", "sku=A-1")
    assert seen.headers["api-version"] == "2026-01-01"
    assert seen.headers["x-request-tag"] == "t-9" and seen.headers["cookie"] == "region=eu-west"


def check_upstream_auth(s: Served) -> None:
    assert s.get("/invoices").json() == {"echo": "***"}  # the token never comes back
    s.get("/accounts")
    s.get("/geocode?address=1+Main+St")
    invoices, accounts, geocode = s.seen
    assert invoices.headers["authorization"] == "Bearer tok-billing-1"
    assert (
        accounts.headers["authorization"]
        == "Basic " + base64.b64encode(b"ops:pw-legacy-2").decode()
    )
    assert geocode.query == "key=key-maps-3&address=1%20Main%20St"


def check_bodies(s: Served) -> None:
    title = 'Printer "on fire"'
    reply = httpx.post(
        s.urls[8080] + "/tickets", json={"title": title, "priority": "high"}, timeout=10
    )
    assert reply.status_code == 200
    s.get("/search?query=paper+jam")
    ticket, search = s.seen
    assert ticket.headers["content-type"] == "application/json"
    assert json.loads(ticket.body) == {"title": title, "priority": "high", "source": "gateway"}
    assert search.headers["content-type"] == "application/x-www-form-urlencoded"
    assert search.body == b"q=paper%20jam"


def check_formats(s: Served) -> None:
    assert s.get("/sales").json() == [
        {"region": "north", "total": "12"},
        {"region": "south", "total": "7"},
    ]
    assert s.get("/feed").json() == [{"title": "Launch", "id": "1"}, {"title": "Patch", "id": "2"}]


def check_outputs(s: Served) -> None:
    assert s.get("/ships/9321483").json() == {
        "imo": "9321483",
        "name": "Aurora",
        "flag": "NO",
        "specs": {"tonnage": 52000},
        "crew": ["Ines", "Ola"],
        "source": "fleet-registry",
    }


def check_forward(s: Served) -> None:
    headers = {"Accept": "application/vnd.github+json", "X-Internal": "no"}
    reply = s.get("/github/repos/octo/hello/issues?state=open", headers=headers)
    assert reply.status_code == 200
    [seen] = s.seen
    assert (seen.raw_path, seen.query) == ("/repos/octo/hello/issues", "state=open")
    assert seen.headers["authorization"] == "Bearer ghp-test-1"
    assert seen.headers["accept"] == "application/vnd.github+json"
    assert seen.headers["x-github-api-version"] == "2022-11-28"
    assert "x-internal" not in seen.headers  # not a trusted header


def check_inbound_auth(s: Served) -> None:
    refused = s.get("/items")
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
    assert refused.json()["error"]["type"] == "unauthorized"
    assert s.get("/items", headers={"Authorization": "Bearer gw-secret-1"}).status_code == 200
    assert len(s.seen) == 1


def check_mcp(s: Served) -> None:
    async def scenario() -> None:
        async with Client(s.mcp()) as client:
            [tool] = (await client.list_tools()).tools
            assert tool.name == "list-ships" and tool.annotations is not None
            assert tool.annotations.read_only_hint is True
            result = await client.call_tool("list-ships", {"status": "active"})
            assert result.structured_content == {"result": [{"imo": "9321483", "name": "Aurora"}]}
            read = await client.read_resource("data://fleet/ships/9321483")
            assert json.loads(read.contents[0].text)["vessel_name"] == "Aurora"  # type: ignore[union-attr]
            prompt = await client.get_prompt("voyage-brief", {"ship": "Aurora"})
            text = prompt.messages[0].content.text  # type: ignore[union-attr]
            assert text == "Write a one-paragraph voyage brief for Aurora."

    _mcp(scenario())
    assert (s.seen[0].raw_path, s.seen[0].query) == ("/ships", "status=active")
    assert s.seen[1].raw_path == "/ships/9321483"


def check_steps(s: Served) -> None:
    assert s.get("/people/u1").json() == {
        "id": "u1",
        "contact": {"email": "ada@example.org", "name": "Ada"},
        "region": "eu-west",
    }


def check_script(s: Served) -> None:
    assert s.get("/top-items").json() == {"names": ["lamp", "chair", "kettle"]}


def check_aggregates(s: Served) -> None:
    assert s.get("/forecast/Oslo").json() == {"city": "Oslo", "high": 4}

    async def scenario() -> None:
        async with Client(s.mcp()) as client:
            [tool] = (await client.list_tools()).tools
            assert tool.annotations is not None  # from `semantics`
            assert (tool.annotations.read_only_hint, tool.annotations.idempotent_hint) == (
                True,
                True,
            )
            result = await client.call_tool("city-forecast", {"city": "Oslo"})
            assert result.structured_content == {"city": "Oslo", "high": 4}

    _mcp(scenario())


def check_mock(s: Served) -> None:
    assert s.get("/hello?name=Ada").json() == {"message": "Hello, Ada!"}

    async def scenario() -> None:
        async with Client(s.mcp()) as client:
            result = await client.call_tool("greet", {"name": "Ada"})
            assert result.structured_content == {"message": "Hello, Ada!", "source": "mock"}

    _mcp(scenario())
    assert s.seen == []  # no upstream at all


def check_skill(s: Served) -> None:
    listing = s.get("/skills", port=8090).json()
    assert [skill["name"] for skill in listing["skills"]] == ["catalog-guide"]
    skill = s.get("/skills/catalog-guide", port=8090).json()
    derived = skill["tools"][0]["invocationRef"]
    assert derived == {"targetNamespace": "catalog-mcp", "action": "list-items", "mode": "mcp"}
    files = s.get("/skills/catalog-guide/contents", port=8090).json()["files"]
    assert [f["path"] for f in files] == ["SKILL.md", "how-to-search.md"]


def check_control(s: Served) -> None:
    s.get("/items")
    assert s.get("/health/ready", port=9191).json()["status"] == "UP"
    assert s.get("/status", port=9191).json()["capabilities"][0]["label"] == "Control"
    metrics = s.get("/metrics", port=9191).text
    assert 'naftiko_requests_total{adapter="rest",operation="GET /items",outcome="2xx"} 1.0' in (
        metrics
    )


def check_import(s: Served) -> None:
    assert s.get("/items").json() == {"path": "/items", "method": "GET"}


def check_dialect(s: Served) -> None:
    assert s.get("/jobs?limit=2").status_code == 200
    assert s.seen[0].query == "limit=2"
    missing = s.get("/jobs")  # `required: true` on a REST input (dialect)
    assert missing.status_code == 400
    assert missing.json()["error"]["problems"] == [{"name": "limit", "problem": "required"}]


def check_tutorial_1(s: Served) -> None:
    runs = s.get("/runs?limit=2").json()
    assert len(runs) == 2 and set(runs[0]) == {"id", "status", "agent"}
    assert s.get(f"/runs/{RUN_1}").json()["status"] == "completed"


def check_tutorial_2(s: Served) -> None:
    check_tutorial_1(s)

    async def scenario() -> None:
        async with Client(s.mcp()) as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            assert names == {"list-runs", "get-run"}
            result = await client.call_tool("list-runs", {"limit": 1})
            assert set(result.structured_content["result"][0]) == {"id", "status"}  # type: ignore[index]

    _mcp(scenario())


def check_quickstart(s: Served) -> None:
    assert s.get(f"/runs/{RUN_1}").json() == {
        "id": RUN_1,
        "status": "completed",
        "agent": "agent-00005eed-0000-4000-8000-000000000001",
    }

    async def scenario() -> None:
        async with Client(s.mcp()) as client:
            result = await client.call_tool("get-run", {"run-id": RUN_1})
            assert result.structured_content["stop_reason"] == "end_turn"  # type: ignore[index]

    _mcp(scenario())


TUTORIAL_REPORT = {
    "id": RUN_1,
    "status": "completed",
    "agent": "agent-00005eed-0000-4000-8000-000000000001",
    "tokens": {"prompt": 1800, "total": 1920},
}


def check_tutorial_3(s: Served) -> None:
    assert s.get(f"/runs/{RUN_1}/report").json() == TUTORIAL_REPORT

    async def scenario() -> None:
        async with Client(s.mcp()) as client:
            result = await client.call_tool("run-report", {"run-id": RUN_1})
            assert result.structured_content == TUTORIAL_REPORT

    _mcp(scenario())


SHIP = {"imo_number": "9321483", "vessel_name": "Aurora"}
CASES: dict[str, Case] = {
    "minimal.yaml": Case(check_minimal),
    "binds.yaml": Case(check_binds, env={"CATALOG_PAGE_SIZE": "25"}),
    "consumes.yaml": Case(check_consumes),
    "upstream-auth.yaml": Case(
        check_upstream_auth,
        {"/invoices": _json({"echo": "Bearer tok-billing-1"})},
        {
            "BILLING_TOKEN": "tok-billing-1",
            "LEGACY_USER": "ops",
            "LEGACY_PASSWORD": "pw-legacy-2",
            "MAPS_KEY": "key-maps-3",
        },
    ),
    "bodies.yaml": Case(check_bodies),
    "formats.yaml": Case(
        check_formats,
        {
            "/sales.csv": Reply(body=b"region,total\nnorth,12\nsouth,7\n", content_type="text/csv"),
            "/feed.xml": Reply(
                body=b"<feed><entry><title>Launch</title><id>1</id></entry>"
                b"<entry><title>Patch</title><id>2</id></entry></feed>",
                content_type="application/xml",
            ),
        },
    ),
    "outputs.yaml": Case(
        check_outputs,
        {
            "/ships/": _json(
                {
                    **SHIP,
                    "registration": {"flag_code": "NO"},
                    "gross_tonnage": 52000,
                    "crew": [{"name": "Ines"}, {"name": "Ola"}],
                }
            )
        },
    ),
    "forward.yaml": Case(check_forward, env={"GITHUB_TOKEN": "ghp-test-1"}),
    "inbound-auth.yaml": Case(check_inbound_auth, env={"GATEWAY_TOKEN": "gw-secret-1"}),
    "mcp.yaml": Case(check_mcp, {"/ships/": _json(SHIP), "/ships": _json([SHIP])}),
    "steps.yaml": Case(
        check_steps,
        {
            "/users": _json(
                [
                    {"id": "u1", "email": "ada@example.org", "name": "Ada"},
                    {"id": "u2", "email": "bo@example.org", "name": "Bo"},
                ]
            ),
            "/profiles/u1": _json({"id": "u1", "location": {"region": "eu-west", "city": "Oslo"}}),
        },
    ),
    "script.yaml": Case(
        check_script,
        {
            "/items": _json(
                [
                    {"name": "kettle", "rating": 4.1},
                    {"name": "lamp", "rating": 4.8},
                    {"name": "mug", "rating": 3.2},
                    {"name": "chair", "rating": 4.5},
                ]
            )
        },
    ),
    "aggregates.yaml": Case(
        check_aggregates, {"/forecast/": _json({"city": "Oslo", "tomorrow": {"high_c": 4}})}
    ),
    "mock.yaml": Case(check_mock),
    "skill.yaml": Case(check_skill),
    "control.yaml": Case(check_control),
    "import.yaml": Case(check_import),
    "dialect.yaml": Case(check_dialect),
    "quickstart.yaml": Case(check_quickstart, simulate=True),
    "tutorial-1-rest.yaml": Case(check_tutorial_1, simulate=True),
    "tutorial-2-mcp.yaml": Case(check_tutorial_2, simulate=True),
    "tutorial-3-steps.yaml": Case(check_tutorial_3, simulate=True),
}


def test_every_example_file_has_a_case() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.yaml")) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_example_validates(name: str) -> None:
    path = str(EXAMPLES / name)
    plain = cli("validate", "--max-warnings", "0", path)
    assert plain.code == 0, plain.out
    strict = cli("validate", "--strict", "--format", "json", path)
    if name in NOT_PORTABLE:
        assert strict.code == 1
        assert {d["rule"] for d in strict.json()["diagnostics"]} == {"portability"}
        assert strict.json()["valid"] is True and strict.json()["portable"] is False
    else:
        assert strict.code == 0, strict.out


def _ports(path: Path) -> list[int]:
    document = yaml.safe_load(path.read_text())
    return [int(e["port"]) for e in document["capability"]["exposes"] if "port" in e]


@pytest.fixture
def upstream() -> Iterator[tuple[RecordingUpstream, str]]:
    recording = RecordingUpstream()
    with running(recording) as url:
        yield recording, url


@pytest.mark.e2e
@pytest.mark.parametrize("name", sorted(CASES))
def test_example_serves_what_its_page_says(
    name: str, upstream: tuple[RecordingUpstream, str]
) -> None:
    case, path = CASES[name], EXAMPLES / name
    recording, url = upstream
    recording.script = case.replies
    args = ["--simulate", "always"] if case.simulate else ["--upstream", f"*={url}"]
    with serve(path, *args, env=case.env, ports=_ports(path), ready=None) as process:
        urls = {port: process.url(port) for port in process.ports}
        for base in urls.values():
            process.wait_ready(base + "/")
        try:
            case.check(Served(urls, recording))
        except AssertionError:
            print(process.output())
            raise
