"""The EventBridge payloads of tests/events as the functions parse them, and what they mean."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from skybinder.adapters.aws.ecs_stops import IDLE, SPOT_INTERRUPTION, stop_reason
from skybinder.adapters.aws.events import (
    BuildStateChange,
    TaskStateChange,
    build_outcome,
    task_change,
)
from skybinder.domain.model import TaskStatus
from tests.aws.compute_events import EVENTS, load_event

CLUSTER = "skybinder-sessions"
SESSION = "3c9f2a7e5b1d8c40"  # the session id in the ECS payloads
TASK = "arn:aws:ecs:us-east-1:123456789012:task/skybinder-sessions/0f8e1c3b6a2d4e5f9a7b1c2d3e4f5a6b"
IMAGE = (
    "skybinder-gh-binder-2dexamples-2drequirements-5f3ba0:b8259dac9eb4aa5f2d65d8881f2da94a4952a195"
)


def task(name: str) -> TaskStateChange:
    return TaskStateChange.model_validate(load_event(name))


def build(name: str) -> BuildStateChange:
    return BuildStateChange.model_validate(load_event(name))


def test_every_payload_parses_as_the_event_it_is() -> None:
    names = sorted(path.stem for path in EVENTS.glob("*.json"))
    assert names, "no payloads"
    for name in names:
        event = load_event(name)
        if name.startswith("codebuild-"):
            assert build(name).detail_type == "CodeBuild Build State Change"
        elif name.startswith("ecs-"):
            assert task(name).detail.task_arn == TASK
        else:
            assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"


def test_a_payload_without_its_required_fields_is_refused() -> None:
    event = load_event("ecs-task-running")
    del event["detail"]["taskArn"]
    with pytest.raises(ValidationError):
        TaskStateChange.model_validate(event)


def test_a_succeeded_build_names_its_image_and_the_build_as_started() -> None:
    outcome = build_outcome(build("codebuild-succeeded").detail)
    assert outcome is not None
    assert (outcome.image_name, outcome.ok) == (IMAGE, True)
    assert outcome.build_id == "skybinder-build:6a2b3f44-8c1e-4f7a-9a55-2d1b0c9e7f10"


def test_a_failed_build_says_where_and_why() -> None:
    outcome = build_outcome(build("codebuild-failed").detail)
    assert outcome is not None and outcome.ok is False
    assert outcome.summary.startswith("the build failed in its BUILD phase: COMMAND_EXECUTION")
    assert outcome.summary.endswith("Reason: exit status 1")


@pytest.mark.parametrize(
    ("status", "summary"),
    [
        ("TIMED_OUT", "the build took longer than the builder allows."),
        ("STOPPED", "the build was stopped."),
        ("FAULT", "the builder reported FAULT."),
    ],
)
def test_other_ends_of_a_build_are_failures(status: str, summary: str) -> None:
    event = load_event("codebuild-succeeded")
    event["detail"]["build-status"] = status
    outcome = build_outcome(BuildStateChange.model_validate(event).detail)
    assert outcome is not None and (outcome.ok, outcome.summary) == (False, summary)


def test_builds_still_running_or_not_ours_mean_nothing() -> None:
    assert build_outcome(build("codebuild-in-progress").detail) is None
    event = load_event("codebuild-succeeded")
    variables = event["detail"]["additional-information"]["environment"]["environment-variables"]
    variables[:] = [v for v in variables if v["name"] != "IMAGE_KEY"]
    assert build_outcome(BuildStateChange.model_validate(event).detail) is None


def test_running_task_gives_its_address_on_the_jupyter_port() -> None:
    change = task_change(task("ecs-task-running").detail, CLUSTER)
    assert change is not None
    assert (change.session_id, change.task_id, change.status) == (
        SESSION,
        TASK,
        TaskStatus.RUNNING,
    )
    assert change.address == "10.42.3.117:8888"


@pytest.mark.parametrize(
    ("name", "status", "reason"),
    [
        ("ecs-task-spot-warning", TaskStatus.STOPPING, SPOT_INTERRUPTION),
        ("ecs-task-stopped-spot", TaskStatus.STOPPED, SPOT_INTERRUPTION),
        ("ecs-task-stopped-exited", TaskStatus.STOPPED, IDLE),
        ("ecs-task-stopped-user", TaskStatus.STOPPED, "stopped: Stopped by skybinder"),
    ],
)
def test_stops_carry_a_reason_a_person_reads(name: str, status: TaskStatus, reason: str) -> None:
    change = task_change(task(name).detail, CLUSTER)
    assert change is not None and (change.status, change.reason) == (status, reason)


def test_a_task_that_failed_to_start_says_why() -> None:
    detail = task("ecs-task-stopped-failed-to-start").detail
    change = task_change(detail, CLUSTER)
    # Its image is not found: gone from the registry (the launch after this one rebuilds it).
    assert change is not None and change.status == TaskStatus.STOPPED
    assert change.reason.startswith("image-missing: the session's image is no longer")
    forbidden = detail.model_copy(update={"stopped_reason": "CannotPullContainerError: 403"})
    other = task_change(forbidden, CLUSTER)
    assert other is not None
    assert other.reason == "failed to start: CannotPullContainerError: 403"


def test_steps_other_clusters_and_other_tasks_mean_nothing() -> None:
    assert task_change(task("ecs-task-provisioning").detail, CLUSTER) is None
    assert task_change(task("ecs-task-running").detail, "another-cluster") is None
    event = load_event("ecs-task-running")
    event["detail"]["group"] = "family:sample-fargate"
    assert task_change(TaskStateChange.model_validate(event).detail, CLUSTER) is None


OOM = "OutOfMemoryError: Container killed due to memory usage"
MAINTENANCE = "Task stopped due to platform maintenance"
STOPS = [
    ("EssentialContainerExited", "Essential container in task exited", 1, "", None),
    ("EssentialContainerExited", "", None, OOM, None),
    ("UserInitiated", "", None, "", "stopped"),
    ("TerminationNotice", MAINTENANCE, None, "", MAINTENANCE),
    ("ServiceSchedulerInitiated", "", None, "", "ServiceSchedulerInitiated"),
    ("TaskFailedToStart", "", None, "", "failed to start: the task did not start"),
]
EXITS = {
    1: "the server exited with code 1",
    None: f"the server exited with an unknown code ({OOM})",
}


@pytest.mark.parametrize(("code", "said", "exit_code", "container", "reason"), STOPS)
def test_stop_codes_map_to_reasons(
    code: str, said: str, exit_code: int | None, container: str, reason: str
) -> None:
    expected = reason if reason is not None else EXITS[exit_code]
    assert stop_reason(code, said, exit_code=exit_code, container_reason=container) == expected


def test_payloads_are_committed_as_json_files() -> None:
    expected = {
        "codebuild-succeeded", "codebuild-failed", "codebuild-in-progress", "ecs-task-running",
        "ecs-task-spot-warning", "ecs-task-stopped-spot", "ecs-task-stopped-exited",
        "ecs-task-stopped-user", "ecs-task-stopped-failed-to-start", "ecs-task-provisioning",
        "scheduled",
    }  # fmt: skip
    assert expected <= {path.stem for path in Path(EVENTS).glob("*.json")}
