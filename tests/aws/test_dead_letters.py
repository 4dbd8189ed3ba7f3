"""The dead-letter queue on moto (SQS): what EventBridge and Lambda could not deliver is
replayed by the reaper's next minute, once, and replaying it again changes nothing."""

from __future__ import annotations

import json
from typing import Any

from skybinder.adapters.aws.dead_letters import MAX_RECEIVES, dead_event
from skybinder.domain.model import ImageState, SessionState
from tests.aws.compute_fixtures import IMAGE, Cloud, launch, load_event, stream
from tests.aws.conftest import fail_calls

S = SessionState


def queue_url(cloud: Cloud) -> str:
    return str(cloud.aws.settings.dead_letter_queue)


def dead_letter(cloud: Cloud, event: dict[str, Any], *, from_lambda: bool) -> None:
    """As Lambda's on-failure destination records a failed invocation, or as EventBridge puts
    an event it could not deliver (the event itself)."""
    body: dict[str, Any] = event
    if from_lambda:
        body = {
            "version": "1.0",
            "requestContext": {"condition": "RetriesExhausted", "approximateInvokeCount": 3},
            "requestPayload": event,
            "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
            "responsePayload": {"errorMessage": "Task timed out after 300.00 seconds"},
        }
    sqs = cloud.deployment.client("sqs")
    sqs.send_message(QueueUrl=queue_url(cloud), MessageBody=json.dumps(body))


def waiting(cloud: Cloud) -> int:
    sqs = cloud.deployment.client("sqs")
    answer = sqs.get_queue_attributes(
        QueueUrl=queue_url(cloud),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in answer.values())


def scheduled(cloud: Cloud) -> dict[str, int]:
    result: dict[str, dict[str, int]] = cloud.send_reap(load_event("scheduled"))
    return result["reaped"]


def test_a_build_end_and_a_task_change_that_missed_their_functions_are_replayed(
    cloud: Cloud,
) -> None:
    session = launch(cloud)
    build_id = cloud.build_id(IMAGE)
    cloud.push_image(IMAGE)
    dead_letter(cloud, cloud.build_event("codebuild-succeeded", build_id), from_lambda=True)
    done = scheduled(cloud)
    assert done["replayed-build"] == 1 and waiting(cloud) == 0
    started = cloud.session(session.id)
    assert started.state == S.STARTING
    assert cloud.binder.store.get_image(IMAGE).state == ImageState.BUILT
    running = cloud.task_event("ecs-task-running", started.task_id)
    dead_letter(cloud, running, from_lambda=False)
    dead_letter(cloud, running, from_lambda=True)  # both ways, and so twice
    assert scheduled(cloud)["replayed-task"] == 2
    routed = cloud.session(session.id)  # routed once (its address); the second changed nothing
    assert routed.state in {S.STARTING, S.READY} and routed.address and routed.url
    assert routed.task_id == started.task_id
    assert waiting(cloud) == 0


def test_a_letter_that_fails_stays_until_it_has_failed_too_often(cloud: Cloud) -> None:
    cloud.push_image(IMAGE)
    session = launch(cloud)
    dead_letter(cloud, cloud.task_event("ecs-task-running", session.task_id), from_lambda=True)
    sqs = cloud.deployment.client("sqs")
    sqs.set_queue_attributes(QueueUrl=queue_url(cloud), Attributes={"VisibilityTimeout": "0"})
    # The replay and the pass run as reap: its writes are throttled, so routing the session
    # fails in both (the pass's own repair from DescribeTasks too).
    dynamodb = cloud.function("reap").store._table.client
    fail_calls(dynamodb, "UpdateItem", "ThrottlingException", times=1000)
    outcomes = []
    for _ in range(MAX_RECEIVES):
        done = scheduled(cloud)
        outcomes.append("given-up" if done.get("given-up") else "kept")
        if outcomes[-1] == "given-up":
            break
        assert done.get("replay-failed") == 1 and waiting(cloud) == 1
    # Kept while it fails, then given up (logged as an error; the alarm has rung by then).
    assert outcomes[0] == "kept" and outcomes[-1] == "given-up"
    assert waiting(cloud) == 0


def test_letters_without_an_event_are_dropped_with_a_log_line(cloud: Cloud) -> None:
    sqs = cloud.deployment.client("sqs")
    sqs.send_message(QueueUrl=queue_url(cloud), MessageBody="not json")
    assert scheduled(cloud) == {"unreadable": 1}
    assert waiting(cloud) == 0
    assert dead_event(json.dumps({"requestPayload": {"detail-type": "x"}})) == {"detail-type": "x"}
    assert dead_event(json.dumps([1])) is None


def test_a_queue_that_cannot_be_read_keeps_no_session_past_its_deadline(cloud: Cloud) -> None:
    cloud.push_image(IMAGE)
    session = launch(cloud)
    cloud.send_reap(cloud.task_event("ecs-task-running", session.task_id))
    assert stream(cloud.binder, session.id)[-1].phase == "ready"
    cloud.clock.sleep(6 * 3600 + 1)  # past the deployment's max age
    # SQS throttles every read past botocore's retries: the pass goes on without its letters.
    letters = cloud.functions["reap"].dead_letters
    fail_calls(letters.client, "ReceiveMessage", "ThrottlingException", times=1000)
    done = scheduled(cloud)
    assert done == {"error": 1, "max-age": 1}
    assert cloud.session(session.id).state == S.STOPPING
