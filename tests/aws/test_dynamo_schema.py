"""The table create_table makes is the one dynamo_schema describes, with names from names.py."""

from __future__ import annotations

from typing import TYPE_CHECKING

from skybinder.adapters.aws import names as n
from skybinder.adapters.aws.dynamo_schema import ATTRIBUTE_TYPES, INDEXES
from skybinder.domain.model import Image, Session

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient


def test_the_table_has_the_documented_keys_indexes_and_ttl(
    dynamodb: DynamoDBClient, table: str
) -> None:
    described = dynamodb.describe_table(TableName=table)["Table"]
    assert [(k["AttributeName"], k["KeyType"]) for k in described["KeySchema"]] == [
        ("pk", "HASH"),
        ("sk", "RANGE"),
    ]
    types = {a["AttributeName"]: a["AttributeType"] for a in described["AttributeDefinitions"]}
    assert types == ATTRIBUTE_TYPES
    indexes = {
        index["IndexName"]: (
            [(k["AttributeName"], k["KeyType"]) for k in index["KeySchema"]],
            index["Projection"]["ProjectionType"],
        )
        for index in described["GlobalSecondaryIndexes"]
    }
    assert indexes == {
        "by-status": ([("status_pk", "HASH"), ("status_sk", "RANGE")], "ALL"),
        "by-image": ([("image_pk", "HASH"), ("image_sk", "RANGE")], "ALL"),
        "by-task": ([("task_pk", "HASH")], "ALL"),
    }
    assert set(INDEXES) == set(indexes)
    assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    ttl = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")


def test_names_are_plain_values_both_sides_can_share() -> None:
    constants = {k: v for k, v in vars(n).items() if k.isupper()}
    assert constants and all(isinstance(v, str | int | dict) and v for v in constants.values())
    env = [v for k, v in constants.items() if k.startswith("ENV_")]
    assert all(v.startswith("SKYBINDER_") for v in env) and len(set(env)) == len(env)


def test_the_adapters_attributes_never_collide_with_model_fields() -> None:
    ours = {
        n.PARTITION_KEY, n.SORT_KEY, n.TTL_ATTRIBUTE, n.KIND_ATTRIBUTE, n.REVISION_ATTRIBUTE,
        n.COUNT_ATTRIBUTE, n.RESET_ATTRIBUTE, *ATTRIBUTE_TYPES,
    }  # fmt: skip
    assert not ours & set(Session.model_fields)
    assert not ours & set(Image.model_fields)
