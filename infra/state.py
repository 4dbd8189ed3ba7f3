"""DynamoDB: the one table that holds sessions, images, builds, counters and rate-limit windows."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from skybinder.adapters.aws.names import (
    ATTRIBUTE_TYPES,
    INDEXES,
    PARTITION_KEY,
    SORT_KEY,
    TTL_ATTRIBUTE,
)


@dataclass
class StateArgs:
    deletion_protection: bool = False  # `pulumi destroy` must be able to remove it


class State(pulumi.ComponentResource):
    """On-demand capacity (no cost when idle), TTL expiry and point-in-time recovery."""

    def __init__(self, name: str, args: StateArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("skybinder:infra:State", name, None, opts)
        self.table = aws.dynamodb.Table(
            f"{name}-table",
            billing_mode="PAY_PER_REQUEST",
            hash_key=PARTITION_KEY,
            range_key=SORT_KEY,
            attributes=[{"name": key, "type": kind} for key, kind in ATTRIBUTE_TYPES.items()],
            global_secondary_indexes=[_index(index, *keys) for index, keys in INDEXES.items()],
            ttl={"attribute_name": TTL_ATTRIBUTE, "enabled": True},
            point_in_time_recovery={"enabled": True},
            deletion_protection_enabled=args.deletion_protection,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"table_name": self.table.name, "table_arn": self.table.arn})


def _index(
    name: str, partition: str, sort: str | None
) -> aws.dynamodb.TableGlobalSecondaryIndexArgsDict:
    index: aws.dynamodb.TableGlobalSecondaryIndexArgsDict = {
        "name": name,
        "hash_key": partition,
        "projection_type": "ALL",
    }
    if sort is not None:
        index["range_key"] = sort
    return index
