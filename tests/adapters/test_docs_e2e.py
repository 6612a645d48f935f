"""`/docs` on a REST port: Swagger UI from packaged assets (no CDN) for `/openapi.json`,
rendered by a real headless Chromium (Debian's package, driven by Playwright) that waits for
the operation list; `/openapi.json` marks the event stream as `text/event-stream`."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import REPO
from tests.fixtures.process import serve_bundled

pytestmark = pytest.mark.contract

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = REPO / ".cache" / "screenshots"


@pytest.fixture(scope="module")
def letta() -> Iterator[dict[str, str]]:
    with serve_bundled() as process:
        yield process.urls


def test_docs_page_and_its_assets_come_from_this_port(letta: dict[str, str]) -> None:
    page = httpx.get(letta["rest"] + "/docs", timeout=10)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "//" not in page.text.replace("<!doctype html>", "")  # no absolute (CDN) URL
    for asset, kind in (
        ("/docs/swagger-ui-bundle.js", "text/javascript"),
        ("/docs/swagger-ui.css", "text/css"),
        ("/docs/init.js", "text/javascript"),
    ):
        reply = httpx.get(letta["rest"] + asset, timeout=10)
        assert reply.status_code == 200 and reply.headers["content-type"].startswith(kind)
        assert asset in page.text
    assert b"SwaggerUIBundle" in httpx.get(letta["rest"] + "/docs/swagger-ui-bundle.js").content


def test_openapi_marks_the_event_stream(letta: dict[str, str]) -> None:
    document = httpx.get(letta["rest"] + "/openapi.json", timeout=10).json()
    stream = document["paths"]["/v1/runs/{run-id}/stream"]["post"]["responses"]["200"]
    assert set(stream["content"]) == {"application/json", "text/event-stream"}
    listing = document["paths"]["/v1/runs/"]["get"]["responses"]["200"]
    assert set(listing["content"]) == {"application/json"}


def test_openapi_is_valid_and_defines_the_error_answers_once(letta: dict[str, str]) -> None:
    """The answers every operation shares (400, the passed-through 4xx, 502, 504) are defined
    under `components` and referenced: inline they made the document 3 KB per operation
    (15 MB, and 27 MB of dicts kept in memory, at 5,000 operations)."""
    from openapi_spec_validator import validate

    reply = httpx.get(letta["rest"] + "/openapi.json", timeout=10)
    document = reply.json()
    validate(document)
    error = document["components"]["schemas"]["Error"]
    assert error["properties"]["error"]["required"] == ["type", "message"]
    shared = document["components"]["responses"]
    operations = [op for item in document["paths"].values() for op in item.values()]
    assert len(operations) > 10
    for operation in operations:
        responses = operation["responses"]
        assert set(responses) >= {"200", "400", "401", "404", "409", "422", "502", "504"}
        gateway = responses["502"]["$ref"].removeprefix("#/components/responses/")
        assert shared[gateway]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"
        }
    assert len(reply.content) < 1500 * len(operations)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)")
def test_docs_render_every_operation_in_headless_chromium(letta: dict[str, str]) -> None:
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / "docs.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            failed: list[str] = []
            page.on("requestfailed", lambda request: failed.append(request.url))
            page.goto(letta["rest"] + "/docs")
            page.wait_for_selector(".opblock", timeout=20_000)
            operations = page.locator(".opblock").count()
            summaries = page.locator(".opblock-summary-path").all_inner_texts()
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert operations == 15
    assert "/v1/runs/{run-id}/stream" in [s.replace("\u200b", "") for s in summaries]
    assert not failed  # every asset came from this port
    assert shot.stat().st_size > 10_000
