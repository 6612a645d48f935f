"""The Naftiko tutorial (steps 1-11) served as written, against the Microcks documents of its
upstreams replayed on loopback, called with the official MCP client and over REST.

Follows the reference engine's `tutorial/Step*ShipyardMcpClientIntegrationTest` and
`Step10ShipyardRestAdapterIntegrationTest`, with the values its Microcks data gives.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client

from tests.conftest import CORPUS
from tests.fixtures.microcks import MicrocksReplay
from tests.fixtures.process import serve
from tests.fixtures.upstream import running

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared corpus is not beside the repo"),
]
FRAMEWORK = CORPUS / "naftiko-framework"
TUTORIAL = FRAMEWORK / "src" / "main" / "resources" / "tutorial"
MICROCKS = FRAMEWORK / "microcks"
MCP_TOKEN = "sk-mcp-YYYYYYYYYYYY"  # the tutorial's shared/secrets.yaml
NORTHERN_STAR = {
    "imo": "IMO-9321483",
    "name": "Northern Star",
    "type": "cargo",
    "flag": "NO",
    "status": "active",
}
CREW = [
    {"fullName": "Erik Lindström", "role": "captain"},
    {"fullName": "Aiko Tanaka", "role": "cook"},
]
SHIP_WITH_CREW = {
    **NORTHERN_STAR,
    "yearBuilt": 2015,
    "tonnage": 42000,
    "length": 229,
    "crew": CREW,
}
VOYAGE = {
    "shipImo": "IMO-9321483",
    "departurePort": "Oslo",
    "arrivalPort": "Singapore",
    "departureDate": "2026-04-10",
    "arrivalDate": "2026-05-02",
    "crewIds": ["CREW-001", "CREW-003"],
    "cargoIds": ["CARGO-2024-0451"],
}
MAPPED_VOYAGE = {
    "voyageId": "VOY-2026-042",
    "shipImo": "IMO-9321483",
    "route": {"from": "Oslo", "to": "Singapore"},
    "dates": {"departure": "2026-04-10", "arrival": "2026-05-02"},
    "crewIds": ["CREW-001", "CREW-003"],
    "cargoIds": ["CARGO-2024-0451"],
    "status": "planned",
}


class Tutorial:
    """One step's spec served on free ports, its upstreams replayed."""

    def __init__(self, step: int, urls: dict[int, str], registry: MicrocksReplay) -> None:
        self.step = step
        self.urls = urls
        self.registry = registry

    @property
    def mcp(self) -> str:
        return self.urls[3001] + "/mcp"

    def client(self) -> Client:
        http = create_mcp_http_client(headers={"Authorization": f"Bearer {MCP_TOKEN}"})
        return Client(streamable_http_client(self.mcp, http_client=http))

    async def call(self, tool: str, arguments: dict[str, Any]) -> Any:
        async with self.client() as client:
            result = await client.call_tool(tool, arguments)
        assert result.is_error is False, result.content
        return json.loads(result.content[0].text)  # type: ignore[union-attr]

    async def tool_names(self) -> list[str]:
        async with self.client() as client:
            return [t.name for t in (await client.list_tools()).tools]

    async def tools(self) -> dict[str, Any]:
        async with self.client() as client:
            return {t.name: t for t in (await client.list_tools()).tools}


@contextmanager
def tutorial(step: int) -> Iterator[Tutorial]:
    registry = MicrocksReplay.load(MICROCKS / "naftiko-shipyard-maritime-registry-api.yaml")
    legacy = MicrocksReplay.load(MICROCKS / "naftiko-shipyard-legacy-dockyard-api.yaml")
    with running(registry) as registry_url, running(legacy) as legacy_url:
        args = [TUTORIAL / step_file(step), "--host", "127.0.0.1"]
        args += ["--upstream", f"registry={registry_url}", "--upstream", f"legacy={legacy_url}"]
        with serve(*args, ports=[3001, 3002, 3003], ready="/mcp") as process:
            yield Tutorial(step, {port: process.url(port) for port in process.ports}, registry)


