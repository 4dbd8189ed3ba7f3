"""Who may join an event, to the edge of every rule: the window, the code, the seats, the budget,
and the deadline and cost of a session."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from skybinder.domain.errors import (
    AccessCodeError,
    BudgetExhaustedError,
    EventClosedError,
    EventFullError,
)
from skybinder.domain.event import Event, EventUsage, hash_code
from skybinder.domain.event_admission import (
    check_code,
    check_open,
    check_seat_and_budget,
    deadline,
    seats_left,
    session_cost,
)
from skybinder.domain.model import CapacityPolicy, Session

T0 = 1_900_000_000.0  # 2030-03-17 17:46:40 UTC
HOUR = 3600.0
R = 80_000  # one session's worst case, in micro-dollars


def event(**fields: Any) -> Event:
    values: dict[str, Any] = {
        "slug": "ws", "title": "Python workshop", "provider": "gh", "spec": "a/b/main",
        "starts_at": T0, "ends_at": T0 + 8 * HOUR, "seats": 3, "budget_micros": 10 * R,
        "capacity": CapacityPolicy.SPOT, "cpu": 1.0, "memory_gb": 2.0, "max_minutes": 60,
        "reserve_micros": R,
    }  # fmt: skip
    return Event(**{**values, **fields})


def attendee(**fields: Any) -> Session:
    values: dict[str, Any] = {
        "id": "s1", "provider": "gh", "spec": "a/b/abc", "event": "ws", "reserved_micros": R,
    }  # fmt: skip
    return Session(**{**values, **fields})


# -- the window -------------------------------------------------------------------------------


@pytest.fixture
def far_from_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The machine's clock set to a zone hours from UTC (a POSIX rule: no tz database needed)."""
    monkeypatch.setenv("TZ", "XST+9")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_the_window_opens_at_its_first_second_and_closes_at_its_end(far_from_utc: None) -> None:
    ws = event()
    with pytest.raises(EventClosedError) as early:
        check_open(ws, T0 - 0.001)
    assert early.value.message == (
        "Python workshop has not started yet. It opens at 2030-03-17 17:46 UTC; "
        "please come back then."
    )
    check_open(ws, T0)  # the start itself is inside
    check_open(ws, T0 + 8 * HOUR - 0.001)
    with pytest.raises(EventClosedError) as late:
        check_open(ws, T0 + 8 * HOUR)  # the end itself is outside
    assert late.value.message == "Python workshop has ended. Thank you for taking part!"


def test_a_closed_event_admits_nobody_even_inside_its_window() -> None:
    closed = event(closed_at=T0 + HOUR)
    with pytest.raises(EventClosedError, match=r"^Python workshop was closed by its organisers\.$"):
        check_open(closed, T0 + 2 * HOUR)
    with pytest.raises(EventClosedError, match=r"^Python workshop was closed by its organisers"):
        check_seat_and_budget(closed, EventUsage(), attendee())


# -- the access code ---------------------------------------------------------------------------


def test_an_event_without_a_code_admits_any_code_or_none() -> None:
    for code in (None, "", "anything"):
        check_code(event(), code)


def test_the_code_must_be_given_and_right() -> None:
    ws = event(access_code_hash=hash_code("tea"))
    check_code(ws, "tea")
    for missing in (None, ""):
        with pytest.raises(AccessCodeError) as refused:
            check_code(ws, missing)
        assert refused.value.message == (
            "Python workshop needs an access code. Ask the organisers for it."
        )
    with pytest.raises(AccessCodeError) as wrong:
        check_code(ws, "Tea")
    assert wrong.value.message == "That access code is not right. Check it with the organisers."


# -- seats and budget --------------------------------------------------------------------------


def test_the_last_seat_is_given_and_no_more() -> None:
    ws = event(seats=3)
    check_seat_and_budget(ws, EventUsage(seats_in_use=2, reserved_micros=2 * R), attendee())
    with pytest.raises(EventFullError) as full:
        check_seat_and_budget(ws, EventUsage(seats_in_use=3, reserved_micros=3 * R), attendee())
    assert full.value.message == (
        "This workshop is full — 3 of 3 seats in use. Try again in a few minutes."
    )
    assert full.value.status_code == 429


