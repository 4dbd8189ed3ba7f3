"""What DynamoSessionStore does beyond the SessionStore contract (tests/contract/): counters,
their repair, TTL, the calls it makes, and retries when DynamoDB reports a conflict."""

from __future__ import annotations

from enum import Enum
from types import UnionType
from typing import TYPE_CHECKING, Any, TypeVar, Union, get_args, get_origin

import pytest
from botocore.exceptions import ClientError
from pydantic import BaseModel

from skybinder.adapters.aws import names as n
from skybinder.adapters.aws.dynamo_store import ENDED_RETENTION, DynamoSessionStore
from skybinder.domain.model import Image, ImageState, Limits, Session, SessionState
from tests.aws.conftest import ApiCalls, before_call, client, fail_calls, sweep_expired

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

S = SessionState
M = TypeVar("M", bound=BaseModel)
LIFE = [S.BUILT, S.LAUNCHING, S.STARTING, S.READY, S.STOPPING, S.STOPPED]


def session(id: str, repo: str = "a", **fields: Any) -> Session:
    values: dict[str, Any] = {
        "provider": "gh", "spec": f"{repo}/x/main", "repo_key": repo, "image_name": f"img-{repo}",
        "repo_url": f"https://github.com/{repo}/x", "created_at": 100.0,
    }  # fmt: skip
    return Session(id=id, **{**values, **fields})


@pytest.fixture
def store(dynamodb: DynamoDBClient, table: str) -> DynamoSessionStore:
    return DynamoSessionStore(dynamodb, table)


def walk(store: DynamoSessionStore, session_id: str, states: list[SessionState]) -> None:
    for new in states:
        current = store.get(session_id)
        assert current is not None
        ended = 500.0 if new.terminal else None
        assert store.transition(session_id, [current.state], new, ended_at=ended) is not None


def filled(model: type[M], **fixed: Any) -> M:
    """An instance with every field set to a value unlike its default (new fields included)."""
    values = {
        name: fixed[name] if name in fixed else _sample(field.annotation, i)
        for i, (name, field) in enumerate(model.model_fields.items())
    }
    made = model.model_validate(values)
    assert made.model_fields_set == set(model.model_fields)
    return made


def _sample(annotation: Any, i: int) -> object:
    if get_origin(annotation) in (Union, UnionType):
        annotation = next(a for a in get_args(annotation) if a is not type(None))
    if get_origin(annotation) is list:
        return [f"item-{i}", "second"]
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return list(annotation)[-1]
    samples = {bool: True, int: 200 + i, float: 1_800_000_000.123456 + i / 7, str: f"value {i}"}
    assert annotation in samples, f"teach _sample a value of type {annotation}"
    return samples[annotation]


def test_every_field_is_an_attribute_and_round_trips(
    store: DynamoSessionStore, dynamodb: DynamoDBClient
) -> None:
    full = filled(Session, id="s1", notices=["n1", "n2"], build_only=True)
    store.create(full)
    assert store.get("s1") == full
    key = {n.PARTITION_KEY: {"S": "SESSION#s1"}, n.SORT_KEY: {"S": "SESSION"}}
    item = dynamodb.get_item(TableName="skybinder-test", Key=key)["Item"]
    assert set(Session.model_fields) <= set(item), "each field is an attribute of its own"
    assert item["notices"] == {"L": [{"S": "n1"}, {"S": "n2"}]}
    assert item["build_only"] == {"BOOL": True} and item["state"] == {"S": full.state.value}
    image = filled(Image, name="img", state=ImageState.BUILDING)
    assert store.claim_build(image)
    assert store.get_image("img") == image


def test_counters_follow_sessions_back_to_zero(store: DynamoSessionStore) -> None:
    limits = Limits(max_sessions=3, max_sessions_per_repo=2)
    for sid, repo in [("s1", "a"), ("s2", "a"), ("s3", "b")]:
        store.create(session(sid, repo), limits)
    store.create(session("only-build", "a", build_only=True))  # counted, as every session
    assert store.counters() == {"global": 4, "repo#a": 3, "repo#b": 1}
    walk(store, "s1", LIFE)
    walk(store, "s2", [S.FAILED])
    walk(store, "s3", [*LIFE[:3], S.FAILED])
    walk(store, "only-build", [S.BUILT, S.STOPPED])
    assert store.counters() == {"global": 0, "repo#a": 0, "repo#b": 0}
    for i in range(3):  # the slots are free again
        store.create(session(f"again{i}", "ab"[i % 2]), limits)


