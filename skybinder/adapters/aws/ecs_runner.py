"""Runner on ECS Fargate: one task per session, on Spot, on-demand, or Spot falling back.

The session id travels with the task (`startedBy`, and `group` with a prefix that marks the
task as ours), so task state events and the orphan sweep map back to it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from skybinder.adapters.aws import names
from skybinder.adapters.aws.client_errors import error_code, error_message
from skybinder.adapters.aws.ecs_stops import stop_reason
from skybinder.adapters.aws.ecs_task_definitions import TaskDefinitions
from skybinder.domain.errors import LaunchError, RunnerBusyError
from skybinder.domain.jupyter import JupyterOptions, jupyter_args
from skybinder.domain.model import CapacityPolicy
from skybinder.service.ports import LaunchRequest

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient

log = logging.getLogger(__name__)
SPOT, ON_DEMAND = "FARGATE_SPOT", "FARGATE"
# The capacity providers tried, in order, for each policy.
PLAN = {
    CapacityPolicy.SPOT_FALLBACK: (SPOT, ON_DEMAND),
    CapacityPolicy.SPOT: (SPOT,),
    CapacityPolicy.ON_DEMAND: (ON_DEMAND,),
}
STOP_REASON = "Stopped by skybinder"
# What ECS answers when RunTask's rate (20 a second, a burst of 100) is exceeded, once
# botocore's own retries are spent.
_THROTTLED = {"ThrottlingException", "Throttling", "TooManyRequestsException"}
_GONE = {"InvalidParameterException", "ResourceNotFoundException"}  # ECS's "no such task"
SURVEY_BATCH = 100  # DescribeTasks takes at most 100 tasks a call
SURVEY_TTL = 60.0  # seconds a survey answers for: the reaper's pass, never the next one


@dataclass(frozen=True)
class EcsSettings:
    cluster: str
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...]
    assign_public_ip: bool = False
    capacity: CapacityPolicy = CapacityPolicy.SPOT_FALLBACK
    jupyter: JupyterOptions = field(default_factory=JupyterOptions)


def is_capacity_failure(failure: dict[str, Any]) -> bool:
    """RunTask reports "no capacity" as a failure in its answer, not as an error."""
    return "capacity" in str(failure.get("reason", "")).lower()


class EcsRunner:
    def __init__(
        self,
        client: ECSClient,
        settings: EcsSettings,
        definitions: TaskDefinitions,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.settings = settings
        self.definitions = definitions
        self._monotonic = monotonic
        # The last survey (TaskSurvey): task id -> DescribeTasks' task, None when ECS has none.
        self._surveyed: dict[str, dict[str, Any] | None] = {}
        self._surveyed_at = float("-inf")

    def prepare(self, image_name: str) -> str:
        return self.definitions.prepare(image_name)

    def start(self, request: LaunchRequest) -> str:
        definition = request.task_definition or self.prepare(request.image_name)
        plan = PLAN[request.capacity or self.settings.capacity]
        for provider in plan:
            answer = self._run(self._run_args(request, definition, provider))
            tasks = answer.get("tasks") or []
            if tasks:
                log.info("session %s runs on %s", request.session_id, provider)
                return str(tasks[0]["taskArn"])
            failures = [dict(f) for f in answer.get("failures") or []]
            if not all(is_capacity_failure(f) for f in failures):
                detail = "; ".join(f"{f.get('reason')} {f.get('detail') or ''}" for f in failures)
                log.error("RunTask for session %s failed: %s", request.session_id, detail)
                raise LaunchError(
                    "AWS Fargate refused to start it. The operator finds why in the log of "
                    "the function that launched it."
                )
            log.warning("no %s capacity for session %s", provider, request.session_id)
        kind = "Fargate Spot" if plan == (SPOT,) else "Fargate"
        raise LaunchError(
            f"{kind} has no capacity for a new server right now. Please try again in a few minutes."
        )

    def _run(self, args: dict[str, Any]) -> dict[str, Any]:
        try:
            return dict(self.client.run_task(**args))
        except Exception as err:
            if error_code(err) in _THROTTLED:
                raise RunnerBusyError(
                    "AWS is starting many servers at once right now; yours starts in a minute."
                ) from err
            raise

    def _run_args(self, request: LaunchRequest, definition: str, provider: str) -> dict[str, Any]:
        s = self.settings
        command = ["jupyter", "server"]
        options = s.jupyter.with_idle_timeout(request.idle_timeout)
        command += jupyter_args(request.base_url, "0.0.0.0", names.SESSION_PORT, options)
        if request.content_ref:
            # A shared image: the launcher puts the session's commit in place first (and ends
            # the task with FETCH_FAILED_EXIT if it cannot), then runs Jupyter.
            launcher = [names.SESSION_LAUNCHER, request.content_url, request.content_ref, "--"]
            command = [*launcher, *command]
        env = {**request.env, "JUPYTER_TOKEN": request.token}
        container: dict[str, Any] = {
            "name": names.SESSION_CONTAINER,
            "command": command,
            "environment": [{"name": k, "value": v} for k, v in env.items()],
        }
        overrides: dict[str, Any] = {"containerOverrides": [container]}
        if request.cpu and request.memory_gb:
            # An event's size: the task's (Fargate bills it) and the container's hard memory
            # limit, which would otherwise stay the template's and kill a bigger notebook.
            memory = int(request.memory_gb * 1024)
            overrides["cpu"] = str(int(request.cpu * 1024))
            overrides["memory"] = str(memory)
            container["memory"] = memory
        return {
            "cluster": s.cluster,
            "taskDefinition": definition,
            "count": 1,
            # A strategy and no launch type: AWS refuses both together.
            "capacityProviderStrategy": [{"capacityProvider": provider, "weight": 1}],
            "networkConfiguration": {
                "awsvpcConfiguration": {
                    "subnets": list(s.subnets),
                    "securityGroups": list(s.security_groups),
                    "assignPublicIp": "ENABLED" if s.assign_public_ip else "DISABLED",
                }
            },
            # The command only: the image's entrypoint runs the repository's `start` script.
            "overrides": overrides,
            "startedBy": request.session_id[:36],
            "group": f"{names.TASK_GROUP_PREFIX}{request.session_id}",
            # The same token returns the same task for a day: a relaunch needs its own.
            "clientToken": f"{request.session_id}-{request.attempt}-{provider}"[:64],
        }

    def stop(self, task_id: str) -> None:
        self._surveyed.pop(task_id, None)  # it changes now: the survey no longer knows it
        try:
            self.client.stop_task(cluster=self.settings.cluster, task=task_id, reason=STOP_REASON)
        except Exception as err:
            if error_code(err) in _GONE:
                log.info("task %s is gone already: %s", task_id, error_message(err))
                return
            raise

    def is_alive(self, task_id: str) -> bool:
        task = self._task(task_id)
        return task is not None and task.get("lastStatus") != "STOPPED"

    def stop_reason(self, task_id: str) -> str:
        """Why a stopped task ended, in the words task events give; "" while it runs."""
        task = self._task(task_id)
        if task is None or task.get("lastStatus") != "STOPPED":
            return ""
        containers = [dict(c) for c in task.get("containers") or []]
        named = [c for c in containers if c.get("name") == names.SESSION_CONTAINER]
        container: dict[str, Any] = named[0] if named else {}
        return stop_reason(
            str(task.get("stopCode", "")),
            str(task.get("stoppedReason", "")),
            exit_code=container.get("exitCode"),
            container_reason=str(container.get("reason", "")),
        )

    def survey(self, task_ids: Collection[str]) -> None:
        """TaskSurvey: DescribeTasks of 100 tasks a call; a task ECS does not know (it forgets
        stopped tasks after about an hour) is answered as gone."""
        self._surveyed, self._surveyed_at = {}, self._monotonic()
        wanted = list(dict.fromkeys(task_ids))
        for start in range(0, len(wanted), SURVEY_BATCH):
            batch = wanted[start : start + SURVEY_BATCH]
            answer = self.client.describe_tasks(cluster=self.settings.cluster, tasks=batch)
            found = {str(t["taskArn"]): dict(t) for t in answer.get("tasks") or []}
            for task_id in batch:
                self._surveyed[task_id] = found.get(task_id) or next(
                    (t for arn, t in found.items() if arn.endswith(f"/{task_id}")), None
                )

    def _task(self, task_id: str) -> dict[str, Any] | None:
        """The task as the last survey saw it, while it answers; else as ECS says now."""
        fresh = self._monotonic() - self._surveyed_at < SURVEY_TTL
        if fresh and task_id in self._surveyed:
            return self._surveyed[task_id]
        answer = self.client.describe_tasks(cluster=self.settings.cluster, tasks=[task_id])
        tasks = answer.get("tasks") or []
        return dict(tasks[0]) if tasks else None

    def held(self) -> dict[str, str]:
        """Tasks of this cluster that are (to be) running for a session: ARN -> session id."""
        arns: list[str] = []
        pages = self.client.get_paginator("list_tasks").paginate(
            cluster=self.settings.cluster, desiredStatus="RUNNING"
        )
        for page in pages:
            arns += page.get("taskArns", [])
        held: dict[str, str] = {}
        for start in range(0, len(arns), 100):  # DescribeTasks takes 100 at a time
            answer = self.client.describe_tasks(
                cluster=self.settings.cluster, tasks=arns[start : start + 100]
            )
            for task in answer.get("tasks") or []:
                group = str(task.get("group", ""))
                if group.startswith(names.TASK_GROUP_PREFIX):
                    held[str(task["taskArn"])] = group.removeprefix(names.TASK_GROUP_PREFIX)
        return held

    def release(self, resource: str) -> None:
        self.stop(resource)
