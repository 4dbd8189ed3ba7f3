"""The edges of DynamoSessionStore's event accounting: the smallest reservation, sessions that
arrive already ended, a settlement that loses a race, a refusal read as the budget comes back
to the micro-dollar, and what each item of the table says it is."""

from __future__ import annotations

from typing import TYPE_CHECKING

from skybinder.adapters.aws import names as n
from skybinder.adapters.aws.dynamo_rate_limit import DynamoRateLimiter
from skybinder.adapters.aws.dynamo_store import DynamoSessionStore
from skybinder.domain.model import SessionState
from tests.aws.conftest import TABLE, ApiCalls, before_call
from tests.aws.dynamo_event_fixtures import (
    EVENT_KEY,
    T0,
    Clock,
    R,
    attendee,
    counters,
    counts,
    end,
    event,
    other_store,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

S = SessionState
REPO = {"global": 1, "repo#github.com/a/b": 1}


def test_the_smallest_reservation_holds_a_seat_and_its_micro_dollar(
    store: DynamoSessionStore, dynamodb: DynamoDBClient, clock: Clock
) -> None:
    store.create_event(event())
    clock.now = T0 + 30
    store.create(attendee("tiny", reserved_micros=1))
    assert counters(dynamodb) == counts(seats=1, reserved=1, sessions=1)
    item = dynamodb.get_item(TableName=TABLE, Key=EVENT_KEY)["Item"]
    assert item[n.CHANGED_AT_ATTRIBUTE] == {"N": str(T0 + 30)}, "the repair waits after it"


def test_a_session_stored_already_ended_counts_what_it_cost(
    store: DynamoSessionStore, dynamodb: DynamoDBClient, clock: Clock
) -> None:
    store.create_event(event())
    clock.now = T0 + 900
    done = attendee("done", state=S.STOPPED, ended_at=T0 + 600, cost_micros=1_234, interruptions=1)
    store.create(done)
    assert counters(dynamodb) == counts(spent=1_234, sessions=1, interruptions=1)
    item = dynamodb.get_item(TableName=TABLE, Key=EVENT_KEY)["Item"]
    assert item[n.CHANGED_AT_ATTRIBUTE] == {"N": str(T0 + 900)}, "the repair waits after it"
    assert store.counters() == {}, "an ended session holds no slot"


def test_a_refused_attempt_is_one_write_that_moves_nothing(
    store: DynamoSessionStore, dynamodb: DynamoDBClient, clock: Clock
) -> None:
    store.create_event(event())
    before = dynamodb.get_item(TableName=TABLE, Key=EVENT_KEY)["Item"]
    clock.now = T0 + 60
    calls = ApiCalls(dynamodb)
    store.create(attendee("refused", state=S.FAILED, reserved_micros=0))
    assert calls.names == ["PutItem"]
    assert dynamodb.get_item(TableName=TABLE, Key=EVENT_KEY)["Item"] == before
    store.create(attendee("elsewhere", event="gone", state=S.FAILED, reserved_micros=0))
    assert store.get("elsewhere") is not None, "kept though its event is unknown"


def test_a_settlement_that_loses_a_race_with_another_write_still_settles(
    store: DynamoSessionStore, dynamodb: DynamoDBClient, clock: Clock
) -> None:
    store.create_event(event())
    store.create(attendee("a1"))
    noted = ["the platform says it starts"]
    before_call(
        dynamodb,
        "TransactWriteItems",
        lambda: other_store(clock).transition("a1", [S.LAUNCHING], S.STARTING, notices=noted),
    )
    ended = end(store, "a1", 1800)
    assert ended.notices == noted, "decided again on the session as the other write left it"
    assert counters(dynamodb) == counts(spent=R // 2, sessions=1)
    assert store.counters() == {"global": 0, "repo#github.com/a/b": 0}


def test_a_refusal_read_when_the_budget_fits_to_the_micro_dollar_tries_again(
    store: DynamoSessionStore, dynamodb: DynamoDBClient, clock: Clock
) -> None:
    store.create_event(event(budget_micros=2 * R, seats=10))
    store.create(attendee("never-launched", launched_at=None))
    store.create(attendee("a1"))
    # Ending the session that never launched costs nothing and gives back exactly one R.
    before_call(dynamodb, "GetItem", lambda: end(other_store(clock), "never-launched", 60))
    store.create(attendee("a2"))
    assert counters(dynamodb) == counts(seats=2, reserved=2 * R, sessions=3, budget=2 * R)


def test_a_change_of_reservation_keeps_the_slot_counters(
    store: DynamoSessionStore, dynamodb: DynamoDBClient
) -> None:
    store.create_event(event())
    store.create(attendee("a1"))
    store.transition("a1", [S.LAUNCHING], S.LAUNCHING, reserved_micros=2 * R)
    store.transition("a1", [S.LAUNCHING], S.STARTING, reserved_micros=R)
    assert store.counters() == REPO
    assert counters(dynamodb) == counts(seats=1, reserved=R, sessions=1)


def test_every_item_says_what_it_is(store: DynamoSessionStore, dynamodb: DynamoDBClient) -> None:
    store.create_event(event())
    store.create(attendee("a1"))
    DynamoRateLimiter(dynamodb, TABLE).check("203.0.113.7", 5, 60, T0)
    kinds = {
        (item[n.PARTITION_KEY]["S"].split("#")[0], item[n.KIND_ATTRIBUTE]["S"])
        for item in dynamodb.scan(TableName=TABLE)["Items"]
    }
    assert kinds == {("EVENT", "event"), ("SESSION", "session"), ("COUNTER", "counter"),
                     ("RATE", "rate")}  # fmt: skip
