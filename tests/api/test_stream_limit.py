"""A /build stream ends before API Gateway's 15-minute cut, cleanly: the last event says the
launch goes on (never `failed`), and the launch page's resume secret follows it to `ready`."""

from __future__ import annotations

from fastapi.testclient import TestClient

from skybinder.api.app import AppOptions, create_app
from skybinder.api.stream import LIMIT_MESSAGE
from tests.api.conftest import ApiWorld, Factory, events_of, read_stream

LIMIT = 0.4  # seconds, for the test; 14 minutes in the launch function


def limited(world: ApiWorld) -> TestClient:
    options = AppOptions(keepalive=30.0, stream_limit=LIMIT)
    app = create_app(world.binder, options)
    return TestClient(app, headers={"Accept": "text/event-stream"})


def test_a_build_longer_than_the_limit_ends_the_stream_without_a_failure(
    make_api: Factory,
) -> None:
    world = make_api()
    world.builder.duration = 3 * LIMIT  # the build outlasts the stream
    client = limited(world)
    response, body = read_stream(client, "/build/gh/u/r/HEAD", timeout=10)
    assert response.status_code == 200
    events = events_of(body)
    last = events[-1]
    assert all(event["phase"] != "failed" for event in events)
    assert last["phase"] in {"waiting", "building", "fetching"} and last["reconnect"] is True
    assert last["message"] == LIMIT_MESSAGE.format(minutes=round(LIMIT / 60))
    session_id, secret = str(events[0]["session_id"]), str(events[0]["resume"])
    assert last["session_id"] == session_id
    # The launch went on; the page's secret follows it to the end, a stream at a time.
    ends = []
    while not ends or ends[-1]["phase"] != "ready":
        url = f"/api/sessions/{session_id}/events?resume={secret}"
        ends.append(events_of(read_stream(client, url, timeout=10)[1])[-1])
        assert len(ends) < 10
    assert all(end.get("reconnect") for end in ends[:-1])
    assert world.store.get(session_id).state.value == "ready"  # type: ignore[union-attr]
    assert len(world.store.list()) == 1  # one launch, followed: nothing started twice


def test_without_a_limit_the_stream_lasts_as_long_as_the_launch(api: ApiWorld) -> None:
    api.builder.duration = 0.5
    _, body = read_stream(api.client, "/build/gh/u/r/HEAD", timeout=10)
    events = events_of(body)
    assert events[-1]["phase"] == "ready"
    assert not any(event.get("reconnect") for event in events)