@pytest.fixture(scope="module")
def served(request: pytest.FixtureRequest) -> Iterator[Tutorial]:
    """The step a test names (`indirect` parametrization), served once for all the tests that
    name it: pytest runs those one after another, then stops it. The tests only read."""
    with tutorial(request.param) as running_step:
        yield running_step


def step_file(number: int) -> str:
    [match] = [p.name for p in TUTORIAL.glob(f"step-{number}-*.y*ml")]
    return match


# ------------------------------------------------------------------ steps 1-6 (single calls)
@pytest.mark.parametrize("served", [1], indirect=True)
async def test_step1_mock_tool_renders_its_values(served: Tutorial) -> None:
    assert await served.tool_names() == ["get-ship"]
    assert await served.call("get-ship", {"imo_number": "IMO-9321483"}) == NORTHERN_STAR


@pytest.mark.parametrize("served", [2, 3, 4], indirect=True)
async def test_steps2_to_4_list_and_get_ships(served: Tutorial) -> None:
    tools = await served.tools()
    assert list(tools)[:2] == ["list-ships", "get-ship"]
    assert "status" not in tools["list-ships"].input_schema.get("required", [])
    assert tools["get-ship"].input_schema["required"] == ["imo"]
    ships = await served.call("list-ships", {})
    assert [s["name"] for s in ships] == ["Northern Star", "Pacific Dawn"]
    assert await served.call("list-ships", {"status": "active"}) == [NORTHERN_STAR]
    ship = await served.call("get-ship", {"imo": "IMO-9321483"})
    assert {k: ship[k] for k in NORTHERN_STAR} == NORTHERN_STAR
    if served.step >= 3:  # binds from the spec's secrets file reach the upstream
        seen = served.registry.seen[-1]
        assert seen.headers["authorization"] == "Bearer dummy-token"
        assert seen.headers["registry-version"] == "1.0.0-alpha2"
    if served.step == 4:
        assert ship["specs"] == {"yearBuilt": 2015, "tonnage": 42000, "length": 229}


@pytest.mark.parametrize("served", [5], indirect=True)
async def test_step5_legacy_xml_vessels_are_mapped(served: Tutorial) -> None:
    """Follows Step5ShipyardMcpClientIntegrationTest: an XML upstream read with JSONPath."""
    vessels = await served.call("list-legacy-vessels", {})
    assert vessels == [
        {
            "vesselCode": "LEGACY-4012",
            "name": "Old Faithful",
            "type": "cargo",
            "flag": "GB",
            "status": "active",
        },
        {
            "vesselCode": "LEGACY-2087",
            "name": "Iron Maiden",
            "type": "bulk_carrier",
            "flag": "PA",
            "status": "laid_up",
        },
    ]


@pytest.mark.parametrize("served", [6], indirect=True)
async def test_step6_create_voyage_posts_a_json_body_and_maps_the_result(served: Tutorial) -> None:
    assert await served.call("create-voyage", VOYAGE) == MAPPED_VOYAGE
    sent = json.loads(served.registry.seen[-1].body)
    assert sent == VOYAGE


@pytest.mark.parametrize("served", [6], indirect=True)
async def test_step6_quotes_in_values_never_break_the_upstream_json(served: Tutorial) -> None:
    tricky = {**VOYAGE, "departurePort": 'Oslo "Havn" \\ 1', "cargoIds": []}
    await served.call("create-voyage", tricky)
    assert json.loads(served.registry.seen[-1].body) == tricky


# ------------------------------------------------------------------ steps 7-11 (the graph)
@pytest.mark.parametrize("served", [7], indirect=True)
async def test_step7_get_ship_with_crew_runs_call_call_lookup(served: Tutorial) -> None:
    """Follows Step7ShipyardMcpClientIntegrationTest.getShipWithCrewShouldReturnMapped..."""
    assert await served.tool_names() == [
        "list-ships",
        "get-ship",
        "list-legacy-vessels",
        "create-voyage",
        "get-ship-with-crew",
    ]
    assert await served.call("get-ship-with-crew", {"imo": "IMO-9321483"}) == SHIP_WITH_CREW
    crew = httpx.get(served.urls[3002] + "/ships/IMO-9321483/crew", timeout=10)
    assert crew.status_code == 200
    assert crew.json() == SHIP_WITH_CREW


