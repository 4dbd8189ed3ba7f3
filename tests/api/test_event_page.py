"""The attendee side of events: the page /e/<slug>, its public status, and /build?event=."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from skybinder.api.app import AppOptions, create_app
from skybinder.api.limits import LaunchRateLimit
from skybinder.service.events import request_event_launch
from tests.api.conftest import SHA, ApiWorld, Factory, events_of, phases, read_stream, wait_for
from tests.api.event_fixtures import AUTH, CODE, at, create, operator_client
from tests.fakes import FakeRateLimiter

pytestmark = pytest.mark.timeout(30)
PUBLIC_FIELDS = {
    "slug", "title", "provider", "spec", "starts_at", "ends_at", "seats", "seats_left",
    "needs_code", "max_minutes", "phase",
}  # fmt: skip


class Forms(HTMLParser):
    """The page's forms: action and the names and values of their inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, object]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "form":
            self.forms.append({"action": found.get("action"), "method": found.get("method")})
        elif tag == "input" and self.forms:
            self.forms[-1][str(found.get("name"))] = found.get("value") or ""


def forms_of(html: str) -> list[dict[str, object]]:
    parser = Forms()
    parser.feed(html)
    return parser.forms


def test_an_open_event_with_a_code_offers_a_code_form_leading_to_the_launch_page(
    api: ApiWorld,
) -> None:
    client = operator_client(api)
    create(client)
    page = client.get("/e/swc-2030")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert '<h1 id="event-title">Software Carpentry 2030</h1>' in page.text
    assert '<span id="seats-left">3</span> of 3 seats' in page.text
    assert re.search(r'<time id="starts-at" datetime="[0-9T:+-]+">', page.text)
    (form,) = forms_of(page.text)
    assert form == {"action": "/v2/gh/u/r/main", "method": "get", "event": "swc-2030", "code": ""}
    assert client.get("/static/event.js").status_code == 200
    # Submitting the form opens the ordinary launch page, which streams the event launch.
    launch = client.get("/v2/gh/u/r/main", params={"event": "swc-2030", "code": CODE})
    assert launch.status_code == 200 and 'src="/static/launch.js' in launch.text


def test_an_event_without_a_code_asks_for_none(api: ApiWorld) -> None:
    client = operator_client(api)
    create(client, access_code=None)
    (form,) = forms_of(client.get("/e/swc-2030").text)
    assert form == {"action": "/v2/gh/u/r/main", "method": "get", "event": "swc-2030"}


@pytest.mark.parametrize(
    ("window", "says"),
    [
        ((3600, 7200), "has not started yet. It opens at"),
        ((-7200, -3600), "has ended"),
    ],
)
def test_outside_its_window_the_page_says_so_and_offers_no_launch(
    api: ApiWorld, window: tuple[int, int], says: str
) -> None:
    client = operator_client(api)
    create(client, starts_at=at(window[0]), ends_at=at(window[1]))
    page = client.get("/e/swc-2030")
    assert page.status_code == 200 and says in page.text
    assert forms_of(page.text) == [] and "/v2/" not in page.text


def test_a_closed_event_says_so_and_offers_no_launch(api: ApiWorld) -> None:
    client = operator_client(api)
    create(client)
    client.post("/api/admin/events/swc-2030/close", headers=AUTH)
    page = client.get("/e/swc-2030")
    assert "closed by its organisers" in page.text and forms_of(page.text) == []
    assert client.get("/api/events/swc-2030").json()["phase"] == "closed"


def test_an_unknown_event_is_the_error_page_with_404(api: ApiWorld) -> None:
    page = operator_client(api).get("/e/nope")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "There is no such event" in page.text
    assert "There is no event &#x27;nope&#x27;" in page.text
    assert page.headers["cache-control"] == "no-store"  # it may be created a minute later


def test_the_event_title_is_escaped_on_the_page(api: ApiWorld) -> None:
    client = operator_client(api)
    create(client, title='<script>alert("x")</script>')
    page = client.get("/e/swc-2030").text
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page


