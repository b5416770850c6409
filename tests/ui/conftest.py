"""Fixtures of the UI tests: one data directory, one server, one browser per session.

The server is the real ``arrowscope ui`` command in a subprocess; the browser
is Debian's Chromium, headless, driven by Playwright. A test that needs the
browser fails (never skips) when Chromium is missing. Every page records its
console errors, dialogs and the requests it made: ``checked_page`` fails the
test on any console error or dialog, or any request that is not to the
server (or a data:/blob: URL). On failure a screenshot is saved under
``tests/ui/screenshots/``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _ui_data
import pytest
from _ui_harness import CHROMIUM_ARGS, HERE, Watched, start_ui, stop, watch
from playwright.sync_api import expect

SCREENSHOTS = HERE / "screenshots"

# Charts draw once plotly.js has loaded and been evaluated, which on a busy
# 2-core machine takes longer than the 5 s Playwright waits by default.
expect.set_options(timeout=20_000)


@pytest.fixture(scope="session")
def ui_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data directory of ``_ui_data.build``."""
    path = tmp_path_factory.mktemp("ui") / "runs"
    _ui_data.build(path)
    return path


@pytest.fixture(scope="session")
def ui_url(ui_data: Path) -> Iterator[str]:
    """The URL of ``arrowscope ui`` serving ``ui_data`` on loopback (no token)."""
    proc, url = start_ui(ui_data, "--refresh", "0.5")
    yield url.rstrip("/")
    stop(proc)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Chromium (Debian's), one for the session."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail(
            "Chromium is missing: install it with `apt-get install -y chromium` "
            "(`make test` does that by itself when run as root)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def session_page(browser: Any, ui_url: str) -> Iterator[Watched]:
    """One page on the session's server: tests move between the app's pages without reloading."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    yield watch(context, ui_url)
    context.close()


@pytest.fixture
def checked_page(request: pytest.FixtureRequest, session_page: Watched) -> Iterator[Watched]:
    """The session's page; the test fails on console errors, dialogs or offsite requests."""
    watched = session_page
    for seen in (watched.errors, watched.dialogs, watched.offsite):
        seen.clear()
    yield watched
    failed = getattr(request.node, "report_call", None)
    if failed is not None and failed.failed:
        SCREENSHOTS.mkdir(exist_ok=True)
        watched.page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
    assert watched.errors == [], f"console errors: {watched.errors}"
    assert watched.dialogs == [], f"dialogs opened: {watched.dialogs}"
    assert watched.offsite == [], f"requests off {watched.origin}: {watched.offsite}"
