"""GET /build/<provider>/<spec>: the event stream as BinderHub clients read it."""

from __future__ import annotations

import json

import pytest

from skybinder.domain.model import ImageState, Limits, Session, SessionState
from tests.api.conftest import (
    IMAGE,
    LOG_LINES,
    SHA,
    ApiWorld,
    Factory,
    events_of,
    parse_stream,
    phases,
    read_stream,
    wait_for,
)

pytestmark = pytest.mark.timeout(20)
READY_KEYS = {
    "url",
    "token",
    "image",
    "repo_url",
    "binder_ref_url",
    "binder_launch_host",
    "binder_request",
    "binder_persistent_request",
    "binder_client_ip",
}


def only_session(api: ApiWorld) -> Session:
    (session,) = api.store.list()
    return session


def test_cached_image_framing_phases_and_ready_payload(api: ApiWorld) -> None:
    api.registry.images.add(IMAGE)
    response, body = read_stream(api.client, "/build/gh/u/r/HEAD")
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == "text/event-stream"
    assert response.headers["cache-control"] == "no-cache"
    for line in body.splitlines():
        assert not line.startswith(("event:", "id:", "retry:"))
    chunks = parse_stream(body)
    assert ":keepalive" not in chunks  # nothing was silent for 30 s
    events = events_of(body)
    assert phases(events) == ["built", "launching", "ready"]
    assert events[0]["message"] == "Found built image, launching...\n"
    assert events[0]["imageName"] == IMAGE
    ready = events[-1]
    session = only_session(api)
    assert set(ready) >= READY_KEYS
    assert ready["url"] == f"https://binder.test/s/{session.id}/"
    assert ready["token"] == session.token and len(session.token) >= 16
    assert ready["image"] == IMAGE
    assert ready["repo_url"] == "https://github.com/u/r"
    assert ready["binder_ref_url"] == f"https://github.com/u/r/tree/{SHA}"
    assert ready["binder_launch_host"] == "http://testserver/"
    assert ready["binder_request"] == "v2/gh/u/r/HEAD"
    assert ready["binder_persistent_request"] == f"v2/gh/u/r/{SHA}"
    assert ready["binder_client_ip"] == "testclient"
    assert api.builder.jobs == {}  # a cached image is not built again
    assert session.state == SessionState.READY


def test_fresh_build_relays_the_log_then_launches(api: ApiWorld) -> None:
    api.builder.duration = 0.2
    _, body = read_stream(api.client, "/build/gh/u/r/HEAD")
    events = events_of(body)
    assert phases(events) == ["waiting", "fetching", "building", "built", "launching", "ready"]
    assert events[0]["message"] == "Waiting for build to start...\n"
    log = [e["message"] for e in events if e["phase"] in {"fetching", "building"}]
    assert log == ["Cloning u/r\n", "Step 1/2\n", "plain text line\n", "a line without a phase\n"]
    built = next(e for e in events if e["phase"] == "built")
    assert built["message"] == "Built image, launching...\n"
    assert built["imageName"] == IMAGE
    assert events[-1]["url"] == f"https://binder.test/s/{only_session(api).id}/"
    assert len(api.builder.jobs) == 1


def test_keepalive_comment_while_nothing_happens(make_api: Factory) -> None:
    api = make_api(keepalive=0.05)
    api.builder.lines = []
    api.builder.duration = 0.3
    _, body = read_stream(api.client, "/build/gh/u/r/HEAD")
    chunks = parse_stream(body)
    assert body.count(":keepalive\n\n") == chunks.count(":keepalive") >= 2
    # The keepalives fill the silence between `waiting` and `built`, and only that.
    kinds = [c if isinstance(c, str) else c["phase"] for c in chunks]
    first, last = kinds.index(":keepalive"), len(kinds) - 1 - kinds[::-1].index(":keepalive")
    assert kinds[:first] == ["waiting"]
    assert "built" in kinds[last:]
    assert kinds.count(":keepalive") <= 0.3 / 0.05 + 2


def failed_only(body: str) -> dict[str, object]:
    chunks = parse_stream(body)
    assert len(chunks) == 1, chunks
    (event,) = chunks
    assert isinstance(event, dict) and event["phase"] == "failed"
    message = event["message"]
    assert isinstance(message, str) and message.endswith("\n") and len(message.strip()) > 5
    return event


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/build/gh/u", 400, "gh/<user>/<repo>/<ref>"),
        ("/build/nope/u/r/HEAD", 404, "'nope'"),
        ("/build/gh/u/r/no-such-ref", 404, "'no-such-ref'"),
    ],
)
def test_resolution_errors_are_one_failed_event(
    api: ApiWorld, path: str, status: int, words: str
) -> None:
    response, body = read_stream(api.client, path)
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == "text/event-stream"
    event = failed_only(body)
    assert event["status_code"] == status
    assert words in str(event["message"])
    session = only_session(api)
    assert (session.state, session.status_code) == (SessionState.FAILED, status)
    assert api.builder.jobs == {} and api.runner.tasks == {}


