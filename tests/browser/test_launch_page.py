"""The launch page's behaviour for each kind of stream, against recorded /build streams: where
it navigates on `ready`, what it says for each failure, the log view and the layout.

The page, its scripts and styles come from the real binder; only the event stream is replayed
(Playwright answers the page's /build request), so every state can be shown in seconds."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import shot
from tests.e2e.conftest import Server

pytestmark = [pytest.mark.browser, pytest.mark.timeout(60)]
SPEC = "gh/octo/repo/HEAD"
SID = "0123456789abcdef"


def sse(*events: dict[str, object]) -> str:
    return "".join(f"data: {json.dumps(event)}\n\n" for event in events)


def stream(body: str) -> Callable[[Route], None]:
    def answer(route: Route) -> None:
        route.fulfill(status=200, headers={"Content-Type": "text/event-stream"}, body=body)

    return answer


def progress(session_url: str = "") -> list[dict[str, object]]:
    return [
        {
            "phase": "waiting",
            "message": "Waiting for build to start...\n",
            "session_id": SID,
            "resume": "secret-1",
        },
        {"phase": "fetching", "message": "Fetching octo/repo\n"},
        {"phase": "building", "message": "Step 1/2\n"},
        {"phase": "built", "message": "Built image, launching...\n", "session_id": SID},
        {"phase": "launching", "message": "Launching server...\n"},
    ]


def ready(url: str) -> dict[str, object]:
    return {
        "phase": "ready",
        "message": "server running\n",
        "url": url,
        "token": "tok-123",
        "session_id": SID,
    }


@pytest.mark.parametrize(
    ("query", "opened"),
    [
        ("", ""),
        ("?labpath=nb/a%20b.ipynb&filepath=x.ipynb&urlpath=lab", "doc/tree/nb/a%20b.ipynb"),
        ("?filepath=/data/x.ipynb/&urlpath=voila/render/y.ipynb", "tree/data/x.ipynb"),
        # ? and # are part of a file's name, not a query or fragment of the session's URL.
        ("?labpath=q%3Fa%23b%25c.ipynb", "doc/tree/q%3Fa%23b%25c.ipynb"),
        ("?filepath=dir%23/x%3F.ipynb", "tree/dir%23/x%3F.ipynb"),
        ("?urlpath=voila/render/y.ipynb", "voila/render/y.ipynb"),
        ("?urlpath=/lab/tree/z.ipynb", "lab/tree/z.ipynb"),
        ("?urlpath=https://evil.example/steal", ""),  # the token never leaves the session
        ("?urlpath=../../elsewhere", ""),
    ],
)
def test_ready_opens_the_session_with_binderhubs_precedence(
    server: Server, page: Page, query: str, opened: str
) -> None:
    session = f"{server.url}/s/{SID}/"
    page.route("**/build/**", stream(sse(*progress(), ready(session))))
    page.route(f"**/s/{SID}/**", lambda route: route.fulfill(body="<title>session</title>"))
    page.goto(f"{server.url}/v2/{SPEC}{query}")
    page.wait_for_url(re.compile(rf"/s/{SID}/"))
    assert page.url == f"{session}{opened}?token=tok-123"


def test_the_build_request_carries_the_pages_build_token(server: Server, page: Page) -> None:
    seen: list[str] = []

    def answer(route: Route) -> None:
        seen.append(route.request.url)
        stream(sse(*progress(), {"phase": "failed", "status_code": 500, "message": "x\n"}))(route)

    page.route("**/build/**", answer)
    page.goto(f"{server.url}/v2/{SPEC}")
    expect(page.locator("#failure")).to_be_visible()
    token = page.get_attribute('meta[name="skybinder-build-token"]', "content")
    assert token and seen == [f"{server.url}/build/{SPEC}?build_token={token}"]


FAILURES = {
    "spot": (
        500,
        "The server stopped before it was ready: spot-interruption: capacity reclaimed",
        "The cloud took the server back",
        "Relaunch",
    ),
    "banned": (
        403,
        "Sorry, octo/repo/HEAD has been temporarily disabled from launching.",
        "This repository cannot be launched here",
        "",
    ),
    "rate-limit": (
        429,
        "Rate limit exceeded. Try again in 42 seconds.",
        "Too many launches from your network",
        "Try again",
    ),
    "full": (
        429,
        "Too many users on this BinderHub! Try again soon.",
        "This binder is full right now",
        "Try again",
    ),
    "not-found": (
        404,
        "Could not resolve ref HEAD of octo/repo.",
        "Repository or ref not found",
        "Try again",
    ),
    "expired-token": (
        403,
        "Invalid build token: it has expired. Reload the launch page.",
        "This launch page has expired",
        "Reload and launch",
    ),
}


@pytest.mark.parametrize("kind", FAILURES)
def test_each_failure_has_its_own_message(server: Server, page: Page, kind: str) -> None:
    code, message, heading, action = FAILURES[kind]
    failed = {"phase": "failed", "status_code": code, "message": message + "\n"}
    calls: list[str] = []

    def answer(route: Route) -> None:
        calls.append(route.request.url)
        stream(sse(*progress()[:3], failed))(route)

    page.route("**/build/**", answer)
    page.goto(f"{server.url}/v2/{SPEC}")
    expect(page.locator("#failure-heading")).to_have_text(heading)
    expect(page.locator("#failure-details")).to_have_text(message)
    expect(page.locator("#failure-log")).to_contain_text("Step 1/2")
    expect(page.locator("#status")).to_have_text("The launch failed.")
    relaunch = page.locator("#relaunch")
    if not action:
        expect(relaunch).to_be_hidden()
        shot(page, f"launch-failed-{kind}")
        return
    expect(relaunch).to_have_text(action)
    shot(page, f"launch-failed-{kind}")
    relaunch.press("Enter")  # keyboard operable: one key starts a new launch
    expect(page.locator("#failure")).to_be_visible()
    assert len(calls) == 2


def test_log_renders_ansi_and_stops_following_when_scrolled_up(server: Server, page: Page) -> None:
    lines = [{"phase": "building", "message": f"line {i}\n"} for i in range(200)]
    colours = [
        {"phase": "building", "message": "\x1b[1;31merror\x1b[0m \x1b[38;5;208morange\x1b[0m\n"},
        {"phase": "building", "message": "Downloading 10%\rDownloading 50%\rDownloading 100%\n"},
        {"phase": "building", "message": "\x1b]0;title\x07\x1b[2Kcleared\n"},
    ]
    page.route("**/build/**", stream(sse(*progress()[:3], *lines, *colours)))
    page.route("**/api/sessions/**", lambda route: route.abort())  # keep the page on this state
    page.goto(f"{server.url}/v2/{SPEC}")
    log = page.locator("#log")
    expect(log).to_contain_text("cleared")
    text = log.inner_text()
    assert "\x1b" not in text and "title" not in text
    assert "Downloading 100%" in text and "Downloading 10%" not in text
    expect(log.locator(".ansi-fg-1.ansi-bold")).to_have_text("error")
    orange = log.locator("span", has_text="orange").last
    assert orange.evaluate("e => e.style.color") == "rgb(255, 135, 0)"  # 256-colour 208
    at_end = "e => Math.abs(e.scrollHeight - e.clientHeight - e.scrollTop) < 5"
    assert log.evaluate(at_end)
    jump = page.locator("#follow")
    expect(jump).to_be_hidden()
    log.evaluate("e => { e.scrollTop = 0; e.dispatchEvent(new Event('scroll')); }")
    expect(jump).to_be_visible()
    page.evaluate("() => SkybinderLaunch.log.append('a new line\\n')")
    assert log.evaluate("e => e.scrollTop") == 0  # the reader keeps their place
    jump.click()
    assert log.evaluate(at_end)
    expect(jump).to_be_hidden()


SHIFTS = """() => new Promise(done => {
  let total = 0;
  new PerformanceObserver(list => list.getEntries().forEach(e => { total += e.value; }))
    .observe({type: "layout-shift", buffered: true});
  setTimeout(() => done(total), 300);
})"""


@pytest.mark.parametrize(
    ("name", "width", "height"),
    [("desktop", 1100, 900), ("phone", 390, 844), ("zoom-200", 640, 450)],
)
def test_the_log_streams_without_moving_the_page(
    server: Server, page: Page, name: str, width: int, height: int
) -> None:
    page.set_viewport_size({"width": width, "height": height})
    lines = [
        {"phase": "building", "message": f"\x1b[32m+\x1b[0m package-{i}==1.{i}.0 {'x' * 90}\n"}
        for i in range(300)
    ]
    body = sse(*progress()[:3], *lines, *progress()[3:])

    def answer(route: Route) -> None:
        page.wait_for_timeout(700)  # the page is painted before the first event arrives
        stream(body)(route)

    page.route("**/build/**", answer)
    page.route("**/api/sessions/**", lambda route: route.abort())
    page.goto(f"{server.url}/v2/{SPEC}")
    expect(page.locator("#log")).to_contain_text("package-299")
    expect(page.locator('#steps li[data-step="launch"]')).to_have_attribute("data-state", "active")
    shot(page, f"launch-log-{name}", full_page=False)
    assert page.evaluate(SHIFTS) < 0.01  # cumulative layout shift: none worth the name
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0


def test_a_drop_or_a_reload_reattaches_instead_of_launching_again(
    server: Server, page: Page
) -> None:
    builds: list[str] = []
    resumes: list[str] = []
    mode = {"resume": "abort"}
    replay = sse(
        *progress()[:3],
        {"phase": "building", "message": "Step 2/2\n"},
        {
            "phase": "failed",
            "status_code": 500,
            "message": "The build of this repository failed: step 2 broke\n",
            "session_id": SID,
        },
    )

    def build(route: Route) -> None:
        builds.append(route.request.url)
        stream(sse(*progress()[:3]))(route)  # the stream ends mid-build: a drop

    def resume(route: Route) -> None:
        resumes.append(route.request.url)
        if mode["resume"] == "abort":
            route.abort()
        else:
            stream(replay)(route)

    page.route("**/build/**", build)
    page.route("**/api/sessions/*/events*", resume)
    page.goto(f"{server.url}/v2/{SPEC}")
    expect(page.locator("#status")).to_contain_text("Reconnecting")
    expect(page.locator("body")).to_have_attribute("data-reattached", "1")
    expect(page.locator("#log")).to_contain_text("Step 1/2")  # kept while reconnecting
    mode["resume"] = "replay"
    page.reload()  # the same tab: it reattaches to the launch it started
    expect(page.locator("#failure-heading")).to_have_text("The environment could not be built")
    expect(page.locator("#log .note")).to_have_text(re.compile("^Reconnected to your launch"))
    assert page.locator("#log").inner_text().count("Step 1/2") == 1  # replayed, not doubled
    assert len(builds) == 1
    assert resumes and all(
        url == f"{server.url}/api/sessions/{SID}/events?resume=secret-1" for url in resumes
    )
    shot(page, "launch-reattached-then-failed")
