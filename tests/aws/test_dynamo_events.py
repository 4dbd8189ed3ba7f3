"""What DynamoSessionStore does for events beyond the contract (tests/contract/): the event
item, admission and settlement as transactions with the event's counters, and the calls they
take. Races and the repair of the counters: test_dynamo_event_counters.py."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from skybinder.adapters.aws import names as n
from skybinder.adapters.aws.dynamo_events import COUNTERS
from skybinder.adapters.aws.dynamo_store import DynamoSessionStore
from skybinder.domain.errors import (
    BudgetExhaustedError,
    EventClosedError,
    EventFullError,
    EventNotFoundError,
    QuotaExceededError,
)
from skybinder.domain.event import Event
from skybinder.domain.model import Limits, SessionState
from skybinder.domain.pricing import cost_micros
from tests.aws.conftest import TABLE, ApiCalls, before_call
from tests.aws.dynamo_event_fixtures import (
    EVENT_KEY,
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

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

S = SessionState


# -- the event item -----------------------------------------------------------------------


def test_an_event_item_starts_with_its_budget_available_and_is_listed_by_start(
    store: DynamoSessionStore, dynamodb: DynamoDBClient
) -> None:
    store.create_event(event())
    item = dynamodb.get_item(TableName=TABLE, Key=EVENT_KEY)["Item"]
    assert counters(dynamodb) == counts()
    assert "closed_at" not in item, "absent while open, so that closing keeps the first time"
    assert (item["status_pk"], item["status_sk"]) == ({"S": "EVENT"}, {"N": str(T0)})
    assert not set(COUNTERS) & set(Event.model_fields), "counters never shadow a field"
    calls = ApiCalls(dynamodb)
    assert [e.slug for e in store.list_events()] == ["ws"]
    assert calls.calls == [("Query", n.STATUS_INDEX)], "one query, never a Scan"


# -- admission ----------------------------------------------------------------------------


def test_admission_is_one_transaction_that_moves_the_counters(
    store: DynamoSessionStore, dynamodb: DynamoDBClient
) -> None:
    store.create_event(event())
    calls = ApiCalls(dynamodb)
    store.create(attendee("a1"))
    assert calls.names == ["TransactWriteItems"]
    assert counters(dynamodb) == counts(seats=1, reserved=R, sessions=1)
    assert store.counters() == {"global": 1, "repo#github.com/a/b": 1}


def test_sessions_outside_events_take_no_more_calls(
    store: DynamoSessionStore, dynamodb: DynamoDBClient
) -> None:
    plain = {"event": "", "reserved_micros": 0}
    calls = ApiCalls(dynamodb)
    store.create(attendee("s1", **plain), Limits(max_sessions=5))
    store.create(attendee("b1", build_only=True, **plain))
    store.transition("s1", [S.LAUNCHING], S.STARTING, interruptions=1)
    end(store, "s1", 60)
    end(store, "b1", 60)
    # A build-only session counts toward the limits: its insert and end move counters too.
    assert calls.names == [
        "TransactWriteItems", "TransactWriteItems", "UpdateItem", "GetItem", "TransactWriteItems",
        "GetItem", "TransactWriteItems",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("damage", "error", "message"),
    [
        ({"seats_used": 3}, EventFullError, "full — 3 of 3 seats in use"),
        ({"available": R - 1}, BudgetExhaustedError, "is at its budget limit"),
        ({"closed_at": T0}, EventClosedError, "was closed by its organisers"),
    ],
)
def test_each_admission_condition_refuses_on_the_item_as_it_stands(
    store: DynamoSessionStore,
    dynamodb: DynamoDBClient,
    damage: dict[str, float],
    error: type[Exception],
    message: str,
) -> None:
    store.create_event(event())
    corrupt(dynamodb, **{k: int(v) for k, v in damage.items()})
    calls = ApiCalls(dynamodb)
    with pytest.raises(error, match=message):
        store.create(attendee("a1"))
    assert calls.names == ["TransactWriteItems", "GetItem"], "the event is read to say why"
    assert store.get("a1") is None and store.counters() == {}


def test_an_unknown_event_makes_no_event_item(
    store: DynamoSessionStore, dynamodb: DynamoDBClient
) -> None:
    with pytest.raises(EventNotFoundError, match="There is no event 'ws'"):
        store.create(attendee("a1"))
    assert "Item" not in dynamodb.get_item(TableName=TABLE, Key=EVENT_KEY)


def test_quotas_are_refused_before_the_event_is_asked(store: DynamoSessionStore) -> None:
    store.create_event(event(seats=1))
    store.create(attendee("a1"))
    with pytest.raises(QuotaExceededError, match="Too many users on this BinderHub") as refused:
        store.create(attendee("a2"), Limits(max_sessions=1))
    assert type(refused.value) is QuotaExceededError


def test_a_refusal_read_after_a_seat_came_back_tries_again(
    store: DynamoSessionStore, dynamodb: DynamoDBClient, clock: Clock
) -> None:
    store.create_event(event(seats=1))
    store.create(attendee("a1"))
    calls = ApiCalls(dynamodb)
    before_call(dynamodb, "GetItem", lambda: end(other_store(clock), "a1", 60))
    store.create(attendee("a2"))
    assert calls.names == ["TransactWriteItems", "GetItem", "TransactWriteItems"]
    assert counters(dynamodb) == counts(seats=1, reserved=R, spent=H // 60, sessions=2)


def test_a_session_with_nothing_reserved_is_checked_but_not_counted(
    store: DynamoSessionStore, dynamodb: DynamoDBClient
) -> None:
    store.create_event(event(seats=1))
    store.create(attendee("free", reserved_micros=0))
    store.create(attendee("a1"))
    with pytest.raises(EventFullError):
        store.create(attendee("free-2", reserved_micros=0))
    assert counters(dynamodb) == counts(seats=1, reserved=R, sessions=1)


# -- settlement ---------------------------------------------------------------------------


def test_an_ending_settles_in_the_transaction_that_ends_it(
    store: DynamoSessionStore, dynamodb: DynamoDBClient, clock: Clock
) -> None:
    store.create_event(event())
    store.create(attendee("a1"))
    store.transition("a1", [S.LAUNCHING], S.STARTING, interruptions=1)
    assert counters(dynamodb)["interruptions"] == 0, "counted with the cost, at the end"
    clock.now = T0 + 1800
    calls = ApiCalls(dynamodb)
    ended = end(store, "a1", 1800, interruptions=2)
    assert calls.names == ["GetItem", "TransactWriteItems"]
    cost = cost_micros(H, 1800) + 2 * cost_micros(H, 60)  # and each lost server's minute
    assert ended.cost_micros == cost == R // 2 + 2 * (H // 60)
    assert counters(dynamodb) == counts(spent=cost, sessions=1, interruptions=2)
    item = dynamodb.get_item(TableName=TABLE, Key=EVENT_KEY)["Item"]
    assert float(item[n.CHANGED_AT_ATTRIBUTE]["N"]) == T0 + 1800
    assert store.counters() == {"global": 0, "repo#github.com/a/b": 0}


def test_a_session_running_past_its_reservation_pays_the_overrun(
    store: DynamoSessionStore, dynamodb: DynamoDBClient
) -> None:
    store.create_event(event(budget_micros=3 * R))
    store.create(attendee("a1"))
    end(store, "a1", 2 * HOUR)  # the reaper came late: two hours at the hourly price
    assert counters(dynamodb) == counts(spent=2 * R, sessions=1, budget=3 * R)
    store.create(attendee("a2"))
    with pytest.raises(BudgetExhaustedError):
        store.create(attendee("a3"))


def test_a_new_reservation_moves_the_counters_by_the_difference(
    store: DynamoSessionStore, dynamodb: DynamoDBClient
) -> None:
    store.create_event(event())
    store.create(attendee("a1"))
    calls = ApiCalls(dynamodb)
    assert store.transition("a1", [S.LAUNCHING], S.LAUNCHING, reserved_micros=2 * R) is not None
    assert calls.names == ["GetItem", "TransactWriteItems"]
    assert counters(dynamodb) == counts(seats=1, reserved=2 * R, sessions=1)
    end(store, "a1", 900)
    assert counters(dynamodb) == counts(spent=cost_micros(H, 900), sessions=1)


def test_an_ending_whose_event_item_is_gone_still_ends(
    store: DynamoSessionStore, dynamodb: DynamoDBClient
) -> None:
    store.create_event(event())
    store.create(attendee("a1"))
    dynamodb.delete_item(TableName=TABLE, Key=EVENT_KEY)
    assert end(store, "a1", 60).state == S.STOPPED
    assert "Item" not in dynamodb.get_item(TableName=TABLE, Key=EVENT_KEY), "none made up"
    assert store.counters()["global"] == 0


# -- warm sessions ------------------------------------------------------------------------


def test_a_claim_is_one_conditional_write_that_moves_no_counter(
    store: DynamoSessionStore, dynamodb: DynamoDBClient
) -> None:
    store.create_event(event(warm_pool=1))
    store.create(attendee("w1", state=S.READY, warm=True))
    assert store.event_usage("ws").warm_idle == 1
    calls = ApiCalls(dynamodb)
    claimed = store.claim_warm("w1", client_ip="1.2.3.4")
    assert claimed is not None and not claimed.warm
    assert calls.names == ["UpdateItem"]
    for counted in ({"reserved_micros": 0}, {"repo_key": "x"}, {"event": "other"}):
        with pytest.raises(ValueError, match="cannot be changed"):
            store.claim_warm("w1", **counted)
    assert counters(dynamodb) == counts(seats=1, reserved=R, sessions=1)
