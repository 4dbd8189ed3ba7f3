"""An event's attendee page in a real browser against a real binder: the window in the viewer's
time, the access-code form, and the launch it leads to, whose stream is the event launch of
the contract (`/build/<provider>/<spec>?event=<slug>&code=<code>`).

Only the /build stream is answered by Playwright, so nothing is launched."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import shot
from tests.e2e.conftest import Server, make_repo

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


def declare(server: Server, slug: str, spec: str, starts_in: float) -> None:
    token = (server.data_dir / "admin-token").read_text().strip()
    moment = lambda offset: datetime.fromtimestamp(time.time() + offset, UTC).isoformat()  # noqa: E731
    body = {
        "slug": slug, "title": "Browser workshop", "provider": "git", "spec": spec,
        "starts_at": moment(starts_in), "ends_at": moment(starts_in + 3600), "seats": 3,
        "budget_usd": 5, "access_code": "tea",
    }  # fmt: skip
    reply = httpx.post(
        f"{server.url}/api/admin/events",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    assert reply.status_code == 201, reply.text


def test_the_event_page_launches_through_the_event_stream(
    server: Server, page: Page, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "workshop", {"README.md": "# Workshop\n"})
    spec = f"{quote(repo.as_uri(), safe='')}/HEAD"
    declare(server, "browser-open", spec, starts_in=-60)
    seen: list[str] = []

    def answer(route: Route) -> None:
        seen.append(route.request.url)
        message = "That access code is not right. Check it with the organisers.\n"
        failed = {"phase": "failed", "status_code": 403, "message": message}
        body = f"data: {json.dumps(failed)}\n\n"
        route.fulfill(status=200, headers={"Content-Type": "text/event-stream"}, body=body)

    page.route("**/build/**", answer)
    page.goto(f"{server.url}/e/browser-open")
    expect(page.locator("#window-local")).to_contain_text("Your time")
    expect(page.locator("#seats-left")).to_have_text("3")
    shot(page, "event-open")
    page.fill("#code", "tea")
    page.click("#launch")
    expect(page.locator("#failure")).to_be_visible()
    # The event's refusal is explained as such, not as a repository the operator disabled.
    expect(page.locator("#failure-heading")).to_have_text("The access code was not accepted")
    # The launch names the workshop, and a failure leads back to the workshop's page.
    expect(page.locator("h1 .repo")).to_have_text("Browser workshop")
    back = page.locator("#failure .actions a")
    expect(back).to_have_text("Back to the workshop's page")
    expect(back).to_have_attribute("href", "/e/browser-open")
    shot(page, "event-wrong-code")
    assert seen == [f"{server.url}/build/git/{spec}?event=browser-open&code=tea"]


def test_before_the_start_the_page_offers_no_launch(
    server: Server, page: Page, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "later", {"README.md": "# Later\n"})
    declare(server, "browser-later", f"{quote(repo.as_uri(), safe='')}/HEAD", starts_in=3600)
    page.goto(f"{server.url}/e/browser-later")
    expect(page.locator("#event-state")).to_contain_text("has not started yet")
    expect(page.locator("#launch-form")).to_have_count(0)
    shot(page, "event-scheduled")