@pytest.mark.parametrize("served", [8, 9], indirect=True)
async def test_steps8_and_9_keep_the_five_tools(served: Tutorial) -> None:
    tools = await served.tools()
    assert list(tools) == [
        "list-ships",
        "get-ship",
        "list-legacy-vessels",
        "create-voyage",
        "get-ship-with-crew",
    ]
    assert await served.call("create-voyage", VOYAGE) == MAPPED_VOYAGE
    assert await served.call("get-ship-with-crew", {"imo": "IMO-9321483"}) == SHIP_WITH_CREW
    if served.step == 9:  # the aggregate function's semantics become the tool's hints
        hints = tools["get-ship-with-crew"].annotations
        assert hints is not None
        assert (hints.read_only_hint, hints.destructive_hint, hints.idempotent_hint) == (
            True,
            False,
            True,
        )


@pytest.mark.parametrize("served", [10], indirect=True)
async def test_step10_rest_adapter_passes_201_and_serves_the_aggregate(served: Tutorial) -> None:
    """Follows Step10ShipyardRestAdapterIntegrationTest."""
    rest = served.urls[3003]
    ships = httpx.get(rest + "/ships", timeout=10)
    assert ships.status_code == 200
    assert ships.json()[0] == NORTHERN_STAR
    created = httpx.post(rest + "/voyages", json=VOYAGE, timeout=10)
    assert created.status_code == 201  # the upstream's status, passed through
    assert created.json() == MAPPED_VOYAGE
    crew = httpx.get(rest + "/ships/IMO-9321483/crew", timeout=10)
    assert (crew.status_code, crew.json()) == (200, SHIP_WITH_CREW)
    vessels = httpx.get(rest + "/legacy/vessels", params={"status": "active"}, timeout=10)
    assert vessels.status_code == 200
    assert vessels.json()[0]["vesselCode"] == "LEGACY-4012"


@pytest.mark.parametrize("served", [11], indirect=True)
async def test_step11_voyage_manifest_joins_three_lookups(served: Tutorial) -> None:
    """Follows Step11ShipyardFleetManifestIntegrationTest, calling the manifest as a user
    would (the reference test lists it only)."""
    names = await served.tool_names()
    assert names[-1] == "get-voyage-manifest" and len(names) == 6
    manifest = await served.call("get-voyage-manifest", {"voyageId": "VOY-2026-042"})
    assert manifest == {
        "voyageId": "VOY-2026-042",
        "status": "planned",
        "route": {"from": "Oslo", "to": "Singapore"},
        "ship": {"name": "Northern Star", "type": "cargo", "flag": "NO"},
        "crew": CREW,
        "cargo": [
            {
                "type": "container",
                "description": "Electronics components",
                "weight": 12.5,
                "hazardous": False,
            }
        ],
    }
    flat = httpx.get(served.urls[3002] + "/voyages/VOY-2026-042/manifest", timeout=10)
    assert flat.status_code == 200
    assert flat.json()["shipName"] == "Northern Star"
    assert flat.json()["crew"] == CREW


def test_tutorial_files_are_all_covered() -> None:
    covered = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
    assert {int(p.name.split("-")[1]) for p in Path(TUTORIAL).glob("step-*.y*ml")} == covered


TOOL_ARGUMENTS: dict[str, dict[str, Any]] = {
    "list-ships": {"status": "active"},
    "get-ship": {"imo": "IMO-9321483"},
    "list-legacy-vessels": {"status": "laid_up"},
    "create-voyage": VOYAGE,
    "get-ship-with-crew": {"imo": "IMO-9321483"},
    "get-voyage-manifest": {"voyageId": "VOY-2026-042"},
}
REST_CALLS = [
    ("GET", "/ships", None),
    ("GET", "/ships/IMO-9321483", None),
    ("GET", "/ships/IMO-9321483/crew", None),
    ("GET", "/legacy/vessels", None),
    ("POST", "/voyages", VOYAGE),
    ("GET", "/voyages/VOY-2026-042/manifest", None),
]
REST_PORT = {7: 3002, 10: 3003, 11: 3002}


