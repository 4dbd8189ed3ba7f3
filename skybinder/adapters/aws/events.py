"""The EventBridge events the build and reap functions receive, as parser models, and what
they mean to the service: a build's end, or a change of a session's task.

Event shapes: "CodeBuild Build State Change" (hyphenated detail keys) and "ECS Task State
Change" (camelCase detail keys). Unknown keys are ignored, missing optional ones default.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_lambda_powertools.utilities.parser.models.event_bridge import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field

from skybinder.adapters.aws import names
from skybinder.adapters.aws.ecs_stops import stop_reason
from skybinder.domain.model import TaskStatus
from skybinder.domain.pricing import Capacity

SCHEDULED = "Scheduled Event"
FAILED_BUILD = frozenset({"FAILED", "FAULT", "STOPPED", "TIMED_OUT"})


class _Detail(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class NameValue(_Detail):
    name: str = ""
    value: str = ""


class BuildEnvironment(_Detail):
    variables: list[NameValue] = Field(default_factory=list, alias="environment-variables")


class BuildPhase(_Detail):
    phase_type: str = Field("", alias="phase-type")
    phase_status: str = Field("", alias="phase-status")
    phase_context: list[str] = Field(default_factory=list, alias="phase-context")


class BuildInformation(_Detail):
    environment: BuildEnvironment = Field(default_factory=BuildEnvironment)
    phases: list[BuildPhase] = Field(default_factory=list)


class BuildDetail(_Detail):
    build_status: str = Field(alias="build-status")
    build_id: str = Field(alias="build-id")
    project_name: str = Field("", alias="project-name")
    info: BuildInformation = Field(default_factory=BuildInformation, alias="additional-information")


class BuildStateChange(EventBridgeModel):
    detail: BuildDetail


class Attachment(_Detail):
    type: str = ""
    details: list[NameValue] = Field(default_factory=list)


class Container(_Detail):
    name: str = ""
    exit_code: int | None = Field(None, alias="exitCode")
    reason: str = ""


class TaskDetail(_Detail):
    task_arn: str = Field(alias="taskArn")
    cluster_arn: str = Field("", alias="clusterArn")
    last_status: str = Field(alias="lastStatus")
    desired_status: str = Field("", alias="desiredStatus")
    stop_code: str = Field("", alias="stopCode")
    stopped_reason: str = Field("", alias="stoppedReason")
    started_by: str = Field("", alias="startedBy")
    group: str = ""
    capacity_provider: str = Field("", alias="capacityProviderName")
    attachments: list[Attachment] = Field(default_factory=list)
    containers: list[Container] = Field(default_factory=list)


class TaskStateChange(EventBridgeModel):
    detail: TaskDetail


@dataclass(frozen=True)
class BuildOutcome:
    image_name: str
    build_id: str  # as StartBuild returned it: `<project>:<uuid>`
    ok: bool
    summary: str


@dataclass(frozen=True)
class TaskChange:
    session_id: str
    task_id: str
    status: TaskStatus
    address: str = ""
    reason: str = ""
    capacity: str = ""  # "spot" or "on-demand" (the cost model's names), "" when not said


# ECS capacity provider -> where the cost model says the task runs.
CAPACITY = {"FARGATE_SPOT": Capacity.SPOT.value, "FARGATE": Capacity.ON_DEMAND.value}


def build_outcome(detail: BuildDetail) -> BuildOutcome | None:
    """The end of a build, or None for a build still running or not one of ours."""
    status = detail.build_status.upper()
    if status != "SUCCEEDED" and status not in FAILED_BUILD:
        return None
    variables = {v.name: v.value for v in detail.info.environment.variables}
    image = variables.get(names.BUILD_IMAGE_KEY, "")
    if not image:
        return None
    build_id = detail.build_id.rsplit(":build/", 1)[-1]
    if status == "SUCCEEDED":
        return BuildOutcome(image, build_id, ok=True, summary="")
    return BuildOutcome(image, build_id, ok=False, summary=_failure(status, detail.info.phases))


def _failure(status: str, phases: list[BuildPhase]) -> str:
    if status == "TIMED_OUT":
        return "the build took longer than the builder allows."
    if status == "STOPPED":
        return "the build was stopped."
    failed = next((p for p in phases if p.phase_status not in {"", "SUCCEEDED"}), None)
    if failed is None:
        return f"the builder reported {status}."
    context = "; ".join(c for c in failed.phase_context if c)[:500]
    where = f"in its {failed.phase_type} phase"
    return f"the build failed {where}: {context}" if context else f"the build failed {where}."


def task_change(detail: TaskDetail, cluster: str) -> TaskChange | None:
    """What a task event means for its session, or None when it means nothing to us: a task
    of another cluster or not started by skybinder, or a step between the ones we act on."""
    if cluster and not detail.cluster_arn.endswith(f"/{cluster}"):
        return None
    if not detail.group.startswith(names.TASK_GROUP_PREFIX):
        return None
    session_id = detail.group.removeprefix(names.TASK_GROUP_PREFIX)
    task = detail.task_arn
    if detail.last_status == "STOPPED":
        return TaskChange(session_id, task, TaskStatus.STOPPED, reason=_reason(detail))
    if detail.desired_status == "STOPPED":  # e.g. the two-minute Spot interruption warning
        return TaskChange(session_id, task, TaskStatus.STOPPING, reason=_reason(detail))
    if detail.last_status == "RUNNING":
        address = _address(detail)
        if address:
            capacity = CAPACITY.get(detail.capacity_provider, "")
            return TaskChange(
                session_id, task, TaskStatus.RUNNING, address=address, capacity=capacity
            )
    return None


def _reason(detail: TaskDetail) -> str:
    session = next((c for c in detail.containers if c.name == names.SESSION_CONTAINER), None)
    return stop_reason(
        detail.stop_code,
        detail.stopped_reason,
        exit_code=session.exit_code if session else None,
        container_reason=session.reason if session else "",
    )


def _address(detail: TaskDetail) -> str:
    for attachment in detail.attachments:
        for item in attachment.details:
            if item.name == "privateIPv4Address" and item.value:
                return f"{item.value}:{names.SESSION_PORT}"
    return ""
