"""Pages, badges, static assets, build tokens and reattaching to a launch's stream."""

from __future__ import annotations

import hashlib
import re
import time
import xml.etree.ElementTree as ET

import jwt
import pytest

from skybinder.api.ui import render
from tests.api.conftest import IMAGE, ApiWorld, events_of, read_stream

pytestmark = pytest.mark.timeout(20)
MARKER = "xss-marker-7f3a"
SCRIPT = f'<script>alert("{MARKER}")</script>'


def meta(html: str, name: str) -> str:
    found = re.search(rf'<meta (?:name|property)="{re.escape(name)}" content="([^"]*)">', html)
    assert found, f"no meta {name}"
    return found.group(1)


def test_home_page_scripts_and_styles_are_our_own_files(api: ApiWorld) -> None:
    response = api.client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert re.findall(r"<script(?![^>]*\ssrc=)", response.text) == []  # no inline script
    assets = re.findall(r'(?:src|href)="(/[^"]+)"', response.text)
    assert {"/static/home.js?v=0.1.0", "/static/skybinder.css?v=0.1.0"} <= set(assets)
    for asset in assets:
        assert api.client.get(asset).status_code == 200, asset


def test_launch_page_has_open_graph_tags_and_a_build_token(api: ApiWorld) -> None:
    response = api.client.get("/v2/gh/u/r/HEAD?urlpath=lab")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"  # it holds a token
    html = response.text
    assert meta(html, "og:title") == "GitHub: u/r/HEAD"
    assert meta(html, "og:image") == "http://testserver/static/social.png"
    assert api.client.get("/static/social.png").headers["content-type"] == "image/png"
    token = meta(html, "skybinder-build-token")
    claims = jwt.decode(token, options={"verify_signature": False}, audience="gh/u/r/HEAD")
    assert claims["origin"] == "testserver" and 0 < claims["exp"] - time.time() <= 300
    # Showing a page resolves nothing and creates no session.
    assert api.resolver.seen == [] and api.store.list() == []


@pytest.mark.parametrize(
    "path",
    [
        f"/v2/gh/u/r/HEAD?urlpath={SCRIPT}&labpath={SCRIPT}",
        f"/v2/gh/u/{SCRIPT}/HEAD",
        f"/v2/{SCRIPT}/u/r/HEAD",
        f"/v2/gh/u/r/HEAD%22%3E{SCRIPT}",
        f"/?repo={SCRIPT}",
    ],
)
def test_request_input_never_reaches_a_page_unescaped(api: ApiWorld, path: str) -> None:
    response = api.client.get(path)
    assert response.headers["content-type"].startswith("text/html")
    assert "<script>alert" not in response.text
    assert api.store.list() == []


def test_render_escapes_every_value() -> None:
    page = render(
        "launch.html",
        root="",
        version="1",
        title=f'"><{SCRIPT}',
        description="a & b",
        image="x",
        build_token="t'",
    )
    assert SCRIPT not in page and "&lt;script&gt;" in page
    assert "a &amp; b" in page and "t&#x27;" in page
    with pytest.raises(KeyError):
        render("launch.html", root="")  # a missing value is an error, never left as is


