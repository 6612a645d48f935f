"""`naftiko-runtime import openapi`: real documents (the full Letta OpenAPI, Swagger 2.0 and
OpenAPI 3.0 examples from the npm registry, a Microcks document of the reference's tutorial)
become capabilities that validate under `--strict`, serve against a Prism mock of the same
document with every GET answering 2xx, carry the official letta-client SDK, and export back
to an OpenAPI with the same operations. Unit cases follow the reference's
OasImportConverterTest and OasImportIntegrationTest, named after them."""

from __future__ import annotations

import io
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from naftiko_runtime.cli import run
from naftiko_runtime.openapi.documents import load_document
from naftiko_runtime.openapi.importer import ImportOptions, import_openapi
from tests.conftest import REPO
from tests.fixtures.prism import PRISM, running_prism
from tests.fixtures.process import serve
from tests.fixtures.sdk_venvs import sdk_python

CORPUS = REPO.parent / "shared" / "corpus"
EXAMPLES = REPO / "node_modules" / "@readme" / "oas-examples"
LETTA = CORPUS / "letta" / "openapi" / "letta-openapi-full.json"
DOCUMENTS = {
    "letta-3.1": (LETTA, "letta", {"LETTA_TOKEN": "prism-token"}),
    "petstore-swagger-2.0": (
        EXAMPLES / "2.0" / "json" / "petstore.json",
        None,
        {"SWAGGER_PETSTORE_TOKEN": "t", "SWAGGER_PETSTORE_API_KEY": "k"},
    ),
    "uspto-3.0": (EXAMPLES / "3.0" / "json" / "uspto.json", None, {}),
    "dockyard-xml-apikey": (
        CORPUS / "naftiko-framework" / "microcks" / "naftiko-shipyard-legacy-dockyard-api.yaml",
        None,
        {"NAFTIKO_SHIPYARD_LEGACY_DOCKYARD_API_API_KEY": "dock-key"},
    ),
}


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return run(list(args), out, err, {}), out.getvalue(), err.getvalue()


def imported(tmp: Path, source: Path, namespace: str | None = None, *extra: str) -> Path:
    out = tmp / "imported.yaml"
    args = ["import", "openapi", str(source), "-o", str(out), "--force", *extra]
    code, _, err = cli(*args, *(["--namespace", namespace] if namespace else []))
    assert code == 0, err
    return out


def example_value(parameter: dict[str, Any]) -> str:
    """A value the upstream's schema accepts (its example, enum, default), for Prism."""
    schema = parameter.get("schema") or parameter
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        schema = schema["items"]
    for candidate in (
        (schema.get("examples") or [None])[0],
        schema.get("example"),
        parameter.get("example"),
        (schema.get("enum") or [None])[0],
        schema.get("default"),
    ):
        if candidate is not None:
            return str(candidate).lower() if isinstance(candidate, bool) else str(candidate)
    return "1" if schema.get("type") in ("integer", "number") else "x1"


def get_urls(source: Path) -> list[tuple[str, dict[str, str]]]:
    document = load_document(source)
    urls = []
    for operation in document.operations():
        if operation.method != "GET":
            continue
        path, query = operation.path, {}
        for p in operation.parameters:
            if p.get("in") == "path":
                path = path.replace("{" + str(p["name"]) + "}", example_value(p))
            elif p.get("in") == "query" and p.get("required"):
                query[str(p["name"])] = example_value(p)
        urls.append((path, query))
    return urls


@pytest.fixture(params=list(DOCUMENTS), scope="module")
def served(request: pytest.FixtureRequest, tmp_path_factory: Any) -> Iterator[dict[str, Any]]:
    source, namespace, env = DOCUMENTS[request.param]
    if not source.exists():
        pytest.skip(f"{source.name} is not here (corpus or npm ci)")
    if not PRISM.exists():
        pytest.skip("Prism is not installed (npm ci)")
    tmp = tmp_path_factory.mktemp(request.param)
    spec = imported(tmp, source, namespace)
    with running_prism(source, tmp / "prism.log") as prism:
        with serve(spec, "--upstream", f"*={prism}", env=env, ready=None) as process:
            process.wait_ready(process.rest + "/openapi.json", timeout=60)
            yield {"name": request.param, "source": source, "spec": spec, "rest": process.rest}


