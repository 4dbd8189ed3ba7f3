"""The RateLimiter contract (BinderHub's fixed window), run against the fake, SQLite and
DynamoDB (on moto) limiters."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from skybinder.adapters.aws.dynamo_rate_limit import DynamoRateLimiter
from skybinder.adapters.aws.dynamo_schema import create_table
from skybinder.adapters.local.sqlite_rate_limit import SqliteRateLimiter
from skybinder.service.ports import RateLimitResult
from tests.aws.conftest import TABLE, mocked_aws
from tests.aws.conftest import client as aws_client
from tests.fakes import FakeRateLimiter
from tests.threads import each, race

Limiter = FakeRateLimiter | SqliteRateLimiter | DynamoRateLimiter
HOUR = 3600
T0 = 1_800_000_000.25  # a time with a fraction: windows end on whole seconds


@pytest.fixture(params=["fake", "sqlite", "dynamo"])
def open_limiter(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Limiter]]:
    """Opens a handle on one shared limiter: the same fake, a new connection to one SQLite
    file, or a new client of one DynamoDB table (moto)."""
    fake = FakeRateLimiter()
    opened: list[SqliteRateLimiter] = []

    def open_one() -> Limiter:
        if request.param == "fake":
            return fake
        if request.param == "sqlite":
            opened.append(SqliteRateLimiter(tmp_path / "skybinder.sqlite"))
            return opened[-1]
        return DynamoRateLimiter(aws_client("dynamodb"), TABLE)

    with ExitStack() as stack:
        if request.param == "dynamo":
            stack.enter_context(mocked_aws())
            create_table(aws_client("dynamodb"), TABLE)
        yield open_one
        for limiter in opened:
            limiter.close()


@pytest.fixture
def limiter(open_limiter: Callable[[], Limiter]) -> Limiter:
    return open_limiter()


def test_the_whole_limit_can_be_used_at_once_then_attempts_are_refused(limiter: Limiter) -> None:
    results = [limiter.check("1.2.3.4", 3, HOUR, T0 + i) for i in range(5)]
    reset = int(T0) + HOUR
    assert [r.allowed for r in results] == [True, True, True, False, False]
    assert [r.remaining for r in results] == [2, 1, 0, 0, 0]
    assert {r.reset for r in results} == {reset}, "the window ends where the first attempt put it"
    assert results[3].retry_after == reset - int(T0 + 3)
    assert results[0].headers() == {
        "x-ratelimit-limit": "3",
        "x-ratelimit-remaining": "2",
        "x-ratelimit-reset": str(reset),
    }


def test_the_window_starts_at_the_first_attempt_not_on_the_clock(limiter: Limiter) -> None:
    first = limiter.check("a", 2, 600, 1_000.9)
    later = limiter.check("a", 2, 600, 1_500.0)
    assert (first.reset, later.reset) == (1_600, 1_600)
    assert (first.retry_after, later.retry_after) == (600, 100)


def test_a_new_window_opens_at_reset(limiter: Limiter) -> None:
    for i in range(3):
        limiter.check("a", 2, 600, 1_000.0 + i)
    assert not limiter.check("a", 2, 600, 1_599.9).allowed
    fresh = limiter.check("a", 2, 600, 1_600.0)
    assert (fresh.allowed, fresh.remaining, fresh.reset) == (True, 1, 2_200)
    assert limiter.check("a", 2, 600, 1_601.0).allowed
    assert not limiter.check("a", 2, 600, 1_602.0).allowed


def test_keys_are_counted_apart(limiter: Limiter) -> None:
    assert limiter.check("a", 1, HOUR, T0).allowed
    assert not limiter.check("a", 1, HOUR, T0).allowed
    assert limiter.check("b", 1, HOUR, T0).allowed
    assert limiter.check("2001:db8::1", 1, HOUR, T0).allowed


def test_a_window_keeps_its_reset_and_a_new_limit_applies_to_its_count(limiter: Limiter) -> None:
    for _ in range(3):
        assert limiter.check("a", 10, HOUR, T0).allowed
    tighter = limiter.check("a", 3, 60, T0 + 1)
    assert (tighter.allowed, tighter.remaining, tighter.reset) == (False, 0, int(T0) + HOUR)


def test_limit_zero_turns_limiting_off_and_stores_nothing(limiter: Limiter) -> None:
    for _ in range(5):
        off = limiter.check("a", 0, HOUR, T0)
        assert off.allowed and off.headers() == {}
    assert limiter.check("a", 1, HOUR, T0) == RateLimitResult(
        allowed=True, limit=1, remaining=0, reset=int(T0) + HOUR, retry_after=HOUR
    )


def test_attempts_reads_the_live_window_without_counting(limiter: Limiter) -> None:
    assert limiter.attempts("a", T0) == (0, 0)
    for i in range(3):
        limiter.check("a", 5, 60, T0 + i)
    reset = int(T0) + 60
    assert limiter.attempts("a", T0 + 10) == (3, reset)
    assert limiter.attempts("a", T0 + 10) == (3, reset)  # reading counts nothing
    assert limiter.check("a", 5, 60, T0 + 11).remaining == 1
    assert limiter.attempts("b", T0) == (0, 0)
    assert limiter.attempts("a", reset) == (0, 0)  # an ended window holds nothing
    assert limiter.check("a", 5, 60, reset).remaining == 4  # and the next one starts afresh


@pytest.mark.parametrize(
    ("key", "limit", "window", "match"),
    [("", 1, HOUR, "key"), ("a", -1, HOUR, "limit >= 0"), ("a", 1, 0, "window > 0")],
)
def test_bad_arguments_raise(
    limiter: Limiter, key: str, limit: int, window: int, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        limiter.check(key, limit, window, T0)


# -- concurrency: one handle shared by threads, or two handles on one storage ---------------

HANDLES = pytest.mark.parametrize("handles", [1, 2], ids=["one-handle", "two-handles"])


@HANDLES
def test_racing_attempts_allow_exactly_the_limit(
    open_limiter: Callable[[], Limiter], handles: int
) -> None:
    limiters = [open_limiter() for _ in range(handles)]
    results = each(race(16, lambda i: limiters[i % handles].check("ip", 5, HOUR, T0)))
    assert sum(r.allowed for r in results) == 5
    assert sorted(r.remaining for r in results if r.allowed) == [0, 1, 2, 3, 4]


@HANDLES
def test_racing_attempts_after_a_window_ended_open_one_new_window(
    open_limiter: Callable[[], Limiter], handles: int
) -> None:
    limiters = [open_limiter() for _ in range(handles)]
    for _ in range(7):
        limiters[0].check("ip", 5, 600, T0)
    later = T0 + 600
    results = each(race(16, lambda i: limiters[i % handles].check("ip", 5, 600, later)))
    assert sum(r.allowed for r in results) == 5
    assert {r.reset for r in results} == {int(later) + 600}