@pytest.mark.parametrize(
    ("path", "status", "form", "example"),
    [
        (
            "/v2/gh/binder-examples",
            400,
            "/v2/gh/&lt;user&gt;/&lt;repo&gt;/&lt;ref&gt;",
            "/v2/gh/binder-examples/requirements/HEAD",
        ),
        (
            "/v2/gh",
            400,
            "/v2/gh/&lt;user&gt;/&lt;repo&gt;/&lt;ref&gt;",
            "/v2/gh/binder-examples/requirements/HEAD",
        ),
        (
            "/v2/zenodo/10.5281/figshare.1",
            400,
            "/v2/zenodo/10.5281/zenodo.&lt;record&gt;",
            "/v2/zenodo/10.5281/zenodo.3242074",
        ),
        (
            "/v2/git/https://example.org/r.git/HEAD",
            400,
            "/v2/git/&lt;url-escaped clone URL&gt;/&lt;ref&gt;",
            "/v2/git/https%3A%2F%2Fgithub.com%2Fbinder-examples%2Frequirements/HEAD",
        ),
        (
            "/v2/gh/u/r/ma%0Ain",
            400,
            "/v2/gh/&lt;user&gt;/&lt;repo&gt;/&lt;ref&gt;",
            "/v2/gh/binder-examples/requirements/HEAD",
        ),
        (
            "/v2/gh/u/r%0D%0A/HEAD",
            400,
            "/v2/gh/&lt;user&gt;/&lt;repo&gt;/&lt;ref&gt;",
            "/v2/gh/binder-examples/requirements/HEAD",
        ),
        (
            "/v2/svn/u/r/HEAD",
            404,
            "/v2/gh/&lt;user&gt;/&lt;repo&gt;/&lt;ref&gt;",
            "/v2/gh/binder-examples/requirements/HEAD",
        ),
    ],
)
def test_a_bad_link_gets_a_page_with_the_expected_form(
    api: ApiWorld, path: str, status: int, form: str, example: str
) -> None:
    response = api.client.get(path)
    assert response.status_code == status
    html = response.text
    assert f'<code id="expected-form">{form}</code>' in html
    assert f'href="{example}"' in html
    heading = "Unknown repository provider" if status == 404 else "This launch link is not valid"
    assert f'<h1 id="failure-heading">{heading}</h1>' in html
    assert api.store.list() == [] and api.resolver.seen == []


@pytest.mark.parametrize("path", ["/badge.svg", "/badge_logo.svg", "/assets/images/badge.svg"])
def test_badges_are_svg_images(api: ApiWorld, path: str) -> None:
    response = api.client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/svg+xml"
    root = ET.fromstring(response.text)
    width = int(root.get("width", "0"))
    assert root.tag.endswith("svg") and root.get("height") == "20" and 80 < width < 160
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert texts.count("launch") == 2 and texts.count("binder") == 2  # text and shadow
    has_logo = path == "/badge_logo.svg"
    assert (root.find("{http://www.w3.org/2000/svg}path") is not None) == has_logo


@pytest.mark.parametrize("name", ["favicon", "favicon_building", "favicon_success", "favicon_fail"])
def test_favicons_for_each_state(api: ApiWorld, name: str) -> None:
    response = api.client.get(f"/{name}.svg")
    assert response.status_code == 200 and response.headers["content-type"] == "image/svg+xml"
    has_dot = "<circle" in response.text
    assert has_dot == (name != "favicon")
    assert api.client.get("/favicon_nope.svg").status_code == 404


@pytest.mark.parametrize(
    "path", ["/static/nope.js", "/static/..%2Fapp.py", "/static/ui.py", "/static/%2e%2e"]
)
def test_only_our_static_files_are_served(api: ApiWorld, path: str) -> None:
    assert api.client.get(path).status_code == 404


def test_static_files_have_their_types(api: ApiWorld) -> None:
    for name, media in [("launch.js", "text/javascript"), ("skybinder.css", "text/css")]:
        response = api.client.get(f"/static/{name}")
        assert response.headers["content-type"].startswith(media)
        assert response.headers["x-content-type-options"] == "nosniff"


# -- build tokens on /build ---------------------------------------------------------------


def page_token(api: ApiWorld, path: str = "/v2/gh/u/r/HEAD") -> str:
    return meta(api.client.get(path).text, "skybinder-build-token")


def test_a_valid_build_token_launches(api: ApiWorld) -> None:
    api.registry.images.add(IMAGE)
    token = page_token(api)
    _, body = read_stream(api.client, f"/build/gh/u/r/HEAD?build_token={token}")
    assert events_of(body)[-1]["phase"] == "ready"