@pytest.mark.contract
def test_the_import_validates_under_strict(served: dict[str, Any]) -> None:
    code, report, _ = cli("validate", "--strict", "--compile", str(served["spec"]))
    assert code == 0 and "0 error(s), 0 warning(s)" in report, report
    capability = yaml.safe_load(served["spec"].read_text())["capability"]
    resources = capability["consumes"][0]["resources"]
    operations = len(list(load_document(served["source"]).operations()))
    assert sum(len(r["operations"]) for r in resources) == operations
    assert len(capability["exposes"][1]["tools"]) == operations
    if served["name"] == "letta-3.1":
        assert len(resources) == 239


@pytest.mark.contract
@pytest.mark.timeout(300)
def test_every_get_it_exposes_answers_2xx_from_prism(served: dict[str, Any]) -> None:
    failures = []
    urls = get_urls(served["source"])
    assert urls
    with httpx.Client(timeout=30) as client:
        for path, query in urls:
            reply = client.get(served["rest"] + path, params=query)
            if not 200 <= reply.status_code < 300:
                failures.append((path, reply.status_code, reply.text[:200]))
    assert failures == []
    if served["name"] == "letta-3.1":
        assert len(urls) == 129


@pytest.mark.contract
def test_the_export_round_trips_to_the_same_operations(served: dict[str, Any]) -> None:
    from openapi_spec_validator import validate

    code, exported, err = cli("export", "openapi", str(served["spec"]))
    assert code == 0, err
    document = json.loads(exported)
    validate(document)
    source = load_document(served["source"])
    want = {
        (op.method, op.path): sorted(
            (str(p["name"]), str(p["in"]))
            for p in op.parameters
            if p.get("in") in ("path", "query", "header", "cookie")
            and str(p["name"]).lower() not in ("authorization", "accept", "content-type")
        )
        for op in source.operations()
    }
    got = {
        (method.upper(), path): sorted(
            (str(p["name"]), str(p["in"])) for p in operation.get("parameters", [])
        )
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }
    assert got == want


@pytest.mark.contract
@pytest.mark.timeout(900)
@pytest.mark.parametrize("served", ["letta-3.1"], indirect=True)  # the Letta import only
def test_letta_client_lists_agents_jobs_and_runs_through_the_import(
    served: dict[str, Any],
) -> None:
    script = (
        "from letta_client import Letta\nc = Letta(base_url={base!r}, {auth})\nprint({calls})\n"
    )
    new = script.format(
        base=served["rest"],
        auth="api_key='t', max_retries=0",
        calls="type(c.agents.list()).__name__, type(c.runs.list()).__name__",
    )
    old = script.format(
        base=served["rest"],
        auth="token='t'",
        calls="len(c.agents.list()), len(c.jobs.list()), len(c.runs.list())",
    )
    for major, code in (("1", new), ("0", old)):
        done = subprocess.run(
            [str(sdk_python(major)), "-c", code], capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr[-2000:]
        printed = done.stdout.strip()
        if major == "1":
            assert printed == "SyncArrayPage[AgentState] SyncArrayPage[Run]"
        else:
            assert re.fullmatch(r"\d+ \d+ \d+", printed)


# ---------------------------------------------------------------- unit cases, no sockets
def convert(tmp: Path, document: dict[str, Any], **options: Any) -> dict[str, Any]:
    path = tmp / "doc.yaml"
    path.write_text(yaml.safe_dump(document))
    text = import_openapi(load_document(path), ImportOptions(**options))
    (tmp / "out.yaml").write_text(text)
    loaded: dict[str, Any] = yaml.safe_load(text)
    loaded["_text"] = text
    return loaded


def petstore(**extra: Any) -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {"title": "Petstore API", "version": "1"},
        "servers": [{"url": "https://api.petstore.io/v1/"}, {"url": "https://staging.io"}],
        "paths": {
            "/pets": {
                "get": {
                    "operationId": "listAllPets",
                    "tags": ["pets"],
                    "parameters": [{"name": "fields", "in": "query", "schema": {"type": "string"}}],
                    "responses": {"200": {"description": "ok"}},
                }
            },
            "/pets/{petId}": {
                "parameters": [
                    {"name": "petId", "in": "path", "required": True, "schema": {"type": "integer"}}
                ],
                "delete": {"tags": ["admin"], "responses": {"204": {"description": "gone"}}},
            },
        },
        **extra,
    }


