"""The one DynamoDB table of a deployment: its layout, and `create_table` for tests and tools.

infra/ creates the real table from the same names (names.py):

    table         pk (S, partition key), sk (S, sort key); billing PAY_PER_REQUEST;
                  TTL on `expires_at` (N, epoch seconds)
    GSI by-status status_pk (S) + status_sk (N), projection ALL
    GSI by-image  image_pk (S) + image_sk (S), projection ALL
    GSI by-task   task_pk (S), projection ALL

Items, typed by key (every model field is an attribute of its own, named as the field):

    pk                  sk               what
    SESSION#<id>        SESSION          a Session; status_pk "SESSION#<state>", status_sk
                                         created_at, image_pk "SESSION#<image_name>", image_sk
                                         <state>, task_pk <task_id> (absent while there is no
                                         task), revision (N, bumped by every write), and
                                         expires_at once the session has ended (30 days later)
    IMAGE#<name>        IMAGE            an Image and its build
    COUNTER             global           count (N): active sessions that hold a slot
    COUNTER             repo#<repo_key>  count (N): the same, for one repository
    RATE#<key>          RATE             a rate-limit window: count (N), reset (N, epoch
                                         seconds), expires_at = reset
    EVENT#<slug>        EVENT            an Event (closed_at absent while open); status_pk
                                         "EVENT", status_sk starts_at; its counters
                                         seats_used, reserved, spent, available, sessions,
                                         interruptions and changed_at (dynamo_events.py)

Why these indexes: `list(states)` queries by-status once per state (never a Scan), oldest
first, and `list_events` its partition "EVENT"; `list(states, image_name)` queries by-image
with the exact state as sort key, so waking the sessions waiting for one build reads only
those (and the counter repair reads an event's sessions, which all run its pinned image);
`find_by_task` is one query on the sparse by-task index. Index reads are eventually
consistent (a write shows up in them within about a second); reads by id (`get`) are
strongly consistent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from skybinder.adapters.aws import names as n

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

# The key attributes and indexes, as names.py defines them for both sides (infra/state.py).
ATTRIBUTE_TYPES = n.ATTRIBUTE_TYPES
INDEXES = n.INDEXES


def _key_schema(partition: str, sort: str | None) -> list[dict[str, Any]]:
    schema = [{"AttributeName": partition, "KeyType": "HASH"}]
    if sort is not None:
        schema.append({"AttributeName": sort, "KeyType": "RANGE"})
    return schema


def create_table(client: DynamoDBClient, name: str) -> str:
    """Create the table with its indexes and TTL, wait until it is active; return its name."""
    spec: dict[str, Any] = {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": attr, "AttributeType": kind} for attr, kind in ATTRIBUTE_TYPES.items()
        ],
        "KeySchema": _key_schema(n.PARTITION_KEY, n.SORT_KEY),
        "GlobalSecondaryIndexes": [
            {
                "IndexName": index,
                "KeySchema": _key_schema(partition, sort),
                "Projection": {"ProjectionType": "ALL"},
            }
            for index, (partition, sort) in INDEXES.items()
        ],
    }
    client.create_table(**spec)
    client.get_waiter("table_exists").wait(TableName=name)
    client.update_time_to_live(
        TableName=name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": n.TTL_ATTRIBUTE},
    )
    return name