@pytest.mark.parametrize(
    ("make", "headers", "why"),
    [
        (lambda api: page_token(api, "/v2/gh/u/other/HEAD"), {}, "another repository"),
        (lambda api: page_token(api), {"Origin": "https://evil.example"}, "another site"),
        (lambda api: "not-a-jwt", {}, "Reload the launch page"),
        (
            lambda api: jwt.encode(
                {"aud": "gh/u/r/HEAD", "origin": "testserver", "exp": time.time() + 60},
                "another secret, as long as a real one",
            ),
            {},
            "Reload the launch page",
        ),
        (
            lambda api: jwt.encode(  # unsigned: never accepted, whatever it claims
                {"aud": "gh/u/r/HEAD", "origin": "testserver", "exp": time.time() + 60},
                None,
                algorithm="none",
            ),
            {},
            "Reload the launch page",
        ),
    ],
)
def test_a_bad_build_token_is_one_failed_403(
    api: ApiWorld, make: object, headers: dict[str, str], why: str
) -> None:
    token = make(api)  # type: ignore[operator]
    _, body = read_stream(api.client, f"/build/gh/u/r/HEAD?build_token={token}", headers=headers)
    [event] = events_of(body)
    assert (event["phase"], event["status_code"]) == ("failed", 403)
    assert "Invalid build token" in str(event["message"]) and why in str(event["message"])
    assert api.store.list() == [] and api.resolver.seen == []


# -- reattaching --------------------------------------------------------------------------


def first_events(api: ApiWorld, path: str = "/build/gh/u/r/HEAD") -> list[dict[str, object]]:
    _, body = read_stream(api.client, path)
    return events_of(body)


def test_the_first_event_carries_a_resume_secret_whose_hash_alone_is_stored(
    api: ApiWorld,
) -> None:
    events = first_events(api)
    first = events[0]
    secret = str(first["resume"])
    (session,) = api.store.list()
    assert first["session_id"] == session.id and len(secret) >= 40
    assert sum("resume" in event for event in events) == 1
    assert session.resume_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in session.model_dump_json()
    status = api.client.get(f"/api/sessions/{session.id}").json()
    assert "resume_hash" not in status and secret not in str(status)


def test_the_resume_secret_reattaches_to_the_same_launch(api: ApiWorld) -> None:
    events = first_events(api)
    sid, secret = events[0]["session_id"], events[0]["resume"]
    _, body = read_stream(api.client, f"/api/sessions/{sid}/events?resume={secret}")
    again = events_of(body)
    assert again[-1]["phase"] == "ready" and again[-1]["token"] == events[-1]["token"]
    assert [e["message"] for e in again if e["phase"] == "building"] == [
        e["message"] for e in events if e["phase"] == "building"
    ]  # the log from its start
    assert len(api.store.list()) == 1  # nothing new was launched


@pytest.mark.parametrize("resume", ["", "wrong", "?resume="])
def test_without_its_secret_a_session_id_gets_no_stream(api: ApiWorld, resume: str) -> None:
    events = first_events(api)
    sid = events[0]["session_id"]
    query = "" if resume == "?resume=" else f"?resume={resume}"
    _, body = read_stream(api.client, f"/api/sessions/{sid}/events{query}")
    [event] = events_of(body)
    assert (event["phase"], event["status_code"]) == ("failed", 403)
    assert "token" not in event and str(events[-1]["token"]) not in body


def test_an_unknown_session_has_no_stream(api: ApiWorld) -> None:
    _, body = read_stream(api.client, "/api/sessions/0123456789abcdef/events?resume=x")
    [event] = events_of(body)
    assert event["status_code"] == 404


def test_a_launch_refused_at_once_offers_no_resume(api: ApiWorld) -> None:
    [event] = first_events(api, "/build/gh/u/r/no-such-ref")
    assert event["phase"] == "failed" and "resume" not in event
    (session,) = api.store.list()
    assert session.resume_hash == ""