def test_public_status_shows_seats_left_and_never_the_accounting(api: ApiWorld) -> None:
    client = operator_client(api)
    create(client)
    before = client.get("/api/events/swc-2030")
    assert before.status_code == 200 and set(before.json()) == PUBLIC_FIELDS
    assert before.json()["seats_left"] == 3 and before.json()["needs_code"] is True
    request_event_launch(api.binder, "gh", "u/r/main", slug="swc-2030", code=CODE)
    after = client.get("/api/events/swc-2030").json()
    assert after["seats_left"] == 2 and after["phase"] == "open"
    missing = client.get("/api/events/nope")
    assert missing.status_code == 404 and "There is no event 'nope'" in missing.json()["detail"]


def test_an_event_launch_streams_to_ready_in_a_seat_of_the_event(api: ApiWorld) -> None:
    client = operator_client(api)
    create(client)
    _, body = read_stream(client, f"/build/gh/u/r/main?event=swc-2030&code={CODE}")
    events = events_of(body)
    assert phases(events)[-1] == "ready" and events[-1]["token"]
    (session,) = [s for s in api.store.list() if s.event == "swc-2030"]
    assert session.reserved_micros > 0 and session.ref == SHA
    assert api.store.event_usage("swc-2030").seats_in_use == 1


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("event=swc-2030&code=wrong", 403, "access code is not right"),
        ("event=swc-2030", 403, "needs an access code"),
        ("event=nope", 404, "There is no event 'nope'"),
        (f"event=swc-2030&code={CODE}&build_only=true", 400, "cannot be build_only"),
    ],
)
def test_a_refused_event_launch_is_one_failed_event(
    api: ApiWorld, query: str, status: int, message: str
) -> None:
    client = operator_client(api)
    create(client)
    _, body = read_stream(client, f"/build/gh/u/r/main?{query}")
    (failed,) = events_of(body)
    assert failed["phase"] == "failed" and failed["status_code"] == status
    assert message in str(failed["message"])
    assert api.store.event_usage("swc-2030").seats_in_use == 0


def test_event_launches_with_the_code_are_exempt_from_the_rate_limit(make_api: Factory) -> None:
    world = make_api()
    create(operator_client(world), seats=5)
    limiter = FakeRateLimiter()
    options = AppOptions(rate_limit=LaunchRateLimit(limiter, limit=1, window=3600))
    client = TestClient(create_app(world.binder, options), headers={"Accept": "text/event-stream"})
    for _ in range(3):  # one room, one address: more launches than the limit allows
        _, body = read_stream(client, f"/build/gh/u/r/main?event=swc-2030&code={CODE}")
        assert events_of(body)[-1]["phase"] == "ready"
    assert limiter.checks == []
    # Guessing at the code counts: the second wrong guess is refused by the limit itself.
    replies = [read_stream(client, "/build/gh/u/r/main?event=swc-2030&code=guess")[1]]
    replies.append(read_stream(client, "/build/gh/u/r/main?event=swc-2030&code=guess2")[1])
    assert [events_of(b)[0]["status_code"] for b in replies] == [403, 429]
    assert len(limiter.checks) == 2
    assert wait_for(lambda: world.store.event_usage("swc-2030").seats_in_use == 3)


def test_only_an_open_event_with_its_code_and_repository_is_exempt(make_api: Factory) -> None:
    world = make_api()
    create(operator_client(world), seats=5, access_code=None)
    create(operator_client(world), slug="coded", seats=5)
    limiter = FakeRateLimiter()
    options = AppOptions(rate_limit=LaunchRateLimit(limiter, limit=10, window=3600))
    client = TestClient(create_app(world.binder, options), headers={"Accept": "text/event-stream"})
    read_stream(client, "/build/gh/u/r/main?event=swc-2030")  # no code to give: counted
    read_stream(client, f"/build/gh/u/other/HEAD?event=coded&code={CODE}")  # not its repo
    assert len(limiter.checks) == 2
    read_stream(client, f"/build/gh/u/r/main?event=coded&code={CODE}")
    assert len(limiter.checks) == 2
