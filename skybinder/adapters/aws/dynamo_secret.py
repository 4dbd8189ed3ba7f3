"""A secret every instance of a function shares, made once and kept in the table.

The launch function signs /v2 build tokens; every instance behind the API must use the same
key, or a page served by one is refused by another. The first instance to ask writes a random
key (a conditional put, so a race keeps exactly one); every later one reads it.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from skybinder.adapters.aws import names as n

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

SECRET_PREFIX = "SECRET#"


def shared_secret(client: DynamoDBClient | Any, table: str, name: str) -> str:
    """The secret called `name` in `table`, made on first use."""
    key = {n.PARTITION_KEY: {"S": SECRET_PREFIX + name}, n.SORT_KEY: {"S": "SECRET"}}
    candidate = secrets.token_urlsafe(48)
    try:
        client.put_item(
            TableName=table,
            Item={**key, "value": {"S": candidate}},
            ConditionExpression=f"attribute_not_exists({n.PARTITION_KEY})",
        )
        return candidate
    except client.exceptions.ConditionalCheckFailedException:
        item = client.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
        return str(item["value"]["S"])
