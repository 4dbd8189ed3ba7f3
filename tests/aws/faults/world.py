"""AWS's side of a fault scenario: what ECS and CodeBuild do (tasks run, stop, are taken by
Spot; builds end), each change made in moto first and then announced as EventBridge would
announce it, so that the reaper asking AWS and the event telling it agree."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.codebuild.models import codebuild_backends
from moto.ecs.models import ecs_backends

from skybinder.adapters.aws import names as n
from skybinder.domain.model import SessionState
from skybinder.service.sessions import check_ready
from tests.aws.compute_events import load_event
from tests.aws.compute_fixtures import Cloud
from tests.aws.conftest import ACCOUNT, REGION

S = SessionState
Event = dict[str, Any]
STOPS = (
    "ecs-task-stopped-exited",
    "ecs-task-stopped-spot",
    "ecs-task-stopped-user",
    "ecs-task-stopped-failed-to-start",
)


def _ending(name: str) -> tuple[str, str, int | None]:
    """How ECS ends a task, as the event payload `name` of tests/events says it."""
    detail = load_event(name)["detail"]
    exit_code = next(c.get("exitCode") for c in detail["containers"] if c["name"] == "notebook")
    return detail["stopCode"], detail["stoppedReason"], exit_code


ENDS = {name: _ending(name) for name in STOPS}


class Aws:
    """The account's ECS cluster and CodeBuild project as the scenario moves them."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud
        self.announced: set[tuple[str, str]] = set()  # (task, what) told already

    # -- ECS --------------------------------------------------------------------------------

    def tasks(self) -> list[Any]:
        return [t for tasks in ecs_backends[ACCOUNT][REGION].tasks.values() for t in tasks.values()]

    def _announce(self, task: Any, name: str) -> Event:
        self.announced.add((task.task_arn, name))
        return self.cloud.task_event(name, task.task_arn)

    def _provisioning(self) -> list[Any]:
        return [t for t in self.tasks() if t.status == "PROVISIONING" and _wanted(t)]

    def _running(self) -> list[Any]:
        return [t for t in self.tasks() if t.status == "RUNNING" and _wanted(t)]

    def tasks_run(self) -> list[Event]:
        """Every task placed and pulled runs now."""
        events = []
        for task in self._provisioning():
            task.status = "RUNNING"
            events.append(self._announce(task, "ecs-task-running"))
        return events

    def _end(self, tasks: list[Any], name: str) -> list[Event]:
        code, reason, exit_code = ENDS[name]
        events = []
        for task in tasks:
            task.status, task.desired_status = "STOPPED", "STOPPED"
            task.stop_code, task.stopped_reason = code, reason
            for container in task.containers:
                container.exitCode = exit_code
            events.append(self._announce(task, name))
        return events

    def servers_exit(self) -> list[Event]:
        """Every running server shuts itself down (its user is done; Jupyter's culler)."""
        return self._end(self._running(), "ecs-task-stopped-exited")

    def tasks_fail_to_start(self) -> list[Event]:
        return self._end(self._provisioning(), "ecs-task-stopped-failed-to-start")

    def spot_takes_starting(self) -> list[Event]:
        """Spot takes back the capacity of every task not running yet."""
        return self._end(self._provisioning(), "ecs-task-stopped-spot")

    def spot_warns(self) -> list[Event]:
        """Spot's two-minute warning for every running task: it runs on, to be stopped."""
        events = []
        for task in self._running():
            task.desired_status = "STOPPED"
            task.stop_code, task.stopped_reason, _ = ENDS["ecs-task-stopped-spot"]
            events.append(self._announce(task, "ecs-task-spot-warning"))
        return events

    def spot_stops(self) -> list[Event]:
        """The warned tasks stop."""
        warned = [t for t in self.tasks() if t.status == "RUNNING" and not _wanted(t)]
        warned = [t for t in warned if t.stop_code == "SpotInterruption"]
        return self._end(warned, "ecs-task-stopped-spot")

    def stopped_by_skybinder(self) -> list[Event]:
        """ECS announces every task the binder stopped (StopTask) too."""
        events = []
        for task in self.tasks():
            if task.status == "STOPPED" and not _told_stopped(self.announced, task.task_arn):
                task.stop_code = ENDS["ecs-task-stopped-user"][0]
                events.append(self._announce(task, "ecs-task-stopped-user"))
        return events

    # -- CodeBuild --------------------------------------------------------------------------

    def builds(self) -> list[dict[str, Any]]:
        history = codebuild_backends[ACCOUNT][REGION].build_metadata_history.values()
        return [build for builds in history for build in builds]

    def builds_end(self, *, ok: bool) -> list[Event]:
        """Every running build ends; a successful one has pushed its image."""
        events = []
        for build in self.builds():
            if build["buildStatus"] != "IN_PROGRESS":
                continue
            variables = {
                v["name"]: v["value"] for v in build["environment"]["environmentVariables"]
            }
            if ok:
                self.cloud.push_image(variables[n.BUILD_IMAGE_KEY])
            name = "codebuild-succeeded" if ok else "codebuild-failed"
            events.append(self.cloud.build_event(name, build["id"]))  # ends it in moto too
        return events

    # -- what else happens ------------------------------------------------------------------

    def probe(self) -> None:
        """The /build stream of every starting session looks whether Jupyter answers."""
        binder = self.cloud.binder
        for session in binder.store.list({S.STARTING}):
            check_ready(binder, session.id, session)


def _wanted(task: Any) -> bool:
    return str(task.desired_status) == "RUNNING"


def _told_stopped(announced: set[tuple[str, str]], task_arn: str) -> bool:
    return any(arn == task_arn and what in ENDS for arn, what in announced)


Action = Callable[[Aws], list[Event]]
