"""One DynamoDB table through the low-level client: reads, conditional writes and transactions,
with the retries DynamoDB asks for when a transaction holds an item."""

from __future__ import annotations

import builtins
import random
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from skybinder.adapters.aws.dynamo_items import Expression, Item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

CONDITION_FAILED = (
    "ConditionalCheckFailed"  # a cancellation reason; the error code adds "Exception"
)
# Cancellation reasons that mean "try again", not "refused": DynamoDB cancels a transaction
# that touches an item another transaction is writing (the global counter, under load).
_RETRYABLE = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})


class ConditionFailed(Exception):
    """A conditional write found the item otherwise; `item` is how it was, when asked for."""

    def __init__(self, item: Item | None = None) -> None:
        super().__init__("the condition of a write did not hold")
        self.item = item


class DynamoTable:
    """Reads are strongly consistent where DynamoDB allows it (not on indexes)."""

    def __init__(
        self,
        client: DynamoDBClient,
        name: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        attempts: int = 8,
    ) -> None:
        self.client = client
        self.name = name
        self._sleep = sleep
        self._attempts = attempts

    def get(self, key: Item) -> Item | None:
        out = self.client.get_item(TableName=self.name, Key=key, ConsistentRead=True)
        return out.get("Item")

    def query(self, key: Mapping[str, str], index: str | None = None) -> builtins.list[Item]:
        """Every item whose (index) key attributes equal `key`, all pages."""
        e = Expression()
        condition = " AND ".join(f"{e.name(a)} = {e.value(v)}" for a, v in key.items())
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": condition,
            **e.condition(None),
        }
        if index is None:
            kwargs["ConsistentRead"] = True
        else:
            kwargs["IndexName"] = index
        items: builtins.list[Item] = []
        while True:
            page = self.client.query(**kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def put(self, item: Item, e: Expression, condition: str) -> None:
        """PutItem on `condition`; ConditionFailed if it does not hold."""
        self._write(self.client.put_item, Item=item, **e.condition(condition))

    def update(
        self, key: Item, e: Expression, condition: str, *, old: bool = False, new: bool = True
    ) -> Item:
        """UpdateItem on `condition`, returning the item as written (nothing when not `new`);
        ConditionFailed if it does not hold (carrying the item as it was when `old`)."""
        extra = {"ReturnValuesOnConditionCheckFailure": "ALL_OLD"} if old else {}
        returns = "ALL_NEW" if new else "NONE"
        out = self._write(
            self.client.update_item, Key=key, ReturnValues=returns, **extra, **e.update(condition)
        )
        attributes: Item = out.get("Attributes", {})
        return attributes

    def delete(self, key: Item, e: Expression, condition: str) -> None:
        self._write(self.client.delete_item, Key=key, **e.condition(condition))

    def update_op(self, key: Item, e: Expression, condition: str | None = None) -> Item:
        """An Update for `transact`."""
        return {"Update": {"TableName": self.name, "Key": key, **e.update(condition)}}

    def put_op(self, item: Item, e: Expression, condition: str) -> Item:
        """A Put for `transact`."""
        return {"Put": {"TableName": self.name, "Item": item, **e.condition(condition)}}

    def check_op(self, key: Item, e: Expression, condition: str) -> Item:
        """A ConditionCheck for `transact`: the transaction commits only if it holds."""
        return {"ConditionCheck": {"TableName": self.name, "Key": key, **e.condition(condition)}}

    def transact(self, ops: builtins.list[Item]) -> builtins.list[str] | None:
        """Commit `ops` together: None when done, else the per-op cancellation reasons
        ("None" for an op that was fine) when a condition did not hold."""
        if len(ops) == 1:  # one write is cheaper outside a transaction
            ((kind, op),) = ops[0].items()
            call = self.client.update_item if kind == "Update" else self.client.put_item
            try:
                self._write(call, **{k: v for k, v in op.items() if k != "TableName"})
            except ConditionFailed:
                return [CONDITION_FAILED]
            return None
        for attempt in range(self._attempts):
            try:
                self.client.transact_write_items(TransactItems=ops)  # type: ignore[arg-type]
                return None
            except ClientError as err:
                reasons = err.response.get("CancellationReasons") or []
                codes = [str(reason.get("Code", "None")) for reason in reasons]
                if CONDITION_FAILED in codes:
                    return codes
                if not _RETRYABLE & set(codes) or attempt == self._attempts - 1:
                    raise
                self._backoff(attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _write(self, call: Callable[..., Any], **kwargs: Any) -> Any:
        """One write; again after a pause while a transaction holds the item."""
        for attempt in range(self._attempts):
            try:
                return call(TableName=self.name, **kwargs)
            except ClientError as err:
                code = error_code(err)
                if code == CONDITION_FAILED + "Exception":
                    raise ConditionFailed(err.response.get("Item")) from None  # type: ignore[arg-type]
                if code != "TransactionConflictException" or attempt == self._attempts - 1:
                    raise
                self._backoff(attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, attempt: int) -> None:
        # Full jitter: racing writers spread out instead of colliding again in step.
        self._sleep(random.uniform(0, min(0.5, 0.01 * 2**attempt)))


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