def test_a_worst_case_that_fits_the_budget_to_the_micro_dollar_is_admitted() -> None:
    ws = event(budget_micros=10 * R, seats=100)
    exact = EventUsage(seats_in_use=4, reserved_micros=4 * R, spent_micros=5 * R)
    check_seat_and_budget(ws, exact, attendee())  # 5 R spent + 4 R held + R = the budget
    short = exact.model_copy(update={"spent_micros": 5 * R + 1})
    with pytest.raises(BudgetExhaustedError):
        check_seat_and_budget(ws, short, attendee())


def test_the_budget_refusal_says_whether_to_try_again() -> None:
    ws = event(budget_micros=10 * R, seats=100)
    # Running sessions hold 2 R: when they end, what is left covers a session again.
    held = EventUsage(seats_in_use=2, reserved_micros=2 * R, spent_micros=8 * R)
    with pytest.raises(BudgetExhaustedError) as later:
        check_seat_and_budget(ws, held, attendee())
    assert later.value.message == (
        "Python workshop is at its budget limit while the sessions running now last: a new "
        "session can start when some of them end. Try again in a few minutes."
    )
    # Spent leaves exactly one worst case: still "try again" (nothing is spent for good yet).
    edge = EventUsage(seats_in_use=1, reserved_micros=R // 2 + 1, spent_micros=9 * R)
    with pytest.raises(BudgetExhaustedError, match="Try again in a few minutes"):
        check_seat_and_budget(ws, edge, attendee())
    # Spent leaves less than one worst case: the budget is used up for good.
    gone = EventUsage(spent_micros=9 * R + 1)
    with pytest.raises(BudgetExhaustedError) as never:
        check_seat_and_budget(ws, gone, attendee())
    assert never.value.message == (
        "Python workshop has used the budget it was given for servers, so no new session "
        "can start. Please tell the organisers."
    )


# -- seats left, as the attendee page shows them ----------------------------------------------


def test_seats_left_counts_free_seats_and_warm_sessions_waiting_to_be_handed_out() -> None:
    ws = event(seats=10)
    assert seats_left(ws, EventUsage()) == 10
    assert seats_left(ws, EventUsage(seats_in_use=4)) == 6
    # Three of the four sessions in use are warm and idle: an attendee gets one at once.
    assert seats_left(ws, EventUsage(seats_in_use=4, warm_idle=3)) == 9
    assert seats_left(ws, EventUsage(seats_in_use=10, warm_idle=2)) == 2
    assert seats_left(ws, EventUsage(seats_in_use=10)) == 0


def test_seats_left_is_never_negative() -> None:
    # More sessions than seats: a seat count lowered below what runs (or a counter repaired).
    assert seats_left(event(seats=2), EventUsage(seats_in_use=5)) == 0


# -- deadlines and cost -----------------------------------------------------------------------


def test_the_deadline_counts_from_the_launch_not_from_the_request() -> None:
    # A 25-minute build separates the request from the server's launch: the attendee still
    # gets the full max minutes of server time.
    ws = event(max_minutes=60)
    built = attendee(created_at=T0 + HOUR, launched_at=T0 + HOUR + 25 * 60)
    assert deadline(ws, built) == T0 + 2 * HOUR + 25 * 60


def test_the_deadline_of_a_session_never_launched_counts_from_its_request() -> None:
    assert deadline(event(max_minutes=60), attendee(created_at=T0 + HOUR)) == T0 + 2 * HOUR


def test_the_deadline_is_the_events_end_when_that_comes_first() -> None:
    ws = event(ends_at=T0 + 2 * HOUR, max_minutes=90)
    late = attendee(created_at=T0 + HOUR, launched_at=T0 + HOUR)
    assert deadline(ws, late) == T0 + 2 * HOUR
    early = attendee(created_at=T0, launched_at=T0)
    assert deadline(ws, early) == T0 + 90 * 60


def test_the_cost_of_a_session_that_ended_runs_to_its_end_and_of_one_that_did_not_to_now() -> None:
    hourly = 36_000  # 10 micro-dollars a second
    ended = attendee(hourly_micros=hourly, launched_at=T0, ended_at=T0 + 600, updated_at=T0 + 900)
    assert session_cost(ended) == 6_000
    ending = ended.model_copy(update={"ended_at": None})
    assert session_cost(ending) == 9_000  # up to its last update
    assert session_cost(ended.model_copy(update={"hourly_micros": 0})) == 0


def test_a_clock_that_went_back_costs_the_minimum_minute_not_less() -> None:
    hourly = 36_000
    skewed = attendee(hourly_micros=hourly, launched_at=T0, ended_at=T0 - 30)
    assert session_cost(skewed) == 600  # the minimum minute, never a negative span
