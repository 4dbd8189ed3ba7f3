"""The per-IP launch rate limit on /build: BinderHub's semantics, headers and exemption."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient

from skybinder.api.app import AppOptions, create_app
from skybinder.api.limits import LaunchRateLimit
from skybinder.service.launch_events import SCHEMA
from tests.api.conftest import IMAGE, ApiWorld, Factory, events_of, read_stream
from tests.fakes import FakeRateLimiter


def limited(
    world: ApiWorld, limit: int = 2, proxies: int = 0
) -> tuple[TestClient, FakeRateLimiter]:
    limiter = FakeRateLimiter()
    options = AppOptions(
        rate_limit=LaunchRateLimit(limiter, limit=limit, window=3600),
        trusted_proxies=proxies,
        limiter=limiter,
    )
    client = TestClient(create_app(world.binder, options), headers={"Accept": "text/event-stream"})
    return client, limiter


def test_launches_over_the_limit_get_one_failed_429_event(make_api: Factory) -> None:
    world = make_api()
    world.registry.images.add(IMAGE)
    client, _ = limited(world, limit=2)
    replies = [read_stream(client, "/build/gh/u/r/HEAD", timeout=10) for _ in range(3)]
    for reply, _ in replies:
        assert reply.headers["x-ratelimit-limit"] == "2"
    assert [r.headers["x-ratelimit-remaining"] for r, _ in replies] == ["1", "0", "0"]
    assert events_of(replies[0][1])[-1]["phase"] == "ready"
    (refused,) = events_of(replies[2][1])
    assert refused["phase"] == "failed" and refused["status_code"] == 429
    assert str(refused["message"]).startswith("Rate limit exceeded. Try again in ")
    assert len(world.store.list()) == 2  # the refused request created nothing


def test_a_build_token_exempts_one_launch_of_the_client_it_was_issued_to(
    make_api: Factory,
) -> None:
    world = make_api()
    world.registry.images.add(IMAGE)
    client, limiter = limited(world, limit=1)
    tokens = client.app.state.build_tokens  # type: ignore[attr-defined]
    # The Host the client sends, and the address TestClient connects from.
    token = tokens.issue("gh/u/r/HEAD", "testserver", client="testclient")
    bodies = [
        read_stream(client, f"/build/gh/u/r/HEAD?build_token={token}", timeout=10)[1]
        for _ in range(3)
    ]
    # A script that copies the page's token (and its Origin) gets that one launch, no more.
    assert [events_of(b)[-1]["phase"] for b in bodies] == ["ready", "ready", "failed"]
    assert events_of(bodies[2])[-1]["status_code"] == 429
    assert limiter.checks.count("launch:testclient") == 2
    assert [s.build_token for s in world.store.list()] == [True, False]


def test_a_build_token_of_another_address_exempts_nothing(make_api: Factory) -> None:
    world = make_api()
    world.registry.images.add(IMAGE)
    client, limiter = limited(world, limit=5)
    tokens = client.app.state.build_tokens  # type: ignore[attr-defined]
    token = tokens.issue("gh/u/r/HEAD", "testserver", client="203.0.113.9")
    _, body = read_stream(client, f"/build/gh/u/r/HEAD?build_token={token}", timeout=10)
    assert events_of(body)[-1]["phase"] == "ready"
    assert limiter.checks == ["launch:testclient"]
    assert [s.build_token for s in world.store.list()] == [False]


def test_launch_pages_hand_out_build_tokens_at_the_launch_rate(make_api: Factory) -> None:
    world = make_api()
    client, limiter = limited(world, limit=1)
    first, second = (client.get("/v2/gh/u/r/HEAD").text for _ in range(2))
    token = 'name="skybinder-build-token" content="'
    assert f'{token}"' not in first and token in first
    assert f'{token}"' in second  # over the rate: the page's /build counts as any launch
    assert limiter.checks == ["page:testclient", "page:testclient"]


def test_the_client_address_behind_trusted_proxies(make_api: Factory) -> None:
    world = make_api()
    world.registry.images.add(IMAGE)
    client, limiter = limited(world, limit=5, proxies=2)
    forwarded = {"X-Forwarded-For": "6.6.6.6, 203.0.113.7, 130.176.0.1"}  # spoof, viewer, edge
    read_stream(client, "/build/gh/u/r/HEAD", headers=forwarded, timeout=10)
    assert limiter.checks == ["launch:203.0.113.7"]
    assert world.store.list()[0].client_ip == "203.0.113.7"


def test_launch_events_follow_the_schema(
    make_api: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    world = make_api()
    world.registry.images.add(IMAGE)
    caplog.set_level(logging.INFO, logger="skybinder.launch_events")
    read_stream(world.client, "/build/gh/u/r/HEAD", timeout=10)
    read_stream(world.client, "/build/gh/u/r/missing", timeout=10)
    read_stream(world.client, "/build/gh/u/r/HEAD?build_only=true", timeout=10)
    logged = [json.loads(r.getMessage()) for r in caplog.records]
    assert [e["status"] for e in logged] == ["success"]  # unresolved and build-only: no launch
    event = logged[0]
    assert event["schema"] == SCHEMA and event["version"] == 6
    assert (event["provider"], event["spec"], event["build_token"]) == ("GitHub", "u/r/HEAD", False)
    assert event["ref"] == "a" * 40 and event["origin"] == "testserver"