def test_a_session_moving_to_another_repository_moves_its_count(store: DynamoSessionStore) -> None:
    store.create(session("s1", "a"))
    store.transition("s1", [S.QUEUED], S.QUEUED, repo_key="b")
    assert store.counters() == {"global": 1, "repo#a": 0, "repo#b": 1}
    store.transition("s1", [S.QUEUED], S.QUEUED, build_only=True)  # still counted
    assert store.counters() == {"global": 1, "repo#a": 0, "repo#b": 1}


def _set_counter(dynamodb: DynamoDBClient, name: str, value: int | None) -> None:
    key = {n.PARTITION_KEY: {"S": n.COUNTER_PARTITION}, n.SORT_KEY: {"S": name}}
    if value is None:
        dynamodb.delete_item(TableName="skybinder-test", Key=key)
    else:
        dynamodb.put_item(TableName="skybinder-test", Item={**key, "count": {"N": str(value)}})


def test_repair_recomputes_corrupted_counters(
    store: DynamoSessionStore, dynamodb: DynamoDBClient
) -> None:
    for sid, repo in [("s1", "a"), ("s2", "a"), ("s3", "b")]:
        store.create(session(sid, repo))
    walk(store, "s3", [S.FAILED])
    _set_counter(dynamodb, "global", 9)
    _set_counter(dynamodb, "repo#a", None)
    _set_counter(dynamodb, "repo#gone", 4)
    assert store.repair_counters() == {
        "global": (9, 2),
        "repo#a": (0, 2),
        "repo#gone": (4, 0),
    }
    # Unused repositories' counters (b ended at 0; gone) are deleted, not kept at zero.
    assert store.counters() == {"global": 2, "repo#a": 2}
    assert store.repair_counters() == {}


def test_repair_never_overwrites_an_admission_racing_it(
    store: DynamoSessionStore, dynamodb: DynamoDBClient
) -> None:
    store.create(session("s1"))
    _set_counter(dynamodb, "global", 9)
    other = DynamoSessionStore(client("dynamodb"), "skybinder-test")
    before_call(dynamodb, "UpdateItem", lambda: other.create(session("s2")))
    fixed = store.repair_counters()
    assert "global" not in fixed, "the counter moved after it was read: left for the next pass"
    assert store.counters()["global"] == 10
    assert store.repair_counters()["global"] == (10, 2)


def test_ended_sessions_expire_after_the_retention(
    store: DynamoSessionStore, dynamodb: DynamoDBClient
) -> None:
    store.create(session("ends"))
    store.create(session("stays"))
    store.create(session("born-failed", state=S.FAILED, ended_at=700.0))
    store.claim_build(Image(name="img-a"))
    walk(store, "ends", [S.FAILED])  # ended_at=500
    assert sweep_expired(dynamodb, "skybinder-test", 500 + ENDED_RETENTION - 1) == 0
    assert sweep_expired(dynamodb, "skybinder-test", 500 + ENDED_RETENTION) == 1
    assert store.get("ends") is None and store.get("stays") is not None
    assert sweep_expired(dynamodb, "skybinder-test", 700 + ENDED_RETENTION) == 1
    assert store.get("born-failed") is None
    assert sweep_expired(dynamodb, "skybinder-test", 10**12) == 0, "active sessions and images"
    assert store.get_image("img-a") is not None


