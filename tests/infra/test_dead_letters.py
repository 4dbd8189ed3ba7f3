"""No event is dropped silently: every rule's target and both event-driven functions end in
the dead-letter queue, which only they may write to, the reaper drains, and an alarm watches."""

from __future__ import annotations

import json

from infra.schedules import FUNCTION_RETRIES, MAX_EVENT_AGE
from tests.infra.deployment import Deployment, Resource, as_list

QUEUE = "sb-dev-dead-letters-1a2b3c4"
QUEUE_ARN = f"arn:aws:sqs:us-east-1:123456789012:{QUEUE}"
QUEUE_URL = f"https://sqs.us-east-1.amazonaws.com/123456789012/{QUEUE}"
RULES = {
    f"arn:aws:events:us-east-1:123456789012:rule/sb-dev-{rule}-1a2b3c4"
    for rule in ("builds", "tasks", "every-minute")
}


def queue(deployment: Deployment) -> Resource:
    return deployment.one("sqs/queue:Queue")


def test_the_queue_keeps_letters_two_weeks_encrypted_and_hides_one_while_replayed(
    deployment: Deployment,
) -> None:
    inputs = queue(deployment).inputs
    assert inputs["messageRetentionSeconds"] == 14 * 24 * 3600
    assert inputs["sqsManagedSseEnabled"] is True
    reap = deployment.function("reap").inputs
    assert inputs["visibilityTimeoutSeconds"] > reap["timeout"]


def test_every_rule_target_retries_and_then_dead_letters(deployment: Deployment) -> None:
    targets = deployment.of_type("cloudwatch/eventTarget:EventTarget")
    assert len(targets) == 3
    for target in targets:
        assert target.inputs["deadLetterConfig"] == {"arn": QUEUE_ARN}, target.name
        policy = target.inputs["retryPolicy"]
        assert policy["maximumEventAgeInSeconds"] == MAX_EVENT_AGE, target.name
        assert policy["maximumRetryAttempts"] > 0, target.name


def test_failed_invocations_of_the_event_functions_go_to_the_queue(deployment: Deployment) -> None:
    configs = {
        c.inputs["functionName"]: c.inputs
        for c in deployment.of_type("lambda/functionEventInvokeConfig:FunctionEventInvokeConfig")
    }
    for role in ("build", "reap"):
        config = configs[f"{deployment.function(role).name}-1a2b3c4"]  # its physical name
        assert config["destinationConfig"] == {"onFailure": {"destination": QUEUE_ARN}}, role
        assert config["maximumRetryAttempts"] == FUNCTION_RETRIES
        assert config["maximumEventAgeInSeconds"] == MAX_EVENT_AGE


def test_only_these_rules_may_put_events_into_the_queue(deployment: Deployment) -> None:
    policy = deployment.one("sqs/queuePolicy:QueuePolicy").inputs
    assert policy["queueUrl"] == QUEUE_URL
    (statement,) = json.loads(policy["policy"])["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage" and statement["Resource"] == QUEUE_ARN
    assert set(statement["Condition"]["ArnEquals"]["aws:SourceArn"]) == RULES


def _actions_on_queue(deployment: Deployment, role: str) -> set[str]:
    policy = deployment.named("iam/rolePolicy:RolePolicy", f"sb-dev-{role}-role-policy").inputs
    return {
        action
        for statement in json.loads(policy["policy"])["Statement"]
        if QUEUE_ARN in as_list(statement["Resource"])
        for action in as_list(statement["Action"])
    }


def test_the_functions_send_their_failures_and_only_the_reaper_drains(
    deployment: Deployment,
) -> None:
    assert _actions_on_queue(deployment, "build") == {"sqs:SendMessage"}
    assert _actions_on_queue(deployment, "reap") == {
        "sqs:SendMessage",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
    }
    assert _actions_on_queue(deployment, "launch") == set()
    for role in ("build", "reap"):
        variables = deployment.function(role).inputs["environment"]["variables"]
        assert variables["SKYBINDER_DEAD_LETTER_QUEUE"] == QUEUE_URL


def test_letters_waiting_in_the_queue_raise_an_alarm(deployment: Deployment) -> None:
    alarm = deployment.named("cloudwatch/metricAlarm:MetricAlarm", "sb-dev-dead-letters").inputs
    assert (alarm["namespace"], alarm["metricName"]) == (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
    )
    assert alarm["dimensions"] == {"QueueName": QUEUE}
    assert alarm["comparisonOperator"] == "GreaterThanThreshold" and alarm["threshold"] == 0
    assert alarm["alarmActions"]
