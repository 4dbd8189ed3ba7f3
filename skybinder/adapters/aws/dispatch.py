"""What an EventBridge event means to the service, and the one use case it calls: the same
code for the build and reap functions and for events replayed from the dead-letter queue."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.parser import parse

from skybinder.adapters.aws.events import (
    SCHEDULED,
    BuildOutcome,
    BuildStateChange,
    TaskStateChange,
    build_outcome,
    task_change,
)
from skybinder.domain.model import Session
from skybinder.service.binder import Binder
from skybinder.service.build_events import on_build_event
from skybinder.service.ports import TaskInfo
from skybinder.service.sessions import on_task_state

BUILD_CHANGE = "CodeBuild Build State Change"
TASK_CHANGE = "ECS Task State Change"


@dataclass(frozen=True)
class TaskNews:
    """A task event as the reap function saw it: what it meant, and what it ended."""

    status: str  # the task's lastStatus, as the event gave it
    change: TaskInfo | None  # None: none of ours, or a step we do not act on
    ended: Session | None = None  # the session this event ended (settled), if it did


def handle_build(binder: Binder, event: dict[str, Any]) -> tuple[str, BuildOutcome | None]:
    """A CodeBuild state change: (its build status, its end as settled, or None: ignored)."""
    change = parse(event=event, model=BuildStateChange)
    outcome = build_outcome(change.detail)
    if outcome is not None:
        on_build_event(
            binder, outcome.image_name, outcome.build_id, ok=outcome.ok, summary=outcome.summary
        )
    return change.detail.build_status, outcome


def handle_task(binder: Binder, cluster: str, event: dict[str, Any]) -> TaskNews:
    """An ECS task state change of `cluster`, applied to its session."""
    detail = parse(event=event, model=TaskStateChange).detail
    change = task_change(detail, cluster)
    if change is None or change.status is None:
        return TaskNews(detail.last_status, None)
    ended = on_task_state(
        binder,
        change.session_id,
        change.task_id,
        change.status,
        address=change.address,
        reason=change.reason,
        capacity=change.capacity,
        attempt=change.attempt,
    )
    return TaskNews(detail.last_status, change, ended)


def replay(binder: Binder, cluster: str, event: dict[str, Any]) -> str:
    """Handle an event again as its function would have (one from the dead-letter queue):
    what kind it was ("build", "task", "schedule" for a missed reaper minute, which the
    current pass stands for, or "unknown")."""
    kind = event.get("detail-type")
    if kind == BUILD_CHANGE:
        handle_build(binder, event)
        return "build"
    if kind == TASK_CHANGE:
        handle_task(binder, cluster, event)
        return "task"
    return "schedule" if kind == SCHEDULED else "unknown"