@pytest.mark.parametrize(
    ("limits", "second", "message"),
    [
        (
            Limits(max_sessions=1),
            "/build/gh/u/other/HEAD",  # another repository: the binder is full
            "Too many users on this BinderHub! Try again soon.\n",
        ),
        (
            Limits(max_sessions_per_repo=1),
            "/build/gh/u/r/main",  # another ref of the same repository counts too
            "Too many users running https://github.com/u/r! Try again soon.\n",
        ),
    ],
)
def test_quota_is_429_with_binderhubs_message(
    make_api: Factory, limits: Limits, second: str, message: str
) -> None:
    api = make_api(limits=limits)
    api.registry.images.add(IMAGE)
    _, first = read_stream(api.client, "/build/gh/u/r/HEAD")
    assert events_of(first)[-1]["phase"] == "ready"
    _, body = read_stream(api.client, second)
    event = failed_only(body)
    assert (event["status_code"], event["message"]) == (429, message)
    assert len(api.runner.tasks) == 1


def test_build_failure_is_500_and_the_session_is_failed(api: ApiWorld) -> None:
    api.builder.ok, api.builder.reason = False, "requirements.txt does not install"
    _, body = read_stream(api.client, "/build/gh/u/r/HEAD")
    events = events_of(body)
    assert events[0]["phase"] == "waiting"
    assert [e["phase"] for e in events].count("failed") == 1
    last = events[-1]
    assert last["phase"] == "failed" and last["status_code"] == 500
    assert "requirements.txt does not install" in str(last["message"])
    session = only_session(api)
    assert (session.state, session.status_code) == (SessionState.FAILED, 500)
    assert api.store.get_image(IMAGE).state == ImageState.FAILED  # type: ignore[union-attr]
    assert api.runner.tasks == {}


def test_accept_json_is_refused_before_anything_happens(api: ApiWorld) -> None:
    response, body = read_stream(api.client, "/build/gh/u/r/HEAD", {"Accept": "application/json"})
    assert response.status_code == 200
    event = failed_only(body)
    assert event["status_code"] == 400
    assert "text/event-stream" in str(event["message"])
    assert api.resolver.seen == [] and api.store.list() == []


@pytest.mark.parametrize("accept", [None, "*/*", "text/event-stream"])
def test_missing_or_wildcard_accept_is_served(api: ApiWorld, accept: str | None) -> None:
    api.registry.images.add(IMAGE)
    if accept is None:
        del api.client.headers["accept"]
    else:
        api.client.headers["accept"] = accept
    request = api.client.build_request("GET", "/build/gh/u/r/HEAD")
    assert request.headers.get("accept") == accept
    _, body = read_stream(api.client, "/build/gh/u/r/HEAD")
    assert events_of(body)[-1]["phase"] == "ready"


@pytest.mark.parametrize(
    ("path", "spec"),
    [
        ("/build/gh/u/r/HEAD/", "u/r/HEAD"),
        ("/build/gh/u/r/feature%2Fx", "u/r/feature%2Fx"),
        ("/build/gh/u/r/feature%2Fx/", "u/r/feature%2Fx"),
    ],
)
def test_spec_comes_from_the_raw_path(api: ApiWorld, path: str, spec: str) -> None:
    api.registry.images.add(IMAGE)
    _, body = read_stream(api.client, path)
    assert api.resolver.seen == [("gh", spec)]
    assert events_of(body)[-1]["binder_request"] == f"v2/gh/{spec}"


def test_build_only_ends_with_the_image_name_and_starts_nothing(api: ApiWorld) -> None:
    _, body = read_stream(api.client, "/build/gh/u/r/HEAD?build_only=true")
    events = events_of(body)
    assert phases(events)[0] == "waiting" and "built" in phases(events)
    ready = events[-1]
    assert ready["phase"] == "ready" and ready["imageName"] == IMAGE
    assert not {"url", "token"} & set(ready)
    assert "launching" not in phases(events)
    assert api.runner.tasks == {}
    session = only_session(api)
    assert session.build_only and session.state == SessionState.STOPPED


def test_cors_allows_any_origin(api: ApiWorld) -> None:
    api.registry.images.add(IMAGE)
    origin = {"Origin": "https://thebe.example.org"}
    response, _ = read_stream(api.client, "/build/gh/u/r/HEAD", origin)
    assert response.headers["access-control-allow-origin"] == "*"


def test_client_leaving_mid_build_does_not_stop_the_launch(api: ApiWorld) -> None:
    api.builder.duration = 0.4
    with api.client.stream("GET", "/build/gh/u/r/HEAD") as response:
        first = next(response.iter_lines())
    assert json.loads(first.removeprefix("data: "))["phase"] == "waiting"
    session = only_session(api)
    assert session.state == SessionState.BUILDING  # the build had not finished yet
    assert wait_for(lambda: api.store.get(session.id).task_id != "")  # type: ignore[union-attr]
    assert wait_for(
        lambda: (
            api.store.get(session.id).state  # type: ignore[union-attr]
            in {SessionState.STARTING, SessionState.READY}
        )
    )
    assert api.registry.has(IMAGE)
    assert api.store.get_image(IMAGE).state == ImageState.BUILT  # type: ignore[union-attr]
    (task,) = api.runner.tasks.values()
    assert task.session_id == session.id
    assert len(LOG_LINES) == len(api.builder.log["build-1"])
