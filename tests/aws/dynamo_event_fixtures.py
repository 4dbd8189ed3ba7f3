"""Events for the DynamoDB store's tests: an event, its attendees, its counters as stored,
a clock the store reads, and a hand that damages the counters."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from skybinder.adapters.aws import names as n
from skybinder.adapters.aws.dynamo_events import COUNTERS
from skybinder.adapters.aws.dynamo_store import DynamoSessionStore
from skybinder.domain.event import Event
from skybinder.domain.model import ACTIVE, CapacityPolicy, Session, SessionState
from tests.aws.conftest import TABLE, client

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

S = SessionState
T0 = 1_800_000_000.0
HOUR = 3600.0
H = 60_000  # price per hour of a session, micro-dollars
R = H  # one session's reservation: its hour at that price
IMAGE = "skybinder-a-b:abc"
EVENT_KEY = {n.PARTITION_KEY: {"S": "EVENT#ws"}, n.SORT_KEY: {"S": "EVENT"}}


class Clock:
    """The store's clock: when counters moved, and what the repair calls "now"."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def event(slug: str = "ws", **fields: Any) -> Event:
    values: dict[str, Any] = {
        "title": "Python workshop", "provider": "gh", "spec": "a/b/main", "image_name": IMAGE,
        "starts_at": T0, "ends_at": T0 + 8 * HOUR, "seats": 3, "budget_micros": 10 * R,
        "capacity": CapacityPolicy.SPOT, "cpu": 1.0, "memory_gb": 2.0, "max_minutes": 60,
        "reserve_micros": R,
    }  # fmt: skip
    return Event(slug=slug, **{**values, **fields})


def attendee(id: str, **fields: Any) -> Session:
    """An admitted-to-be session of event "ws" whose server was asked for at T0."""
    values: dict[str, Any] = {
        "provider": "gh", "spec": "a/b/abc", "repo_key": "github.com/a/b", "image_name": IMAGE,
        "event": "ws", "hourly_micros": H, "reserved_micros": R, "state": S.LAUNCHING,
        "launched_at": T0, "created_at": T0,
    }  # fmt: skip
    return Session(id=id, **{**values, **fields})


def other_store(clock: Clock) -> DynamoSessionStore:
    """A second handle, on its own client (another Lambda)."""
    return DynamoSessionStore(client("dynamodb"), TABLE, clock=clock)


def counters(dynamodb: DynamoDBClient) -> dict[str, int]:
    item = dynamodb.get_item(TableName=TABLE, Key=EVENT_KEY, ConsistentRead=True)["Item"]
    return {attr: int(item[attr]["N"]) for attr in COUNTERS if attr in item}


def counts(seats: int = 0, reserved: int = 0, spent: int = 0, sessions: int = 0,
           interruptions: int = 0, budget: int = 10 * R) -> dict[str, int]:  # fmt: skip
    return {
        "seats_used": seats, "reserved": reserved, "spent": spent,
        "available": budget - spent - reserved, "sessions": sessions,
        "interruptions": interruptions,
    }  # fmt: skip


def end(store: DynamoSessionStore, session_id: str, seconds: float, **changes: Any) -> Session:
    ended = store.transition(session_id, ACTIVE, S.STOPPED, ended_at=T0 + seconds, **changes)
    assert ended is not None
    return ended


def corrupt(dynamodb: DynamoDBClient, **values: int | None) -> None:
    """Overwrite (or, with None, delete) counters of the event, as a bug or a hand might."""
    for attr, value in values.items():
        if value is None:
            dynamodb.update_item(TableName=TABLE, Key=EVENT_KEY, UpdateExpression=f"REMOVE {attr}")
            continue
        dynamodb.update_item(
            TableName=TABLE,
            Key=EVENT_KEY,
            UpdateExpression=f"SET {attr} = :v",
            ExpressionAttributeValues={":v": {"N": str(value)}},
        )
