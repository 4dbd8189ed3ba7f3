"""The event counters of DynamoSessionStore under load and after damage: threads racing for
the last seat and dollars, and the repair pass that recounts the counters from the sessions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from skybinder.adapters.aws import names as n
from skybinder.adapters.aws.dynamo_counters import QUIET, RECOUNT_AFTER_END
from skybinder.adapters.aws.dynamo_store import DynamoSessionStore
from skybinder.domain.errors import BudgetExhaustedError, EventFullError
from skybinder.domain.event import EventUsage
from skybinder.domain.model import SessionState
from tests.aws.conftest import TABLE, ApiCalls, before_call
from tests.aws.dynamo_event_fixtures import (
    HOUR,
    T0,
    Clock,
    H,
    R,
    attendee,
    corrupt,
    counters,
    counts,
    end,
    event,
    other_store,
)
from tests.threads import each, race

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

S = SessionState


# -- races --------------------------------------------------------------------------------


def test_the_last_seat_and_the_last_dollars_go_to_exactly_one_each(
    dynamodb: DynamoDBClient, table: str, clock: Clock
) -> None:
    stores = [other_store(clock) for _ in range(4)]  # a client each, made in this thread
    stores[0].create_event(event(seats=3, budget_micros=10 * R))
    stores[0].create_event(event("cheap", seats=50, budget_micros=2 * R + R // 2))
    stores[0].create(attendee("early-1"))
    stores[0].create(attendee("early-2"))

    def launch(i: int) -> str:
        stores[i % 4].create(attendee(f"s{i}", event="ws" if i % 2 else "cheap"))
        return "admitted"

    results = race(24, launch)
    odd, even = results[1::2], results[0::2]
    assert odd.count("admitted") == 1, "one seat was left"
    assert all(isinstance(r, EventFullError) and "3 of 3" in str(r) for r in odd if r != "admitted")
    assert even.count("admitted") == 2, "two worst cases fit the budget"
    assert all(isinstance(r, BudgetExhaustedError) for r in even if r != "admitted")
    assert counters(dynamodb) == counts(seats=3, reserved=3 * R, sessions=3)
    cheap = stores[0].event_usage("cheap")
    assert cheap == EventUsage(seats_in_use=2, reserved_micros=2 * R, sessions=2)


def test_churn_keeps_the_counters_equal_to_the_sessions(
    dynamodb: DynamoDBClient, table: str, clock: Clock
) -> None:
    stores = [other_store(clock) for _ in range(4)]
    budget = 7 * R
    stores[0].create_event(event(seats=2, budget_micros=budget))

    def attend(i: int) -> int:
        admitted = 0
        for k in range(5):
            try:
                stores[i % 4].create(attendee(f"s{i}-{k}"))
            except (EventFullError, BudgetExhaustedError):
                continue
            admitted += 1
            end(stores[i % 4], f"s{i}-{k}", HOUR / 2)
        return admitted

    admitted = sum(each(race(8, attend)))  # a worker's error is raised here
    assert admitted >= 2 and counters(dynamodb) == counts(
        spent=admitted * R // 2, sessions=admitted, budget=budget
    )
    assert admitted * R // 2 <= budget
    clock.now += QUIET + 1
    assert stores[0].repair_counters() == {}, "nothing drifted"


# -- repair -------------------------------------------------------------------------------


DONE = R // 2 + H // 60  # "done": half an hour, and the minimum minute of its lost server


def _workshop(store: DynamoSessionStore, clock: Clock) -> None:
    """An active session, an ended one (30 min, one interruption), a refusal and a build."""
    store.create_event(event())
    store.create(attendee("running"))
    store.create(attendee("done"))
    end(store, "done", 1800, interruptions=1)
    store.create(attendee("refused", state=S.FAILED, reserved_micros=0))
    store.create(attendee("build", build_only=True, reserved_micros=0, state=S.QUEUED))
    store.create(attendee("elsewhere", event="", reserved_micros=0))
    clock.now = T0 + 2 * HOUR


def test_repair_recounts_corrupted_event_counters_from_the_sessions(
    store: DynamoSessionStore, dynamodb: DynamoDBClient, clock: Clock
) -> None:
    _workshop(store, clock)
    right = counts(seats=1, reserved=R, spent=DONE, sessions=2, interruptions=1)
    assert counters(dynamodb) == right
    corrupt(dynamodb, seats_used=3, reserved=None, spent=0, available=1, interruptions=9)
    fixed = store.repair_counters()
    assert fixed == {
        "event#ws:seats_used": (3, 1),
        "event#ws:reserved": (0, R),
        "event#ws:spent": (0, DONE),
        "event#ws:available": (1, right["available"]),
        "event#ws:interruptions": (9, 1),
    }
    assert counters(dynamodb) == right
    assert store.repair_counters() == {}


def test_repair_releases_a_reservation_whose_session_is_gone(
    store: DynamoSessionStore, dynamodb: DynamoDBClient, clock: Clock
) -> None:
    _workshop(store, clock)
    key = {n.PARTITION_KEY: {"S": "SESSION#running"}, n.SORT_KEY: {"S": "SESSION"}}
    dynamodb.delete_item(TableName=TABLE, Key=key)
    store.repair_counters()
    assert counters(dynamodb) == counts(spent=DONE, sessions=1, interruptions=1)


def test_repair_leaves_an_event_that_moved_a_moment_ago(
    store: DynamoSessionStore, dynamodb: DynamoDBClient, clock: Clock
) -> None:
    _workshop(store, clock)
    corrupt(dynamodb, seats_used=2)  # one seat too many
    store.create(attendee("late"))  # the indexes may not show it yet: wait for the next pass
    assert store.repair_counters() == {}
    clock.now += QUIET
    assert store.repair_counters() == {"event#ws:seats_used": (3, 2)}


def test_repair_never_overwrites_an_admission_racing_it(
    store: DynamoSessionStore, dynamodb: DynamoDBClient, clock: Clock
) -> None:
    _workshop(store, clock)
    corrupt(dynamodb, seats_used=2)  # one seat too many
    before_call(dynamodb, "UpdateItem", lambda: other_store(clock).create(attendee("racer")))
    assert store.repair_counters() == {}, "the event moved after it was read"
    assert counters(dynamodb)["seats_used"] == 3
    clock.now += QUIET
    assert store.repair_counters() == {"event#ws:seats_used": (3, 2)}


def test_long_after_the_end_only_seats_and_reservations_are_recounted(
    store: DynamoSessionStore, dynamodb: DynamoDBClient, clock: Clock
) -> None:
    _workshop(store, clock)
    # Ended sessions expire (TTL); a stuck one still holds its seat.
    key = {n.PARTITION_KEY: {"S": "SESSION#done"}, n.SORT_KEY: {"S": "SESSION"}}
    dynamodb.delete_item(TableName=TABLE, Key=key)
    corrupt(dynamodb, seats_used=2, reserved=2 * R)
    clock.now = T0 + 8 * HOUR + RECOUNT_AFTER_END + 1
    calls = ApiCalls(dynamodb)
    store.repair_counters()
    assert n.IMAGE_INDEX not in [index for _, index in calls.calls], "no ended sessions read"
    assert counters(dynamodb) == counts(
        seats=1, reserved=R, spent=DONE, sessions=2, interruptions=1
    ), "what was spent stays spent"
