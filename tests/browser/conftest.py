"""Headless Chromium (Debian's, driven by Playwright) against a real `skybinder serve`.

The server and the local git repositories come from the end-to-end tests' helpers. Playwright
never downloads a browser here: it starts the system's `chromium`, which `python3 dev.py test`
installs when it is missing; without it these tests skip locally and fail under CI=true.
Screenshots of every state go to artifacts/browser/.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, sync_playwright

from tests.e2e.conftest import Server, server  # noqa: F401  (the `server` fixture, reused)
from tests.requires import requires

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "browser"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1100, "height": 900}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: tests that drive a real (headless) browser")


def chromium() -> str:
    """Debian's chromium; without it the browser tests skip, or fail under CI=true."""
    how = "`apt-get update && apt-get install -y chromium` as root; `python3 dev.py test` does it"
    return requires("chromium", how, "chromium-browser")


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    executable = chromium()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    profile = tmp_path_factory.mktemp("chromium-profile")  # a fresh user-data dir per run
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=executable,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=DESKTOP,
        )
        context.set_default_timeout(30_000)
        yield context
        context.close()


def sign_in(browser: BrowserContext, binder: Server) -> None:
    """Give the browser the binder's access-token cookie, as opening the link `skybinder serve`
    prints (`/?token=...`) does."""
    port = binder.url.rsplit(":", 1)[1]
    name, value, url = f"skybinder-token-{port}", binder.token, binder.url
    browser.add_cookies(
        [{"name": name, "value": value, "url": url, "httpOnly": True, "sameSite": "Strict"}]
    )


@pytest.fixture
def page(browser: BrowserContext, server: Server) -> Iterator[Page]:  # noqa: F811
    """A fresh tab (so a fresh sessionStorage) of a browser that holds the binder's token;
    fails the test on any script error."""
    sign_in(browser, server)
    tab = browser.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda err: errors.append(str(err)))
    yield tab
    tab.close()
    assert errors == [], f"script errors on the page: {errors}"


def shot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """Save a screenshot of the page's current state as artifacts/browser/<name>.png."""
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def sessions_for(binder: Server, spec: str) -> list[tuple[str, str]]:
    """(id, state) of every session the binder's store holds for `spec`, read from its file."""
    uri = f"file:{binder.data_dir / 'skybinder.sqlite'}?mode=ro"
    with sqlite3.connect(uri, uri=True) as db:
        rows = db.execute(
            "SELECT id, state FROM sessions WHERE json_extract(data, '$.spec') = ?", (spec,)
        ).fetchall()
    return [(str(a), str(b)) for a, b in rows]
