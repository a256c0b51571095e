"""The report page in a real browser: Debian's headless Chromium, driven by Playwright.

What a person sees is asserted: the verdicts and versions of the matrix, a verdict's
checks appearing when it is clicked, the charts drawn with one point per value, no
console error, nothing fetched (the page is opened with the network off). A
screenshot is kept in the test's tmp dir. No browser is ever downloaded: Playwright
launches /usr/bin/chromium. Without it (or Playwright) these tests skip, except in
CI, where ``.ci/run`` installs Debian's chromium and its absence fails them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _report import FLAKY, HEALTH, SCRIPT, fill
from conftest import IN_CI, require

from pytest_deployable.cli import main

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the whole session."""
    sync_api = require("playwright.sync_api")
    if not CHROMIUM.is_file():
        if IN_CI:
            pytest.fail("chromium is missing in CI; .ci/run installs it", pytrace=False)
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The report page of the tests' ledger, written by ``deployable report``; its URL."""
    folder = tmp_path_factory.mktemp("report")
    url = f"sqlite:///{folder / 'ledger.db'}"
    fill(folder, url)
    assert main(["report", "-o", str(folder / "site"), "--ledger", url]) == 0
    return (folder / "site" / "index.html").resolve().as_uri()


@pytest.fixture
def page(browser: Any, report: str) -> Iterator[Any]:
    """The page, opened offline, with everything it asked for and said recorded."""
    context = browser.new_context(offline=True, viewport={"width": 1200, "height": 900})
    requests: list[str] = []
    console: list[str] = []

    def only_files(route: Any) -> None:
        requests.append(route.request.url)
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", only_files)
    opened = context.new_page()
    opened.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    opened.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
    opened.on("dialog", lambda dialog: console.append(f"dialog: {dialog.message}"))
    opened.goto(report)
    opened.requests = requests
    opened.console = console
    try:
        yield opened
    finally:
        context.close()


def test_the_matrix_shows_each_versions_verdict_per_target(page: Any) -> None:
    def cell(version: str, target: str) -> str:
        text: str = page.locator(
            f'td[data-version="{version}"][data-target="{target}"]').inner_text()
        return " ".join(text.split())

    rows = page.locator("table.matrix tbody th").all_inner_texts()
    assert rows == ["1.2.0", "1.1.0", "1.0.0"]
    assert cell("1.2.0", "staging") == "DEPLOYABLE deployed"
    assert cell("1.2.0", "production") == "\u2013"
    assert cell("1.1.0", "production") == "NOT_DEPLOYABLE"
    assert cell("1.0.0", "production") == "DEPLOYABLE deployed"
    production = page.locator('article.target[data-target="production"]')
    assert "NOT_DEPLOYABLE" in production.inner_text()
    assert production.locator(".deployed-version").inner_text() == "1.0.0"


def test_clicking_a_verdict_reveals_its_checks(page: Any, tmp_path: Path) -> None:
    verdict = page.locator("details.verdict").filter(has_text="production").filter(
        has_text="1.1.0")
    assert verdict.count() == 1
    checks = verdict.locator("table.checks")
    assert not checks.is_visible()
    verdict.locator("summary").click()
    assert checks.is_visible()
    health = checks.locator("tr").filter(has_text=HEALTH)
    assert health.locator("td").nth(1).inner_text() == "failed"
    # The hostile message is text a person reads, and nothing ran.
    assert health.locator("td.message").inner_text() == f"GET /health answered 503; {SCRIPT}"
    assert page.title() == "Deployability report"
    assert page.locator("script").count() == 0
    assert "1 rerun" in checks.locator("tr").filter(has_text=FLAKY).inner_text()
    path = tmp_path / "report.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(("chart", "points"), [("frequency", 13), ("lead", 2), ("recovery", 1)])
def test_the_charts_are_drawn_with_a_point_per_value(page: Any, chart: str,
                                                     points: int) -> None:
    svg = page.locator(f'article.dora[data-target="production"] svg[data-chart="{chart}"]')
    box = svg.bounding_box()
    assert box is not None
    assert box["width"] > 100
    assert box["height"] > 100
    assert svg.locator("circle.point").count() == points
    if chart == "frequency":
        drawn = svg.locator("polyline").get_attribute("points").split()
        assert len(drawn) == points
        assert svg.locator("polyline").bounding_box()["width"] > 100
    labelled = svg.get_attribute("aria-labelledby").split()
    assert page.locator(f"#{labelled[0]}").text_content().endswith(", production")
    assert svg.get_attribute("role") == "img"


def test_the_recovery_point_says_what_failed_and_how_long(page: Any) -> None:
    point = page.locator('article.dora[data-target="production"] '
                         'svg[data-chart="recovery"] circle.point title')
    assert point.text_content().startswith("1.1.0 failed at ")
    assert point.text_content().endswith(": 2.0 h")


def test_the_page_loads_offline_without_errors_or_requests(page: Any) -> None:
    page.wait_for_load_state("load")
    assert page.locator("h1").inner_text() == "Deployability report"
    assert page.console == []
    assert len(page.requests) == 1
    assert page.requests[0].startswith("file://")