@pytest.mark.parametrize("served", range(2, 12), indirect=True)
async def test_every_tool_and_rest_operation_of_each_step_answers(served: Tutorial) -> None:
    """Every MCP tool a step declares answers without error; so does every REST operation."""
    step = served.step
    for name in await served.tool_names():
        result = await served.call(name, TOOL_ARGUMENTS[name])
        assert result, (step, name)
    port = REST_PORT.get(step)
    if port is None:
        return
    openapi = httpx.get(served.urls[port] + "/openapi.json", timeout=10).json()
    declared = {(m.upper(), p) for p, item in openapi["paths"].items() for m in item}
    for method, path, body in REST_CALLS:
        template = path.replace("IMO-9321483", "{imo}").replace("VOY-2026-042", "{voyageId}")
        if (method, template) not in declared:
            continue
        declared.discard((method, template))
        reply = httpx.request(method, served.urls[port] + path, json=body, timeout=10)
        assert reply.status_code in (200, 201), (step, path, reply.text)
    assert declared == set(), f"step {step}: REST operations not called: {declared}"


SKILL_PORT = {7: 3003, 8: 3002, 9: 3002, 10: 3002, 11: 3003}


@pytest.mark.parametrize("served", [7, 8, 9, 10, 11], indirect=True)
def test_skill_catalog_and_detail(served: Tutorial) -> None:
    """Step8/Step10/Step11 ...SkillCatalogShouldExposeFleetAndVoyageGroups,
    ...FleetOpsSkillDetailShouldExposeDerivedMcpInvocationRefs,
    skillVoyageOpsShouldIncludeVoyageManifestTool."""
    step = served.step
    base = served.urls[SKILL_PORT[step]]
    catalog = httpx.get(base + "/skills", timeout=10)
    assert catalog.status_code == 200
    assert catalog.json()["count"] == 2
    assert {s["name"] for s in catalog.json()["skills"]} == {"fleet-ops", "voyage-ops"}
    fleet = httpx.get(base + "/skills/fleet-ops", timeout=10).json()
    assert fleet["name"] == "fleet-ops" and len(fleet["tools"]) == 4
    for tool in fleet["tools"]:
        assert tool["type"] == "derived"
        assert tool["invocationRef"]["targetNamespace"] == "shipyard-tools"
        assert tool["invocationRef"]["mode"] == "mcp" and tool["invocationRef"]["action"]
    voyage = httpx.get(base + "/skills/voyage-ops", timeout=10).json()
    expected = {"create-voyage", "get-voyage-manifest"} if step == 11 else {"create-voyage"}
    assert {t["name"] for t in voyage["tools"]} == expected
    assert httpx.get(base + "/skills/nope", timeout=10).status_code == 404


@pytest.mark.parametrize("served", [11], indirect=True)
async def test_orchestrated_tools_advertise_an_output_schema_their_results_meet(
    served: Tutorial,
) -> None:
    """Beyond the reference: a tool with declared outputs lists an `outputSchema` derived
    from them, and the official client's structured result validates against it."""
    from jsonschema import Draft202012Validator

    async with served.client() as client:
        listed = await client.list_tools()
        assert listed.cache_scope == "private"  # an authenticated endpoint: per client
        tools = {t.name: t for t in listed.tools}
        schema = tools["get-voyage-manifest"].output_schema
        assert schema is not None and schema["type"] == "object"
        assert {"voyageId", "ship", "crew", "cargo"} <= set(schema["properties"])
        assert schema["properties"]["crew"]["type"] == ["array", "null"]
        result = await client.call_tool("get-voyage-manifest", {"voyageId": "VOY-2026-042"})
    assert list(Draft202012Validator(schema).iter_errors(result.structured_content)) == []
