"""The policy evaluator the IAM harness uses: IAM's rules, checked one by one."""

from __future__ import annotations

from typing import Any

import pytest

from tests.aws.iam.policy import PolicyError, Request, arn_like, evaluate, wildcard

ACCOUNT = "123456789012"
CLUSTER = f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/sb-dev-cluster"
DEFINITION = f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/sb-dev-3f-session-r2d:3"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/sb-dev-execution"


def policy(*statements: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"Version": "2012-10-17", "Statement": list(statements)}]


def allow(action: Any, resource: Any, condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement = {"Effect": "Allow", "Action": action, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return statement


RUN_TASK = allow(
    "ecs:RunTask",
    f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/sb-dev-3f-session*",
    {"ArnEquals": {"ecs:cluster": CLUSTER}},
)
PASS_ROLE = allow(
    "iam:PassRole", ROLE, {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
)


def test_an_action_on_a_resource_in_the_right_context_is_allowed() -> None:
    run = Request("ecs:RunTask", DEFINITION, {"ecs:cluster": CLUSTER})
    assert evaluate(policy(RUN_TASK), run).allowed
    passed = Request("iam:PassRole", ROLE, {"iam:PassedToService": "ecs-tasks.amazonaws.com"})
    assert evaluate(policy(PASS_ROLE), passed).allowed


@pytest.mark.parametrize(
    "request_",
    [
        Request("ecs:RunTask", DEFINITION, {"ecs:cluster": CLUSTER + "-other"}),  # another cluster
        Request("ecs:RunTask", DEFINITION, {}),  # no cluster in the context: the key is missing
        Request(
            "ecs:RunTask", DEFINITION.replace("sb-dev-3f", "sb-prod-9a"), {"ecs:cluster": CLUSTER}
        ),
        Request("ecs:StartTask", DEFINITION, {"ecs:cluster": CLUSTER}),
        Request("iam:PassRole", ROLE, {"iam:PassedToService": "lambda.amazonaws.com"}),
        Request(
            "iam:PassRole", ROLE + "-admin", {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
        ),
    ],
)
def test_anything_else_is_denied(request_: Request) -> None:
    decision = evaluate(policy(RUN_TASK, PASS_ROLE), request_)
    assert not decision.allowed and decision.reason == "no statement allows it"


def test_an_explicit_deny_wins_over_any_allow() -> None:
    deny = {"Effect": "Deny", "Action": "ecs:*", "Resource": "*", "Sid": "NoEcs"}
    run = Request("ecs:RunTask", DEFINITION, {"ecs:cluster": CLUSTER})
    decision = evaluate(policy(RUN_TASK) + policy(deny), run)
    assert not decision.allowed and "NoEcs" in decision.reason


def test_actions_match_without_case_and_with_wildcards() -> None:
    statement = allow(["dynamodb:Get*", "ecs:Describe?asks"], "*")
    assert evaluate(policy(statement), Request("DynamoDB:GetItem", "x")).allowed
    assert evaluate(policy(statement), Request("ecs:DescribeTasks", "x")).allowed
    assert not evaluate(policy(statement), Request("dynamodb:PutItem", "x")).allowed
    not_action = {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}
    assert evaluate(policy(not_action), Request("s3:GetObject", "x")).allowed
    assert not evaluate(policy(not_action), Request("iam:PassRole", "x")).allowed


def test_resources_match_part_by_part_with_case() -> None:
    group = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/sb/builds"
    stream = f"{group}:log-stream:repo2docker/0c2d8f6e"
    assert arn_like(f"{group}:*", stream)  # the resource part may hold colons
    assert not arn_like(f"{group}:*", group)
    assert not arn_like(f"{group}:*", stream.replace("/sb/", "/SB/"))
    assert not arn_like("arn:aws:logs:*:*:log-group:x", "arn:aws:logs:us-east-1:1:2:log-group:x")
    assert arn_like("*", "anything at all")
    assert wildcard("sb-??-*", "sb-ab-c") and not wildcard("sb-??-*", "sb-abc-c")
    assert not wildcard("a.c", "abc")  # only * and ? are special
    table = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/t"
    statement = allow("dynamodb:Query", [table, f"{table}/index/*"])
    assert evaluate(policy(statement), Request("dynamodb:Query", f"{table}/index/by-task")).allowed
    assert not evaluate(policy(statement), Request("dynamodb:Query", f"{table}2")).allowed


def test_conditions_and_of_operators_and_keys_or_of_values() -> None:
    condition = {
        "StringEquals": {"aws:RequestedRegion": ["eu-west-1", "us-east-1"], "k2": "v"},
        "StringLike": {"k3": "pre*"},
    }
    statement = allow("s3:GetObject", "*", condition)
    ok = {"aws:requestedregion": "us-east-1", "k2": "v", "k3": "prefix"}  # keys ignore case
    assert evaluate(policy(statement), Request("s3:GetObject", "x", ok)).allowed
    for key, value in (("aws:RequestedRegion", "ap-south-1"), ("k2", "w"), ("k3", "xpre")):
        assert not evaluate(
            policy(statement), Request("s3:GetObject", "x", {**ok, key: value})
        ).allowed


def test_negated_operators_ifexists_null_and_set_operators() -> None:
    def holds(condition: dict[str, Any], context: dict[str, Any]) -> bool:
        return evaluate(policy(allow("a:B", "*", condition)), Request("a:B", "r", context)).allowed

    assert holds({"StringNotEquals": {"k": "x"}}, {})  # a missing key passes a negated test
    assert not holds({"StringNotEquals": {"k": "x"}}, {"k": "x"})
    assert holds({"StringEqualsIfExists": {"k": "x"}}, {})
    assert not holds({"StringEqualsIfExists": {"k": "x"}}, {"k": "y"})
    assert holds({"Null": {"k": "true"}}, {}) and not holds({"Null": {"k": "true"}}, {"k": "1"})
    assert holds({"ForAllValues:StringEquals": {"k": ["a", "b"]}}, {"k": ["a", "b"]})
    assert not holds({"ForAllValues:StringEquals": {"k": ["a"]}}, {"k": ["a", "b"]})
    assert holds({"ForAnyValue:StringEquals": {"k": ["a"]}}, {"k": ["c", "a"]})
    assert holds({"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": "True"})
    assert holds({"NumericLessThan": {"n": "10"}}, {"n": "9"})
    assert not holds({"NumericLessThan": {"n": "10"}}, {"n": "10"})
    assert holds({"ArnLike": {"a": "arn:aws:ecs:*:*:cluster/sb-*"}}, {"a": CLUSTER})


@pytest.mark.parametrize(
    "statement",
    [
        allow("a:B", "*", {"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}),
        allow("a:B", "*", {"ForEveryValue:StringEquals": {"k": "v"}}),
        allow("a:B", "arn:aws:s3:::${aws:username}/*"),
        {"Effect": "Maybe", "Action": "a:B", "Resource": "*"},
    ],
)
def test_what_the_evaluator_does_not_implement_is_an_error_not_a_guess(
    statement: dict[str, Any],
) -> None:
    with pytest.raises(PolicyError):
        evaluate(policy(statement), Request("a:B", "arn:aws:s3:::me/x", {"k": "v"}))
