"""An ECS task as DescribeTasks and the "ECS Task State Change" event describe it (the same
camelCase shape), and what it means to its session: `task_info`.

The session id travels in the task's group (`skybinder:<session id>`) and the launch attempt
in its `startedBy` (`<session id>/<attempt>`), so a task names the server it is — the n-th
start of one session — and news of an older task is never taken for the current one's.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from skybinder.adapters.aws import names
from skybinder.adapters.aws.ecs_stops import stop_reason
from skybinder.domain.model import TaskStatus
from skybinder.domain.pricing import Capacity
from skybinder.service.ports import TaskInfo

# ECS capacity provider -> where the cost model says the task runs.
CAPACITY = {"FARGATE_SPOT": Capacity.SPOT.value, "FARGATE": Capacity.ON_DEMAND.value}


class Detail(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class NameValue(Detail):
    name: str = ""
    value: str = ""


class Attachment(Detail):
    type: str = ""
    details: list[NameValue] = Field(default_factory=list)


class Container(Detail):
    name: str = ""
    exit_code: int | None = Field(None, alias="exitCode")
    reason: str = ""


class TaskDetail(Detail):
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


def started_by(session_id: str, attempt: int) -> str:
    """The task's `startedBy`: its session and launch attempt (ECS allows 36 characters)."""
    return f"{session_id}/{attempt}"[:36]


def task_info(detail: TaskDetail, cluster: str = "") -> TaskInfo | None:
    """What the task means to its session, or None when it is none of ours: a task of another
    cluster, or not started by skybinder. `status` is None for the steps before RUNNING."""
    if cluster and not detail.cluster_arn.endswith(f"/{cluster}"):
        return None
    if not detail.group.startswith(names.TASK_GROUP_PREFIX):
        return None
    session_id = detail.group.removeprefix(names.TASK_GROUP_PREFIX)
    info = TaskInfo(
        task_id=detail.task_arn,
        session_id=session_id,
        attempt=_attempt(detail.started_by, session_id),
        capacity=CAPACITY.get(detail.capacity_provider, ""),
    )
    if detail.last_status == "STOPPED":
        return info.model_copy(update={"status": TaskStatus.STOPPED, "reason": _reason(detail)})
    if detail.desired_status == "STOPPED":  # e.g. the two-minute Spot interruption warning
        return info.model_copy(update={"status": TaskStatus.STOPPING, "reason": _reason(detail)})
    address = _address(detail)
    if detail.last_status == "RUNNING" and address:
        return info.model_copy(update={"status": TaskStatus.RUNNING, "address": address})
    return info


def _attempt(started: str, session_id: str) -> int:
    """The launch attempt `startedBy` names; 0 for a task started before attempts were kept."""
    _, _, attempt = started.rpartition("/")
    return int(attempt) if started.startswith(f"{session_id}/") and attempt.isdigit() else 0


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
