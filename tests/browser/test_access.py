"""The access token and the other-site guards in a real browser: the printed link signs the
browser in, a link from another site asks before launching, and no other site frames a page."""

from __future__ import annotations

import html
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import BrowserContext, Page, Route, expect

from tests.browser.conftest import shot
from tests.e2e.conftest import Server

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]
SPEC = "gh/binder-examples/requirements/main"
FAILED = 'data: {"phase": "failed", "message": "stopped by the test\\n", "status_code": 500}\n\n'


class OtherSite:
    """A page on another site (http://localhost:<port>, not the binder's 127.0.0.1) whose HTML
    the test sets: a link to the binder, or a frame of it."""

    def __init__(self) -> None:
        self.body = ""
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                data = site.body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://localhost:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def other_site() -> Iterator[OtherSite]:
    site = OtherSite()
    yield site
    site.close()


def builds(page: Page) -> list[str]:
    """Record the launch page's /build requests, answering each with a failure at once."""
    seen: list[str] = []

    def answer(route: Route) -> None:
        seen.append(route.request.url)
        route.fulfill(status=200, content_type="text/event-stream", body=FAILED)

    page.route("**/build/**", answer)
    return seen


def test_the_printed_link_signs_the_browser_in_and_leaves_the_address_bar(
    server: Server, page: Page, browser: BrowserContext
) -> None:
    browser.clear_cookies()
    page.goto(f"{server.url}/?token={server.token}")
    assert page.url == f"{server.url}/"  # the token is gone from the address bar and history
    [cookie] = [c for c in browser.cookies(server.url) if c["name"].startswith("skybinder-token")]
    assert cookie["value"] == server.token
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert server.token not in page.evaluate("document.cookie")  # no script can read it
    seen = builds(page)
    page.goto(f"{server.url}/v2/{SPEC}")
    expect(page.locator("body")).to_have_attribute("data-outcome", "failed")
    assert len(seen) == 1


def test_without_the_token_the_page_explains_and_takes_it(
    server: Server, page: Page, browser: BrowserContext
) -> None:
    browser.clear_cookies()
    seen = builds(page)
    reply = page.goto(f"{server.url}/v2/{SPEC}?labpath=index.ipynb")
    assert reply is not None and reply.status == 403
    expect(page.locator("h1")).to_have_text("This binder needs its access token")
    shot(page, "access-token-needed")
    assert seen == []
    page.fill("#token", server.token)
    page.click("#token-form button")
    page.wait_for_url(f"{server.url}/v2/{SPEC}?labpath=index.ipynb")
    expect(page.locator("body")).to_have_attribute("data-outcome", "failed")
    assert len(seen) == 1


def test_a_link_from_another_site_asks_before_launching(
    server: Server, page: Page, other_site: OtherSite
) -> None:
    target = f"{server.url}/v2/{SPEC}?labpath=index.ipynb"
    other_site.body = f'<a id="go" href="{html.escape(target)}">Run it</a>'
    seen = builds(page)
    page.goto(other_site.url)
    page.click("#go")
    page.wait_for_url(target)
    heading = page.locator("h1")
    expect(heading).to_contain_text("Launch github.com/binder-examples/requirements at main")
    expect(page.locator("#confirm-warning")).to_contain_text("It will run the repository's code")
    shot(page, "access-confirm-launch")
    page.wait_for_timeout(500)
    assert seen == []  # nothing launched on arrival
    page.click("#confirm-launch")
    expect(page.locator("body")).to_have_attribute("data-outcome", "failed")
    assert len(seen) == 1


def test_another_site_cannot_frame_a_launch_page(
    server: Server, page: Page, other_site: OtherSite
) -> None:
    other_site.body = f'<iframe id="f" src="{server.url}/v2/{SPEC}"></iframe>'
    seen = builds(page)
    page.goto(other_site.url)
    page.wait_for_timeout(1500)
    framed = page.frames[1]
    # The browser refuses to show it (frame-ancestors 'self'): an error page takes its place.
    assert framed.url.startswith("chrome-error://"), framed.url
    assert seen == []
