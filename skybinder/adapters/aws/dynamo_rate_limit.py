"""RateLimiter on the DynamoDB table: one item per key, counted by an atomic UpdateItem."""

from __future__ import annotations

from typing import TYPE_CHECKING

from skybinder.adapters.aws import names as n
from skybinder.adapters.aws.dynamo_items import Expression, Item, key
from skybinder.adapters.aws.dynamo_table import ConditionFailed, DynamoTable
from skybinder.service.ports import RateLimitResult

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient


class DynamoRateLimiter:
    """Fixed windows in items `RATE#<key>` / `RATE` (count, reset; TTL at the window's end).

    An attempt inside a live window (or for a new key) is one UpdateItem: ADD 1 to the count,
    on condition that the window has not ended. Only the first attempt after a window ended
    takes a second call, a PutItem that opens the next window on condition that the stored one
    has ended, so of two callers racing to open it one wins and the other counts in it. TTL
    deletes ended windows eventually (within days); until then the conditions step over them.
    """

    def __init__(self, client: DynamoDBClient, table_name: str, *, attempts: int = 4) -> None:
        self._table = DynamoTable(client, table_name)
        self._attempts = attempts

    def check(self, key: str, limit: int, window_seconds: int, now: float) -> RateLimitResult:
        RateLimitResult.check_arguments(key, limit, window_seconds)
        if limit == 0:
            return RateLimitResult.unlimited(now)
        reset = int(now) + window_seconds
        for _ in range(self._attempts):
            try:
                count, current_reset = self._count(key, now, reset)
                return RateLimitResult.of(count, current_reset, limit=limit, now=now)
            except ConditionFailed:
                pass  # the stored window has ended (TTL has not deleted it yet)
            try:
                self._open(key, now, reset)
                return RateLimitResult.of(1, reset, limit=limit, now=now)
            except ConditionFailed:
                pass  # another attempt opened the next window first: count in it
        raise RuntimeError(f"The rate-limit window of {key!r} kept changing; try again.")

    def attempts(self, key: str, now: float) -> tuple[int, int]:
        item = self._table.get(_key(key))  # strongly consistent: a guess counted just now shows
        if item is None or n.RESET_ATTRIBUTE not in item:
            return 0, 0
        reset = int(item[n.RESET_ATTRIBUTE]["N"])
        return (int(item[n.COUNT_ATTRIBUTE]["N"]), reset) if reset > now else (0, 0)

    def _count(self, rate_key: str, now: float, reset: int) -> tuple[int, int]:
        """(count, reset) after counting one attempt in the live window (or a new one)."""
        e = (
            Expression()
            .add(n.COUNT_ATTRIBUTE, 1)
            .set_default(n.RESET_ATTRIBUTE, reset)
            .set_default(n.TTL_ATTRIBUTE, reset)
            .set(n.KIND_ATTRIBUTE, "rate")
        )
        stored = e.name(n.RESET_ATTRIBUTE)
        condition = f"attribute_not_exists({stored}) OR {stored} > {e.value(now)}"
        item = self._table.update(_key(rate_key), e, condition)
        return int(item[n.COUNT_ATTRIBUTE]["N"]), int(item[n.RESET_ATTRIBUTE]["N"])

    def _open(self, rate_key: str, now: float, reset: int) -> None:
        """Start the next window with this attempt, if the stored one has ended."""
        e = Expression()
        window = {
            **_key(rate_key),
            n.KIND_ATTRIBUTE: {"S": "rate"},
            n.COUNT_ATTRIBUTE: {"N": "1"},
            n.RESET_ATTRIBUTE: {"N": str(reset)},
            n.TTL_ATTRIBUTE: {"N": str(reset)},
        }
        self._table.put(window, e, f"{e.name(n.RESET_ATTRIBUTE)} <= {e.value(now)}")


def _key(rate_key: str) -> Item:
    return key(n.RATE_PREFIX + rate_key, n.RATE_SORT)