def test_each_operation_takes_few_calls_and_lists_never_scan(
    store: DynamoSessionStore, dynamodb: DynamoDBClient
) -> None:
    calls = ApiCalls(dynamodb)
    store.create(session("s1"), Limits(max_sessions=5))
    store.create(session("b1", build_only=True))
    assert calls.names == ["TransactWriteItems", "TransactWriteItems"]
    calls.clear()
    store.transition("s1", [S.QUEUED], S.BUILDING, task_id="t1")
    assert calls.names == ["UpdateItem"]
    calls.clear()
    store.list({S.QUEUED, S.BUILDING})
    store.list([S.BUILDING], "img-a")
    store.list(image_name="img-a")
    assert store.find_by_task("t1") is not None
    assert calls.calls == [("Query", n.STATUS_INDEX)] * 2 + [("Query", n.IMAGE_INDEX)] * 2 + [
        ("Query", n.TASK_INDEX),
        ("GetItem", None),
    ]
    calls.clear()
    store.transition("s1", [S.BUILDING], S.FAILED)
    store.transition("b1", [S.QUEUED], S.FAILED)
    assert calls.names == ["GetItem", "TransactWriteItems"] * 2


def test_transaction_conflicts_are_retried(dynamodb: DynamoDBClient, table: str) -> None:
    pauses: list[float] = []
    store = DynamoSessionStore(dynamodb, table, sleep=pauses.append, attempts=3)
    conflict = {"CancellationReasons": [{"Code": "None"}, {"Code": "TransactionConflict"}]}
    fail_calls(dynamodb, "TransactWriteItems", "TransactionCanceledException", 2, **conflict)
    store.create(session("s1"), Limits(max_sessions=1))
    assert len(pauses) == 2 and store.counters()["global"] == 1
    fail_calls(dynamodb, "TransactWriteItems", "TransactionCanceledException", 3, **conflict)
    with pytest.raises(ClientError, match="TransactionCanceled"):
        store.create(session("s2"))
    assert store.get("s2") is None and store.counters()["global"] == 1


def test_single_writes_wait_for_a_transaction_holding_the_item(
    dynamodb: DynamoDBClient, table: str
) -> None:
    pauses: list[float] = []
    store = DynamoSessionStore(dynamodb, table, sleep=pauses.append)
    store.create(session("s1"))
    fail_calls(dynamodb, "UpdateItem", "TransactionConflictException", 2)
    assert store.transition("s1", [S.QUEUED], S.BUILDING) is not None
    assert len(pauses) == 2


def test_an_ending_rereads_a_session_that_changed_under_it(
    store: DynamoSessionStore, dynamodb: DynamoDBClient
) -> None:
    store.create(session("s1"))
    walk(store, "s1", LIFE[:4])  # ready
    other = DynamoSessionStore(client("dynamodb"), "skybinder-test")
    before_call(
        dynamodb,
        "TransactWriteItems",
        lambda: other.transition("s1", [S.READY], S.READY, url="https://x/s/s1/"),
    )
    stopped = store.transition("s1", [S.READY], S.STOPPED, reason="idle", ended_at=9.0)
    assert stopped is not None and (stopped.url, stopped.reason) == ("https://x/s/s1/", "idle")
    assert store.get("s1") == stopped
    assert store.counters() == {"global": 0, "repo#a": 0}, "decremented once"


def test_an_ending_racing_a_failure_has_one_winner_and_counts_once(
    store: DynamoSessionStore, dynamodb: DynamoDBClient
) -> None:
    store.create(session("s1"))
    walk(store, "s1", LIFE[:4])
    other = DynamoSessionStore(client("dynamodb"), "skybinder-test")
    before_call(
        dynamodb,
        "TransactWriteItems",
        lambda: other.transition("s1", [S.READY], S.FAILED, reason="spot", ended_at=9.0),
    )
    assert store.transition("s1", [S.READY], S.STOPPED, ended_at=9.0) is None
    assert store.get("s1").state == S.FAILED  # type: ignore[union-attr]
    assert store.counters() == {"global": 0, "repo#a": 0}


def test_lists_read_every_page(store: DynamoSessionStore, dynamodb: DynamoDBClient) -> None:
    # DynamoDB returns at most 1 MB per Query page (moto too): five 300 kB sessions need three.
    for i in range(5):
        store.create(session(f"s{i}", notices=["x" * 300_000], created_at=float(i)))
    calls = ApiCalls(dynamodb)
    assert [s.id for s in store.list([S.QUEUED])] == [f"s{i}" for i in range(5)]
    assert [s.id for s in store.list([S.QUEUED], "img-a")] == [f"s{i}" for i in range(5)]
    assert calls.names.count("Query") >= 4, "pages were followed"
