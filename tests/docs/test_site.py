"""The documentation site: `mkdocs build --strict` (a broken link, a missing anchor or a
missing included file fails it), then a real headless Chromium (Debian's package, driven by
Playwright, as tests/adapters/test_docs_e2e.py does) opens the built site over HTTP, uses its
search, and saves screenshots of the home page and a reference page in .cache/screenshots/."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.staticfiles import StaticFiles

from tests.conftest import REPO
from tests.fixtures.upstream import running

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = REPO / ".cache" / "screenshots"
pytestmark = [
    pytest.mark.contract,
    pytest.mark.skipif(
        importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None,
        reason="mkdocs-material is not installed (it is in the dev extra: scripts/install)",
    ),
]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(target)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "NO_MKDOCS_2_WARNING": "1", **_pythonpath()},
    )
    assert done.returncode == 0, done.stderr[-4000:]
    print(f"\nmkdocs build --strict: {time.monotonic() - started:.1f} s")
    return target


def _pythonpath() -> dict[str, str]:
    import os

    return {"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}


def test_the_site_builds_strictly_with_every_page_and_example(site: Path) -> None:
    for page in ("index.html", "tutorial/index.html", "reference/cli/index.html"):
        assert (site / page).is_file(), page
    tutorial = (site / "tutorial" / "index.html").read_text()
    assert "run-report" in tutorial and "--8&lt;--" not in tutorial  # examples were included
    assert not (site / "examples").exists()  # the example files are included, not published


@pytest.fixture(scope="module")
def served(site: Path) -> Iterator[str]:
    with running(StaticFiles(directory=site, html=True)) as url:
        yield url


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)")
def test_search_finds_the_lookup_and_pages_render_in_headless_chromium(served: str) -> None:
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    home, reference = SCREENSHOTS / "docs-site-home.png", SCREENSHOTS / "docs-site-reference.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            failed: list[str] = []
            page.on(
                "requestfailed",  # but a request the next navigation cancels (a favicon)
                lambda r: None if "ERR_ABORTED" in (r.failure or "") else failed.append(r.url),
            )
            page.goto(served + "/")
            page.wait_for_selector("h1#naftiko-runtime")
            page.screenshot(path=str(home), full_page=False)
            search = page.locator("input.md-search__input")
            search.click()
            search.press_sequentially("lookup", delay=30)  # typed, as a reader does
            page.wait_for_selector(".md-search-result__item", timeout=20_000)
            titles = page.locator(".md-search-result__item").all_inner_texts()
            page.locator(".md-search-result__item a").first.click()
            page.wait_for_load_state()
            landed = page.url
            page.goto(served + "/reference/spec/orchestration/")
            page.wait_for_selector("h2#calls-a-lookup-and-mappings")
            page.screenshot(path=str(reference), full_page=False)
        finally:
            browser.close()
    assert titles and any("lookup" in title.lower() for title in titles), titles
    assert landed.startswith(served) and landed != served + "/"
    assert not failed  # every asset from the site itself: no CDN, no font service
    assert home.stat().st_size > 10_000 and reference.stat().st_size > 10_000
