"""The EventBridge events the build and reap functions receive, as parser models, and what
they mean to the service: a build's end, or a change of a session's task.

Event shapes: "CodeBuild Build State Change" (hyphenated detail keys) and "ECS Task State
Change" (camelCase detail keys). Unknown keys are ignored, missing optional ones default.
"""

from __future__ import annotations

from aws_lambda_powertools.utilities.parser.models.event_bridge import EventBridgeModel

from skybinder.adapters.aws.codebuild_builds import BuildDetail, BuildOutcome, build_outcome
from skybinder.adapters.aws.ecs_tasks import TaskDetail, task_info
from skybinder.service.ports import TaskInfo

__all__ = [
    "SCHEDULED",
    "BuildOutcome",
    "BuildStateChange",
    "TaskStateChange",
    "build_outcome",
    "task_change",
]

SCHEDULED = "Scheduled Event"


class BuildStateChange(EventBridgeModel):
    detail: BuildDetail


class TaskStateChange(EventBridgeModel):
    detail: TaskDetail


def task_change(detail: TaskDetail, cluster: str) -> TaskInfo | None:
    """What a task event means for its session, or None when it means nothing to us: a task
    of another cluster or not started by skybinder, or a step between the ones we act on."""
    info = task_info(detail, cluster)
    return info if info is not None and info.status is not None else None
