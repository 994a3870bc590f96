"""The documentation site in a real browser (Debian's chromium driven by Playwright).

The built site (``make docs``, which ``make test`` runs before the system tests) is served over
HTTP on loopback; the index, the lifecycle page and the performance page load, and every picture
on them renders: each ``<img>`` has a non-zero natural size, each Graphviz ``<object>`` holds an
SVG of non-zero size. Screenshots of the pages go to ``.test-artifacts/docs-site/``.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.system.cluster import ARTIFACTS
from tests.system.test_browser import CHROMIUM_ARGS, _chromium

pytestmark = pytest.mark.system
playwright_api = pytest.importorskip("playwright.sync_api")

SITE = Path(__file__).resolve().parents[2] / "docs" / "_build" / "html"
#: page -> pictures it must show (at least)
PAGES = {"index.html": 1, "lifecycle.html": 1, "performance.html": 1}

#: natural sizes of every picture of the page: images, and the SVG inside each <object>
PICTURES_JS = """
() => [
  ...Array.from(document.querySelectorAll('article img')).map(i => ({
    kind: 'img', src: i.getAttribute('src'), complete: i.complete,
    width: i.naturalWidth, height: i.naturalHeight})),
  ...Array.from(document.querySelectorAll('article object')).map(o => {
    const svg = o.contentDocument && o.contentDocument.querySelector('svg');
    const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
    return {kind: 'object', src: o.getAttribute('data'), complete: !!svg,
            width: box.width, height: box.height};
  }),
]
"""


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def site_url() -> Iterator[str]:
    if not (SITE / "index.html").exists():
        pytest.fail(f"no built docs in {SITE}: run `make docs` first (`make test` does)")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(SITE)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser_page(site_url: str) -> Iterator[Any]:
    with playwright_api.sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=_chromium(), headless=True, args=CHROMIUM_ARGS)
        try:
            page = chromium.new_page(viewport={"width": 1400, "height": 1000})
            yield page
        finally:
            chromium.close()


@pytest.mark.parametrize("name", sorted(PAGES))
def test_page_loads_and_every_picture_renders(browser_page: Any, site_url: str, name: str) -> None:
    failed: list[str] = []
    browser_page.on("requestfailed", lambda request: failed.append(request.url))
    response = browser_page.goto(f"{site_url}/{name}", wait_until="load")
    assert response is not None and response.status == 200
    # objects load their SVG asynchronously: wait until each holds one (or give up after 10 s)
    browser_page.wait_for_function(
        "() => Array.from(document.querySelectorAll('article object'))"
        ".every(o => o.contentDocument && o.contentDocument.querySelector('svg'))",
        timeout=10_000,
    )
    pictures = browser_page.evaluate(PICTURES_JS)
    folder = ARTIFACTS / "docs-site"
    folder.mkdir(parents=True, exist_ok=True)
    browser_page.screenshot(path=str(folder / f"{Path(name).stem}.png"), full_page=True)
    assert len(pictures) >= PAGES[name], pictures
    broken = [p for p in pictures if not (p["complete"] and p["width"] > 0 and p["height"] > 0)]
    assert broken == []
    assert failed == []
    assert browser_page.title()  # the theme rendered a title


def test_the_lifecycle_page_shows_every_state(browser_page: Any, site_url: str) -> None:
    from airflow_provider_voicetraining.states import JobState

    browser_page.goto(f"{site_url}/lifecycle.html", wait_until="load")
    browser_page.wait_for_function(
        "() => { const o = document.querySelector('article object');"
        " return o && o.contentDocument && o.contentDocument.querySelector('svg'); }",
        timeout=10_000,
    )
    drawn = browser_page.evaluate(
        "() => Array.from(document.querySelector('article object').contentDocument"
        ".querySelectorAll('g.node title')).map(t => t.textContent)"
    )
    assert sorted(drawn) == sorted(state.value for state in JobState)
