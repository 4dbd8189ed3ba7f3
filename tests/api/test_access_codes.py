"""Guessing an event's access code, as an attacker would, against each limiter the modes use
(the fake, SQLite locally, DynamoDB on moto in AWS): wrong guesses are throttled per event and
address, then everyone guessing gets 429 — with the right code too — and no guess leaves a
session behind."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from skybinder.adapters.aws.dynamo_rate_limit import DynamoRateLimiter
from skybinder.adapters.aws.dynamo_schema import create_table
from skybinder.adapters.local.http import SystemClock
from skybinder.adapters.local.sqlite_rate_limit import SqliteRateLimiter
from skybinder.api.admin import bearer_auth
from skybinder.api.app import AppOptions, create_app
from skybinder.api.limits import LaunchRateLimit
from skybinder.service.access_codes import GUESS_WINDOW, MAX_GUESSES, client_bucket
from skybinder.service.ports import RateLimiter
from tests.api.conftest import ApiWorld, Factory, events_of, read_stream
from tests.api.event_fixtures import CODE, TOKEN, create
from tests.aws.conftest import TABLE, mocked_aws
from tests.aws.conftest import client as aws_client

LAUNCH = "/build/gh/u/r/main?event={slug}&code={code}"
Event = dict[str, object]


@pytest.fixture(params=["fake", "sqlite", "dynamo"])
def limiter(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RateLimiter]:
    from tests.fakes import FakeRateLimiter

    with ExitStack() as stack:
        if request.param == "fake":
            yield FakeRateLimiter()
        elif request.param == "sqlite":
            sqlite = SqliteRateLimiter(tmp_path / "skybinder.sqlite")
            stack.callback(sqlite.close)
            yield sqlite
        else:
            stack.enter_context(mocked_aws())
            create_table(aws_client("dynamodb"), TABLE)
            yield DynamoRateLimiter(aws_client("dynamodb"), TABLE)


@dataclass
class Guesser:
    world: ApiWorld
    client: TestClient

    def launch(self, code: str, slug: str = "swc-2030", ip: str = "198.51.100.7") -> Event:
        url = LAUNCH.format(slug=slug, code=code)
        _, body = read_stream(self.client, url, {"X-Forwarded-For": ip})
        return events_of(body)[-1]

    def attendee_sessions(self) -> list[str]:
        return [s.id for s in self.world.store.list() if s.event and not s.build_only]


class Later(SystemClock):
    """The system clock, `offset` seconds on."""

    def __init__(self, offset: float) -> None:
        self.offset = offset

    def now(self) -> float:
        return time.time() + self.offset


def guesser(
    world: ApiWorld, limiter: RateLimiter, rate_limit: LaunchRateLimit | None = None
) -> Guesser:
    options = AppOptions(
        admin_auth=bearer_auth(TOKEN), limiter=limiter, rate_limit=rate_limit, trusted_proxies=1
    )
    client = TestClient(create_app(world.binder, options), headers={"Accept": "text/event-stream"})
    create(client, seats=5)
    create(client, slug="other-event", seats=5)
    return Guesser(world, client)


def test_guesses_are_throttled_then_everyone_guessing_gets_429(
    make_api: Factory, limiter: RateLimiter
) -> None:
    g = guesser(make_api(), limiter)
    for i in range(MAX_GUESSES):
        refused = g.launch(f"guess-{i}")
        assert (refused["phase"], refused["status_code"]) == ("failed", 403)
    right = g.launch(CODE)  # the right code, from the guessing address: no answer to read
    assert (right["phase"], right["status_code"]) == ("failed", 429)
    assert "Too many wrong access codes" in str(right["message"])
    assert g.launch("another-guess")["status_code"] == 429
    assert g.attendee_sessions() == []  # no guess left a session behind
    # Another address, and the same address for another event, are not held back.
    assert g.launch(CODE, ip="203.0.113.9")["phase"] == "ready"
    assert g.launch(CODE, slug="other-event")["phase"] == "ready"
    assert len(g.attendee_sessions()) == 2


def test_the_throttle_lifts_when_its_window_ends(make_api: Factory, limiter: RateLimiter) -> None:
    world = make_api()
    g = guesser(world, limiter)
    for i in range(MAX_GUESSES):
        g.launch(f"guess-{i}")
    assert g.launch(CODE)["status_code"] == 429
    world.binder.clock = Later(GUESS_WINDOW + 1)
    assert g.launch(CODE)["phase"] == "ready"


def test_an_ipv6_host_counts_as_one_address(make_api: Factory, limiter: RateLimiter) -> None:
    g = guesser(make_api(), limiter)
    for i in range(MAX_GUESSES):
        g.launch(f"guess-{i}", ip=f"2001:db8:1:2::{i + 1}")  # one /64, many addresses
    assert g.launch(CODE, ip="2001:db8:1:2::ffff")["status_code"] == 429
    assert g.launch(CODE, ip="2001:db8:1:3::1")["phase"] == "ready"  # another /64


def test_right_codes_are_never_counted(make_api: Factory, limiter: RateLimiter) -> None:
    g = guesser(make_api(), limiter)
    for _ in range(MAX_GUESSES - 1):
        g.launch("typo")
    for _ in range(4):  # a room behind one address, all typing the code
        assert g.launch(CODE)["phase"] == "ready"
    assert g.launch("typo")["status_code"] == 403  # the fifth wrong one, still answered


def test_with_a_launch_rate_limit_the_answers_tell_nothing_about_the_code(
    make_api: Factory, limiter: RateLimiter
) -> None:
    rate = LaunchRateLimit(limiter, limit=1, window=3600)
    g = guesser(make_api(), limiter, rate_limit=rate)
    for i in range(MAX_GUESSES):
        assert g.launch(f"guess-{i}")["status_code"] == 403  # no launch counted for a guess
    right, wrong = g.launch(CODE), g.launch("guess")
    assert right["status_code"] == wrong["status_code"] == 429
    assert right["message"] == wrong["message"]


@pytest.mark.parametrize(
    ("ip", "bucket"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("", "unknown"),
        ("testclient", "testclient"),
    ],
)
def test_the_address_guesses_are_counted_by(ip: str, bucket: str) -> None:
    assert client_bucket(ip) == bucket