def consumed(result: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = result["capability"]["consumes"][0]
    return entry


def test_convertShouldKebabCaseCamelCaseTitle(tmp_path: Path) -> None:
    document = petstore(info={"title": "MyAwesomeService", "version": "1"})
    assert consumed(convert(tmp_path, document))["namespace"] == "my-awesome-service"


def test_convertShouldDeriveBaseUriFromFirstServer_and_strip_its_trailing_slash(
    tmp_path: Path,
) -> None:
    assert consumed(convert(tmp_path, petstore()))["baseUri"] == "https://api.petstore.io/v1"


def test_convertShouldUsePlaceholderBaseUriWhenNoServers(tmp_path: Path) -> None:
    document = petstore()
    del document["servers"]
    result = convert(tmp_path, document)
    assert consumed(result)["baseUri"] == "https://api.example.com"
    assert "guessed: the document names no absolute server URL" in result["_text"]


def test_convertShouldGroupOperationsByPath_and_name_resources_from_paths(tmp_path: Path) -> None:
    resources = consumed(convert(tmp_path, petstore()))["resources"]
    assert [(r["name"], r["path"]) for r in resources] == [
        ("pets", "/pets"),
        ("pets-pet-id", "/pets/{petId}"),
    ]


def test_convertShouldKebabCaseOperationId_and_SynthesizeOperationNameWhenNoOperationId(
    tmp_path: Path,
) -> None:
    resources = consumed(convert(tmp_path, petstore()))["resources"]
    assert [op["name"] for r in resources for op in r["operations"]] == [
        "list-all-pets",
        "delete-pets-pet-id",
    ]


def test_convertShouldMapPathAndQueryParameters(tmp_path: Path) -> None:
    """Path-level parameters count (the reference reads only the operation's); types and
    required flags go where `--strict` allows them: the exposed inputs."""
    result = convert(tmp_path, petstore())
    pets, by_id = result["capability"]["consumes"][0]["resources"]
    assert by_id["operations"][0]["inputParameters"] == [{"name": "petId", "in": "path"}]
    tools = {t["name"]: t for t in result["capability"]["exposes"][1]["tools"]}
    (pet_id,) = tools["delete-pets-pet-id"]["inputParameters"]
    assert (pet_id["type"], pet_id["required"]) == ("integer", True)
    (fields,) = tools["list-all-pets"]["inputParameters"]
    assert (fields["type"], fields["required"]) == ("string", False)


def test_hints_follow_the_http_method(tmp_path: Path) -> None:
    tools = {
        t["name"]: t for t in convert(tmp_path, petstore())["capability"]["exposes"][1]["tools"]
    }
    assert tools["list-all-pets"]["hints"] == {
        "readOnly": True,
        "destructive": False,
        "idempotent": True,
    }
    assert tools["delete-pets-pet-id"]["hints"] == {
        "readOnly": False,
        "destructive": True,
        "idempotent": True,
    }


@pytest.mark.parametrize(
    ("scheme", "expected", "keys"),
    [
        (
            {"type": "apiKey", "name": "X-API-Key", "in": "header"},
            {
                "type": "apikey",
                "key": "X-API-Key",
                "value": "{{env.PETSTORE_API_API_KEY}}",
                "placement": "header",
            },
            ["PETSTORE_API_API_KEY"],
        ),
        (
            {"type": "http", "scheme": "bearer"},
            {"type": "bearer", "token": "{{env.PETSTORE_API_TOKEN}}"},
            ["PETSTORE_API_TOKEN"],
        ),
        (
            {"type": "http", "scheme": "basic"},
            {
                "type": "basic",
                "username": "{{env.PETSTORE_API_USERNAME}}",
                "password": "{{env.PETSTORE_API_PASSWORD}}",
            },
            ["PETSTORE_API_USERNAME", "PETSTORE_API_PASSWORD"],
        ),
        (
            {"type": "http", "scheme": "digest"},
            {
                "type": "digest",
                "username": "{{env.PETSTORE_API_USERNAME}}",
                "password": "{{env.PETSTORE_API_PASSWORD}}",
            },
            ["PETSTORE_API_USERNAME", "PETSTORE_API_PASSWORD"],
        ),
    ],
)
def test_convertShouldMapAuthentication_with_binds(
    tmp_path: Path, scheme: dict[str, Any], expected: dict[str, Any], keys: list[str]
) -> None:
    """Follows convertShouldMapApiKey/Bearer/Basic/DigestAuthentication; beyond the
    reference, the credential is bound from the environment instead of a placeholder."""
    result = convert(tmp_path, petstore(components={"securitySchemes": {"s": scheme}}))
    assert consumed(result)["authentication"] == expected
    assert result["binds"] == [{"namespace": "env", "keys": {k: k for k in keys}}]


def test_convertShouldWarnOnOAuth2Authentication_and_guess_a_bearer_token(tmp_path: Path) -> None:
    """The reference leaves oauth2 out with a warning; a token obtained elsewhere is what
    an upstream's oauth2 scheme takes, so we bind one and say it was a guess."""
    scheme = {"type": "oauth2", "flows": {"clientCredentials": {"tokenUrl": "/t", "scopes": {}}}}
    result = convert(tmp_path, petstore(components={"securitySchemes": {"o": scheme}}))
    assert consumed(result)["authentication"]["type"] == "bearer"
    assert "guessed: the oauth2 scheme 'o' as a bearer token" in result["_text"]


def test_importSwagger20ShouldConvertBaseUriFromHostAndBasePath(tmp_path: Path) -> None:
    document = {
        "swagger": "2.0",
        "info": {"title": "My Legacy API", "version": "1"},
        "host": "api.legacy.io",
        "basePath": "/v2",
        "schemes": ["https"],
        "paths": {
            "/items": {
                "post": {
                    "operationId": "createItem",
                    "parameters": [
                        {
                            "name": "item",
                            "in": "body",
                            "required": True,
                            "schema": {"type": "object"},
                        }
                    ],
                    "responses": {"200": {"description": "ok"}},
                }
            }
        },
    }
    result = convert(tmp_path, document)
    entry = consumed(result)
    assert (entry["namespace"], entry["baseUri"]) == ("my-legacy-api", "https://api.legacy.io/v2")
    (op,) = entry["resources"][0]["operations"]
    # the reference names the whole body `body` (a name a payload member may also have);
    # ours binds a schema without properties whole, under a name no member can take
    assert op["name"] == "create-item" and "inputParameters" not in op
    assert op["body"] == {"type": "json", "data": "{{requestBody}}"}
    (tool,) = result["capability"]["exposes"][1]["tools"]
    assert tool["inputParameters"][0]["name"] == "requestBody"
    assert tool["inputParameters"][0]["required"] is True


def test_convertShouldMapOas31NullableParameterType(tmp_path: Path) -> None:
    document = petstore(openapi="3.1.0")
    get = document["paths"]["/pets"]["get"]
    get["parameters"] = [{"name": "nick", "in": "query", "schema": {"type": ["string", "null"]}}]
    tools = convert(tmp_path, document)["capability"]["exposes"][1]["tools"]
    assert tools[0]["inputParameters"][0]["type"] == "string"


def test_select_by_tag_path_or_operation_id(tmp_path: Path) -> None:
    def names(*select: str) -> list[str]:
        resources = consumed(convert(tmp_path, petstore(), select=select))["resources"]
        return [op["name"] for r in resources for op in r["operations"]]

    assert names("pets") == ["list-all-pets"]
    assert names("/pets/*") == ["delete-pets-pet-id"]
    assert names("listAllPets", "admin") == ["list-all-pets", "delete-pets-pet-id"]
    with pytest.raises(ValueError, match="no operation matches"):
        names("nothing")


def test_tool_names_stay_within_64_characters_and_unique(tmp_path: Path) -> None:
    long = "get" + "VeryLongOperationName" * 5
    paths = {
        f"/p{n}": {"get": {"operationId": long + str(n % 2), "responses": {}}} for n in range(4)
    }
    result = convert(tmp_path, petstore(paths=paths))
    tools = [t["name"] for t in result["capability"]["exposes"][1]["tools"]]
    assert len(set(tools)) == 4 and all(len(t) <= 64 for t in tools)
    assert all(re.fullmatch(r"[a-z0-9-]+", t) for t in tools)


def test_the_output_is_deterministic_and_says_where_it_guessed(tmp_path: Path) -> None:
    document = petstore()
    document["paths"]["/pets"]["get"]["responses"] = {
        "200": {"description": "ok", "content": {"text/event-stream": {}}}
    }
    first = convert(tmp_path, document)["_text"]
    assert first == convert(tmp_path, document)["_text"]
    assert "# the upstream answers text/event-stream: passed through as it comes" in first


def test_values_from_the_document_cannot_inject_yaml(tmp_path: Path) -> None:
    """A hostile document: a newline in a scheme's `in`, in the version, in a media type,
    and characters YAML refuses raw; the capability keeps exactly its own keys."""
    document = petstore(
        openapi="3.0.3\nfoo: bar",
        components={
            "securitySchemes": {
                "k": {
                    "type": "apiKey",
                    "name": "X-Key",
                    "in": "header\n      inputParameters:\n"
                    '        - {name: X, in: header, value: "v"}',
                }
            }
        },
    )
    get = document["paths"]["/pets"]["get"]
    get["summary"] = "List\x80 pets \ufffe\u2028now"
    get["responses"] = {"200": {"description": "ok", "content": {"text/x-odd\n#x: y": {}}}}
    result = convert(tmp_path, document)
    assert set(result) == {"naftiko", "info", "binds", "capability", "_text"}
    entry = consumed(result)
    assert "inputParameters" not in entry
    assert entry["authentication"]["placement"] == "header"
    op = entry["resources"][0]["operations"][0]
    assert op["description"] == "List\x80 pets \ufffe now"  # U+2028 is a line break
    code, report, _ = cli("validate", str(tmp_path / "out.yaml"))
    assert code == 0, report


def test_refs_are_followed_only_into_files_beside_the_document(tmp_path: Path) -> None:
    from naftiko_runtime.openapi.documents import OpenApiError

    folder = tmp_path / "api"
    folder.mkdir()
    (tmp_path / "outside.yaml").write_text("name: p\nin: query\n")
    (folder / "common.yaml").write_text("P: {name: p, in: query}\n")
    for ref, ok in (("common.yaml#/P", True), ("../outside.yaml", False), ("/dev/zero", False)):
        document = petstore()
        document["paths"]["/pets"]["get"]["parameters"] = [{"$ref": ref}]
        path = folder / "doc.yaml"
        path.write_text(yaml.safe_dump(document))
        if ok:
            assert import_openapi(load_document(path))
        else:
            with pytest.raises(OpenApiError, match=r"cannot follow \$ref"):
                import_openapi(load_document(path))
