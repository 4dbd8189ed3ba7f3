"""/build under conditions the happy path does not meet: ASGI servers without `raw_path`,
faults below the app, many open streams, and clients that leave."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import anyio.to_thread
import pytest
from fastapi.testclient import TestClient

from skybinder.service.ports import ResolvedRepo
from tests.api.conftest import IMAGE, ApiWorld, events_of, parse_stream, read_stream
from tests.threads import Worker

pytestmark = pytest.mark.timeout(20)
ASGIApp = Callable[..., Any]


def scope_rewriter(app: ASGIApp, change: Callable[[dict[str, Any]], None]) -> ASGIApp:
    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        scope = dict(scope)
        change(scope)
        await app(scope, receive, send)

    return wrapped


@pytest.mark.parametrize(
    "change",
    [lambda s: s.pop("raw_path"), lambda s: s.update(raw_path=None)],
    ids=["missing", "none"],
)
def test_spec_without_raw_path_in_the_scope(
    api: ApiWorld, change: Callable[[dict[str, Any]], None]
) -> None:
    # raw_path is optional in ASGI (Mangum and others leave it out): use the decoded path.
    api.registry.images.add(IMAGE)
    client = TestClient(scope_rewriter(api.client.app, change))
    _, body = read_stream(client, "/build/gh/u/r/HEAD/", {"Accept": "text/event-stream"})
    assert api.resolver.seen == [("gh", "u/r/HEAD")]
    assert events_of(body)[-1]["phase"] == "ready"


def test_a_fault_below_the_app_is_a_failed_event_not_a_cut_stream(api: ApiWorld) -> None:
    def broken(provider: str, spec: str) -> ResolvedRepo:
        raise ConnectionError("provider API unreachable")

    api.resolver.resolve = broken  # type: ignore[method-assign]
    client = TestClient(api.client.app, raise_server_exceptions=False)
    response, body = read_stream(client, "/build/gh/u/r/HEAD", {"Accept": "text/event-stream"})
    assert response.status_code == 200
    (event,) = parse_stream(body)
    assert isinstance(event, dict)
    assert (event["phase"], event["status_code"]) == ("failed", 500)
    assert "unreachable" not in str(event["message"])  # internals stay in the server log
    assert str(event["message"]).endswith("\n")


def test_open_streams_do_not_starve_the_other_endpoints(api: ApiWorld) -> None:
    # Sync endpoints share one thread pool (40 threads by default): streams must not hold it.
    api.builder.lines = []
    api.builder.duration = 1.5
    with TestClient(api.client.app, headers={"Accept": "text/event-stream"}) as client:
        assert client.portal is not None
        pool = client.portal.call(lambda: anyio.to_thread.current_default_thread_limiter())

        def read() -> object:
            _, body = read_stream(client, "/build/gh/u/r/HEAD")
            return events_of(body)[-1]["phase"]

        readers = [Worker(read) for _ in range(int(pool.total_tokens))]
        for reader in readers:
            reader.start()
        deadline = time.monotonic() + 5
        while len(api.store.list()) < len(readers) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(api.store.list()) == len(readers)
        started = time.monotonic()
        assert client.get("/health").status_code == 200
        assert time.monotonic() - started < 0.5  # not after the build (1.5 s)
        assert api.store.get_image(IMAGE).state == "building"  # type: ignore[union-attr]
        assert [reader.result(10) for reader in readers] == ["ready"] * len(readers)


def test_the_app_lets_go_of_a_stream_soon_after_its_client_left(api: ApiWorld) -> None:
    # TestClient's close waits for the app to finish the request, as a server's worker does.
    api.builder.lines = []
    api.builder.duration = 1.5
    with api.client.stream("GET", "/build/gh/u/r/HEAD") as response:
        assert next(response.iter_lines()).startswith("data: ")
        left = time.monotonic()
    assert time.monotonic() - left < 0.5  # within a few polls, not at the next event
    assert api.store.get_image(IMAGE).state == "building"  # type: ignore[union-attr]


def test_streams_end_with_a_last_event_when_the_server_shuts_down(api: ApiWorld) -> None:
    """Ctrl-C must not wait for builds: every open stream ends at once, saying why."""
    api.builder.lines = []
    api.builder.duration = 60  # a build that would hold the shutdown for a minute
    closing: threading.Event = api.client.app.state.closing  # type: ignore[attr-defined]
    threading.Timer(0.3, closing.set).start()
    started = time.monotonic()
    _, body = read_stream(api.client, "/build/gh/u/r/HEAD")
    assert time.monotonic() - started < 5
    last = events_of(body)[-1]
    assert (last["phase"], last["status_code"]) == ("failed", 503)
    assert last["message"] == "The binder is shutting down; launch again when it is back.\n"
    [session] = api.store.list()
    assert session.state == "building"  # the stream ends; what the binder does is its own
