"""What DynamoRateLimiter keeps in the table, and the calls it makes (the contract is in
tests/contract/test_rate_limiter.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from skybinder.adapters.aws import names as n
from skybinder.adapters.aws.dynamo_rate_limit import DynamoRateLimiter
from skybinder.adapters.aws.dynamo_store import DynamoSessionStore
from skybinder.domain.model import Session
from tests.aws.conftest import ApiCalls, before_call, client, sweep_expired

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

T0 = 1_800_000_000.5


@pytest.fixture
def limiter(dynamodb: DynamoDBClient, table: str) -> DynamoRateLimiter:
    return DynamoRateLimiter(dynamodb, table)


def window(dynamodb: DynamoDBClient, key: str) -> dict[str, object]:
    item = dynamodb.get_item(
        TableName="skybinder-test",
        Key={n.PARTITION_KEY: {"S": n.RATE_PREFIX + key}, n.SORT_KEY: {"S": n.RATE_SORT}},
    ).get("Item")
    return {} if item is None else {k: next(iter(v.values())) for k, v in item.items()}


def test_a_window_is_one_item_that_expires_when_it_ends(
    limiter: DynamoRateLimiter, dynamodb: DynamoDBClient
) -> None:
    for i in range(3):
        limiter.check("1.2.3.4", 2, 3600, T0 + i)
    reset = str(int(T0) + 3600)
    assert window(dynamodb, "1.2.3.4") == {
        n.PARTITION_KEY: "RATE#1.2.3.4",
        n.SORT_KEY: "RATE",
        n.KIND_ATTRIBUTE: "rate",
        n.COUNT_ATTRIBUTE: "3",  # refused attempts are counted too, as BinderHub does
        n.RESET_ATTRIBUTE: reset,
        n.TTL_ATTRIBUTE: reset,
    }
    assert sweep_expired(dynamodb, "skybinder-test", int(reset) - 1) == 0
    assert sweep_expired(dynamodb, "skybinder-test", int(reset)) == 1
    assert limiter.check("1.2.3.4", 2, 3600, int(reset) + 5).remaining == 1


def test_an_attempt_costs_one_call_and_opening_a_new_window_two(
    limiter: DynamoRateLimiter, dynamodb: DynamoDBClient
) -> None:
    calls = ApiCalls(dynamodb)
    limiter.check("ip", 10, 60, T0)
    limiter.check("ip", 10, 60, T0 + 1)
    assert calls.names == ["UpdateItem", "UpdateItem"]
    calls.clear()
    result = limiter.check("ip", 10, 60, T0 + 60)  # the first window ended: TTL not run yet
    assert calls.names == ["UpdateItem", "PutItem"]
    assert (result.remaining, result.reset) == (9, int(T0) + 120)
    assert window(dynamodb, "ip")[n.TTL_ATTRIBUTE] == str(int(T0) + 120)


def test_windows_share_the_table_with_sessions_without_touching_them(
    limiter: DynamoRateLimiter, dynamodb: DynamoDBClient, table: str
) -> None:
    store = DynamoSessionStore(dynamodb, table)
    store.create(Session(id="10.0.0.1", provider="gh", spec="a/b/c"))
    for _ in range(3):
        limiter.check("10.0.0.1", 1, 60, T0)
    assert store.list() == [Session(id="10.0.0.1", provider="gh", spec="a/b/c")]
    assert store.counters() == {"global": 1, "repo#": 1}


def test_a_window_opened_after_one_ended_is_a_rate_item_like_the_first(
    limiter: DynamoRateLimiter, dynamodb: DynamoDBClient
) -> None:
    limiter.check("ip", 10, 60, T0)
    limiter.check("ip", 10, 60, T0 + 60)  # opened by a PutItem
    assert window(dynamodb, "ip")[n.KIND_ATTRIBUTE] == "rate"


def test_a_window_that_keeps_changing_is_an_error_saying_so(
    dynamodb: DynamoDBClient, table: str
) -> None:
    limiter = DynamoRateLimiter(dynamodb, table, attempts=1)
    limiter.check("ip", 10, 60, T0)
    # Between our two calls another caller opens the next window: we lost both races.
    rival = DynamoRateLimiter(client("dynamodb"), table)
    before_call(dynamodb, "PutItem", lambda: rival.check("ip", 10, 60, T0 + 60))
    with pytest.raises(RuntimeError) as lost:
        limiter.check("ip", 10, 60, T0 + 60)
    assert str(lost.value) == "The rate-limit window of 'ip' kept changing; try again."
    assert window(dynamodb, "ip")[n.COUNT_ATTRIBUTE] == "1", "the rival's attempt only"
