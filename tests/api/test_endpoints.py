"""The app's other endpoints: versions, health, repo providers, session status and pages."""

from __future__ import annotations

import pytest

from skybinder import __version__
from skybinder.api.app import HealthCheck
from tests.api.conftest import IMAGE, ApiWorld, Factory, events_of, read_stream

pytestmark = pytest.mark.timeout(20)
MARKER = "xss-marker-7f3a"
SCRIPT = f'<script>alert("{MARKER}")</script>'


def test_versions(api: ApiWorld) -> None:
    api.builder.info = lambda: {"build_image": "repo2docker:2026.08"}  # type: ignore[method-assign]
    response = api.client.get("/versions")
    assert response.status_code == 200
    body = response.json()
    assert body["builder_info"] == {"build_image": "repo2docker:2026.08"}
    assert isinstance(body["binderhub"], str) and __version__ in body["binderhub"]


def test_health_without_checks_is_ok(api: ApiWorld) -> None:
    response = api.client.get("/health")
    assert (response.status_code, response.json()) == (200, {"ok": True, "checks": []})


def test_health_lists_passing_checks(make_api: Factory) -> None:
    api = make_api(health={"store": lambda: True, "builder": lambda: True})
    response = api.client.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "ok": True,
        "checks": [{"service": "store", "ok": True}, {"service": "builder", "ok": True}],
    }


def _raises() -> bool:
    raise RuntimeError("store unreachable")


@pytest.mark.parametrize("bad", [lambda: False, _raises], ids=["false", "raises"])
def test_health_is_503_when_a_check_fails_or_raises(make_api: Factory, bad: HealthCheck) -> None:
    api = make_api(health={"store": lambda: True, "runner": bad})
    response = api.client.get("/health")
    assert response.status_code == 503
    assert response.json() == {
        "ok": False,
        "checks": [{"service": "store", "ok": True}, {"service": "runner", "ok": False}],
    }


def test_repoproviders_come_from_the_resolver(api: ApiWorld) -> None:
    configs: list[dict[str, object]] = [
        {"id": "gh", "displayName": "GitHub", "ref": {"enabled": True, "default": "HEAD"}},
        {"id": "gl", "displayName": "GitLab", "repo": {"urlEncode": True}},
    ]
    api.resolver.display_configs = lambda: configs  # type: ignore[method-assign]
    response = api.client.get("/api/repoproviders")
    assert response.status_code == 200
    assert response.json() == configs


def test_session_status_never_serves_the_token(api: ApiWorld) -> None:
    api.registry.images.add(IMAGE)
    _, stream = read_stream(api.client, "/build/gh/u/r/HEAD")
    ready = events_of(stream)[-1]
    token = str(ready["token"])
    assert len(token) >= 16
    (session,) = api.store.list()
    response = api.client.get(f"/api/sessions/{session.id}")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == session.id
    assert body["state"] == "ready"
    assert body["url"] == ready["url"]
    assert body["image_name"] == IMAGE
    assert body["repo_url"] == "https://github.com/u/r"
    assert (body["provider"], body["spec"]) == ("gh", "u/r/HEAD")
    assert body["ready_at"] is not None
    assert "token" not in body
    assert token not in response.text


def test_session_status_of_a_failed_launch(api: ApiWorld) -> None:
    read_stream(api.client, "/build/gh/u/r/no-such-ref")
    (session,) = api.store.list()
    body = api.client.get(f"/api/sessions/{session.id}").json()
    assert (body["state"], body["status_code"]) == ("failed", 404)
    assert "no-such-ref" in body["reason"]


@pytest.mark.parametrize("session_id", ["0123456789abcdef", "nope", MARKER])
def test_unknown_session_is_404(api: ApiWorld, session_id: str) -> None:
    response = api.client.get(f"/api/sessions/{session_id}")
    assert response.status_code == 404
    assert MARKER not in response.text


def test_home_page_is_html(api: ApiWorld) -> None:
    response = api.client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<html" in response.text.lower()


# The launch and bad-link pages (escaping, build tokens, Open Graph tags): tests/api/test_pages.py
