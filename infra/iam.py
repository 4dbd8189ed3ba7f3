"""IAM helpers: roles with one inline least-privilege policy, written as plain statements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

Statement = dict[str, Any]


def allow(
    actions: Sequence[str],
    resources: Sequence[pulumi.Input[str]],
    condition: dict[str, Any] | None = None,
) -> Statement:
    """One Allow statement; `resources` may hold Outputs (resolved when the policy is built)."""
    statement: Statement = {"Effect": "Allow", "Action": list(actions), "Resource": list(resources)}
    if condition:
        statement["Condition"] = condition
    return statement


def document(statements: Sequence[Statement]) -> pulumi.Output[str]:
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)})


# Services that send aws:SourceAccount when assuming a role; Lambda does not for execution roles.
SOURCE_ACCOUNT_AWARE = frozenset({"codebuild.amazonaws.com", "ecs-tasks.amazonaws.com"})


def trust(service: str, account: pulumi.Input[str]) -> pulumi.Output[str]:
    """Only `service` may assume the role; acting for this account where it says so."""
    statement: Statement = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if service in SOURCE_ACCOUNT_AWARE:  # no confused deputy
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": account}}
    return document([statement])


def role(
    name: str,
    service: str,
    account: pulumi.Input[str],
    statements: Sequence[Statement],
    parent: pulumi.Resource,
) -> aws.iam.Role:
    """A role for `service` with exactly `statements` as its only permissions."""
    created = aws.iam.Role(
        name,
        assume_role_policy=trust(service, account),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    aws.iam.RolePolicy(
        f"{name}-policy",
        role=created.id,
        policy=document(statements),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return created


def log_writer(log_group_arn: pulumi.Input[str]) -> Statement:
    """Write to one log group (streams are created by the writer)."""
    return allow(
        ["logs:CreateLogStream", "logs:PutLogEvents"],
        [pulumi.Output.concat(log_group_arn, ":*")],
    )
