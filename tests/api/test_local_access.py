"""The local binder's guards, tried as an attacker would: each refused request resolves nothing,
writes nothing, starts nothing and carries no token back (README: "The local threat model")."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from skybinder.api.access import AccessPolicy
from skybinder.api.app import AppOptions, create_app
from tests.api.conftest import IMAGE, ApiWorld, Factory, events_of, read_stream
from tests.fakes import FakeRateLimiter

TOKEN = "local-access-token-0123456789"
BASE = "http://127.0.0.1:8585"
COOKIE = "skybinder-token-8585"
SSE = {"Accept": "text/event-stream"}
AUTH = {**SSE, "Authorization": f"token {TOKEN}"}
EVIL = "https://evil.example"


def local(world: ApiWorld, token: str | None = TOKEN, origins: tuple[str, ...] = ()) -> TestClient:
    policy = AccessPolicy.local(token, port=8585, allow_origins=origins, hosts={"lab-pc"})
    options = AppOptions(access=policy, limiter=FakeRateLimiter())
    return TestClient(create_app(world.binder, options), base_url=BASE)


def untouched(world: ApiWorld) -> bool:
    """Nothing was resolved (no provider was asked), recorded, built or started."""
    return (
        world.resolver.seen == []
        and world.store.list() == []
        and world.builder.jobs == {}
        and world.runner.tasks == {}
    )


def refusal(body: str) -> dict[str, object]:
    (event,) = events_of(body)
    assert event["phase"] == "failed" and event["status_code"] == 403
    assert "token" not in event
    return event


@pytest.fixture
def world(make_api: Factory) -> ApiWorld:
    world = make_api()
    world.registry.images.add(IMAGE)
    return world


def test_a_launch_without_the_token_is_refused_before_anything_runs(world: ApiWorld) -> None:
    client = local(world)
    for headers in (SSE, {**SSE, "Authorization": "token wrong"}, {**SSE, "Cookie": "x=1"}):
        reply, body = read_stream(client, "/build/gh/u/r/HEAD", headers=headers)
        assert reply.status_code == 200  # as BinderHub answers every /build
        assert "access token" in str(refusal(body)["message"])
    assert untouched(world)


@pytest.mark.parametrize(
    ("url", "headers"),
    [
        ("/build/gh/u/r/HEAD", AUTH),
        ("/build/gh/u/r/HEAD", {**SSE, "Authorization": f"Bearer {TOKEN}"}),
        (f"/build/gh/u/r/HEAD?token={TOKEN}", SSE),
        ("/build/gh/u/r/HEAD", {**SSE, "Cookie": f"{COOKIE}={TOKEN}"}),
    ],
)
def test_the_token_works_as_header_query_or_cookie(
    world: ApiWorld, url: str, headers: dict[str, str]
) -> None:
    _, body = read_stream(local(world), url, headers=headers)
    ready = events_of(body)[-1]
    assert ready["phase"] == "ready" and ready["token"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": EVIL},  # fetch / EventSource from another site's page
        {"Origin": "null"},  # a sandboxed frame or a file:// page
        {"Origin": "http://127.0.0.1:8888"},  # another port of this machine: another origin
        {"Sec-Fetch-Site": "cross-site"},  # <img src>, a link or window.open from elsewhere
        {"Sec-Fetch-Site": "same-site"},  # the same from another port of localhost
    ],
)
def test_other_sites_cannot_launch_even_with_the_token(
    world: ApiWorld, headers: dict[str, str]
) -> None:
    reply, body = read_stream(local(world), "/build/gh/u/r/HEAD", headers={**AUTH, **headers})
    assert "other sites" in str(refusal(body)["message"])
    assert "access-control-allow-origin" not in reply.headers
    assert untouched(world)


def test_a_listed_origin_gets_cors_and_still_needs_the_token(world: ApiWorld) -> None:
    client = local(world, origins=("https://book.example",))
    listed = {"Origin": "https://book.example", "Sec-Fetch-Site": "cross-site"}
    reply, body = read_stream(client, "/build/gh/u/r/HEAD", headers={**SSE, **listed})
    assert reply.headers["access-control-allow-origin"] == "https://book.example"
    refusal(body)
    assert untouched(world)
    _, body = read_stream(client, "/build/gh/u/r/HEAD", headers={**AUTH, **listed})
    assert events_of(body)[-1]["phase"] == "ready"
    preflight = client.options(
        "/build/gh/u/r/HEAD",
        headers={
            "Origin": "https://book.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert preflight.status_code == 200
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()


def test_same_origin_requests_pass(world: ApiWorld) -> None:
    headers = {**AUTH, "Origin": BASE, "Sec-Fetch-Site": "same-origin"}
    _, body = read_stream(local(world), "/build/gh/u/r/HEAD", headers=headers)
    assert events_of(body)[-1]["phase"] == "ready"


@pytest.mark.parametrize("path", ["/", "/health", "/build/gh/u/r/HEAD", "/v2/gh/u/r/HEAD"])
def test_a_name_the_binder_does_not_serve_is_refused(world: ApiWorld, path: str) -> None:
    # DNS rebinding: evil.example, resolved to 127.0.0.1 after the browser trusted it.
    client = local(world)
    reply = client.get(f"{path}?token={TOKEN}", headers={**AUTH, "Host": "evil.example:8585"})
    assert reply.status_code == 403 and "does not answer to the name" in reply.text
    assert TOKEN not in reply.text and "set-cookie" not in reply.headers
    assert untouched(world)


@pytest.mark.parametrize(
    "host", ["127.0.0.1:8585", "localhost:8585", "[::1]:8585", "lab-pc:8585", "192.0.2.7:8585"]
)
def test_the_binders_own_names_and_addresses_are_served(world: ApiWorld, host: str) -> None:
    assert local(world).get("/health", headers={"Host": host}).status_code == 200


def test_the_launch_page_without_the_token_says_how_to_get_it(world: ApiWorld) -> None:
    reply = local(world).get("/v2/gh/u/r/HEAD?labpath=a.ipynb")
    assert reply.status_code == 403
    assert "needs its access token" in reply.text and "skybinder serve" in reply.text
    assert 'name="labpath" value="a.ipynb"' in reply.text  # the form keeps the link's options
    assert "skybinder-build-token" not in reply.text and "launch.js" not in reply.text
    assert untouched(world)


def test_a_page_opened_with_the_token_sets_the_cookie_and_drops_it_from_the_address(
    world: ApiWorld,
) -> None:
    client = local(world)
    reply = client.get(
        f"/v2/gl/group%2Fproject/main?token={TOKEN}&labpath=a.ipynb", follow_redirects=False
    )
    assert reply.status_code == 303
    assert reply.headers["location"] == "/v2/gl/group%2Fproject/main?labpath=a.ipynb"
    cookie = reply.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}={TOKEN};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    page = client.get("/v2/gh/u/r/HEAD")  # the client keeps the cookie, as a browser does
    assert page.status_code == 200 and "skybinder-build-token" in page.text
    assert untouched(world)  # the page itself launches nothing: its script does


def test_a_wrong_token_in_the_address_sets_no_cookie(world: ApiWorld) -> None:
    reply = local(world).get("/?token=guess", follow_redirects=False)
    assert reply.status_code == 200 and "set-cookie" not in reply.headers


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"},
        {"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "navigate"},
        {"Referer": "https://evil.example/page"},  # a browser without Sec-Fetch-* headers
    ],
)
def test_a_launch_link_from_another_site_asks_before_launching(
    world: ApiWorld, headers: dict[str, str]
) -> None:
    client = local(world)
    client.cookies.set(COOKIE, TOKEN)
    reply = client.get("/v2/gh/u/r/main?labpath=a.ipynb", headers=headers)
    assert reply.status_code == 200
    text = re.sub(r"\s+", " ", reply.text)
    assert "Launch <span" in text and "github.com/u/r" in text and ">main</code>" in text
    assert "on this machine?" in text and "It will run the repository's code" in text
    assert 'href="/v2/gh/u/r/main?labpath=a.ipynb"' in text  # the click: our own navigation
    assert "skybinder-build-token" not in text and "launch.js" not in text
    assert untouched(world)


def test_pages_may_only_be_framed_by_the_binder_itself(world: ApiWorld) -> None:
    client = local(world)
    client.cookies.set(COOKIE, TOKEN)
    for path in ("/", "/v2/gh/u/r/HEAD", "/v2/nope/x"):
        policy = client.get(path).headers["content-security-policy"]
        assert "frame-ancestors 'self'" in policy


def test_session_information_needs_the_token(world: ApiWorld) -> None:
    client = local(world)
    _, body = read_stream(client, "/build/gh/u/r/HEAD", headers=AUTH)
    session_id = str(events_of(body)[-1]["session_id"])
    assert client.get(f"/api/sessions/{session_id}").status_code == 403
    assert client.get(f"/api/sessions/{session_id}", headers=AUTH).status_code == 200
    _, stream = read_stream(client, f"/api/sessions/{session_id}/events?resume=x", headers=SSE)
    refusal(stream)


def test_with_the_token_turned_off_other_sites_are_still_refused(world: ApiWorld) -> None:
    client = local(world, token=None)
    _, body = read_stream(client, "/build/gh/u/r/HEAD", headers=SSE)
    assert events_of(body)[-1]["phase"] == "ready"
    _, body = read_stream(client, "/build/gh/u/r/main", headers={**SSE, "Origin": EVIL})
    refusal(body)


def test_the_open_policy_is_binderhubs(world: ApiWorld) -> None:
    reply, body = read_stream(world.client, "/build/gh/u/r/HEAD", headers={"Origin": EVIL})
    assert reply.headers["access-control-allow-origin"] == "*"
    assert events_of(body)[-1]["phase"] == "ready"
