"""The simulated AWS of the cloud rehearsal: ECS and Fargate under their API and launch limits,
the session proxy's service (asleep until woken, then a minute to start), the store's calls
counted as DynamoDB's, and the internet as the prober sees it through the proxy.

Calls a limit refuses answer as AWS answers them after botocore's retries (cloud_limits.py):
RunTask throttled -> RunnerBusyError (the service puts the session back and the reaper starts
it again); DescribeTasks throttled -> ClientError-like RuntimeError (the reaper's step fails).
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

from bench import cloud_limits as limits
from bench.cloud_limits import Bucket
from bench.workshop_platform import Span, Timeline
from bench.workshop_store import BenchStore
from skybinder.adapters.aws.ecs_runner import STOP_REASON
from skybinder.adapters.aws.ecs_stops import stop_reason
from skybinder.domain.errors import RunnerBusyError
from skybinder.domain.model import Limits, Session, SessionRoute, SessionState, TaskStatus
from skybinder.service.ports import LaunchRequest

STOPPED_BY_US = stop_reason("UserInitiated", STOP_REASON)


@dataclass(frozen=True)
class Timings:
    """Seconds, drawn uniformly."""

    pull: Span = (25.0, 55.0)  # RunTask to RUNNING: a prebuilt ~1 GB image (20-70 s by size)
    boot: Span = (2.0, 6.0)  # RUNNING to Jupyter answering
    news: Span = (0.5, 3.0)  # a task's change to the reap function's call (EventBridge)
    stop: Span = (5.0, 30.0)  # StopTask to STOPPED
    proxy_start: Span = (40.0, 70.0)  # a proxy task: Python's image, its package, its start


class Calls(Counter[str]):
    """AWS calls made, as "service.Operation"."""


class CountingStore(BenchStore):
    """The bench's store, counting its calls as the DynamoDB store makes them, and the writes
    of the one item every admission and end moves (the global counter): 1,000 write units a
    second at most (a transactional write takes 2), throttled past botocore's retries."""

    def __init__(self, calls: Calls, counter: Bucket, now: Callable[[], float]) -> None:
        super().__init__()
        self.calls, self.counter, self.now = calls, counter, now

    def _counted_write(self) -> None:
        if self.counter.take(self.now(), units=2.0) is None:
            raise RuntimeError("ProvisionedThroughputExceededException (the counter item)")

    def create(self, session: Session, limits: Limits | None = None) -> None:
        self.calls["dynamodb.TransactWriteItems"] += 1
        if session.state in _ACTIVE:
            self._counted_write()
        super().create(session, limits)

    def get(self, session_id: str) -> Session | None:
        self.calls["dynamodb.GetItem"] += 1
        return super().get(session_id)

    def transition(self, session_id: str, expected: Iterable[SessionState], new: SessionState,
                   **changes: object) -> Session | None:  # fmt: skip
        new = SessionState(new)
        if new.terminal:
            self.calls["dynamodb.GetItem"] += 1  # read, then the transaction that settles
            self.calls["dynamodb.TransactWriteItems"] += 1
            self._counted_write()
        else:
            self.calls["dynamodb.UpdateItem"] += 1
        return super().transition(session_id, expected, new, **changes)

    def list(self, states: Iterable[SessionState] | None = None, image_name: str | None = None
             ) -> list[Session]:  # fmt: skip
        self.calls["dynamodb.Query"] += 1
        return super().list(states, image_name)

    def get_image(self, name: str):  # type: ignore[no-untyped-def]
        self.calls["dynamodb.GetItem"] += 1
        return super().get_image(name)

    def route(self, session_id: str) -> SessionRoute | None:
        self.calls["dynamodb.GetItem (proxy)"] += 1
        return super().route(session_id)

    def proxy_awake(self) -> bool:
        self.calls["dynamodb.GetItem"] += 1
        return super().proxy_awake()

    def mark_proxy_awake(self) -> None:
        self.calls["dynamodb.UpdateItem"] += 1
        super().mark_proxy_awake()

    def mark_proxy_asleep(self, quiet_since: float) -> bool:
        self.calls["dynamodb.TransactWriteItems"] += 1
        return super().mark_proxy_asleep(quiet_since)


_ACTIVE = frozenset(SessionState) - {SessionState.STOPPED, SessionState.FAILED}


@dataclass
class Task:
    id: str
    session_id: str
    started: float  # when Fargate launched it (after RunTask's throttles)
    up: bool = False
    stop_at: float | None = None

    @property
    def address(self) -> str:
        return f"{self.id}:8888"

    def alive(self, now: float) -> bool:
        return self.stop_at is None or self.stop_at > now


News = Callable[[Task, TaskStatus, str], None]
Hook = Callable[[LaunchRequest], float]  # when RunTask may be made


class Fargate:
    """The Runner port over ECS and Fargate with their limits. `before_run` lets a router model
    act before RunTask (the ALB router reserved its route there)."""

    def __init__(self, timeline: Timeline, rng: random.Random, timings: Timings, calls: Calls):
        self.timeline, self.rng, self.timings, self.calls = timeline, rng, timings, calls
        self.run_task = Bucket(limits.RUN_TASK, rng, "ecs.RunTask")
        self.launches = Bucket(limits.FARGATE_LAUNCHES, rng, "Fargate launches (Spot)")
        self.describe = Bucket(limits.ECS_TASK_READS, rng, "ecs.DescribeTasks")
        self.tasks: dict[str, Task] = {}
        self.by_address: dict[str, Task] = {}
        self.on_news: News = lambda task, status, reason: None
        self.before_run: Hook = lambda request: self.timeline.now
        self.reaper_at = 0.0  # when the reaper's last sequential call ended
        self.surveyed: set[str] = set()  # the tasks the reaper's pass has looked at
        self._ids = itertools.count(1)

    def prepare(self, image_name: str) -> str:
        return f"taskdef:{image_name}"

    def start(self, request: LaunchRequest) -> str:
        now = self.before_run(request)
        self.calls["ecs.RunTask"] += 1  # one task a call (at most TASKS_PER_RUN_TASK)
        called = self.run_task.take(now)
        launched = self.launches.take(called) if called is not None else None
        if launched is None:
            raise RunnerBusyError("AWS is starting too many servers at once: this one waits.")
        task = Task(f"task-{next(self._ids)}", request.session_id, started=launched)
        self.tasks[task.id] = self.by_address[task.address] = task
        pull, boot = self._draw(self.timings.pull), self._draw(self.timings.boot)
        self.timeline.at(launched + pull, lambda: self._running(task))
        self.timeline.at(launched + pull + boot, lambda: setattr(task, "up", True))
        return task.id

    def stop(self, task_id: str) -> None:
        self.calls["ecs.StopTask"] += 1
        task = self.tasks.get(task_id)
        if task is not None and task.stop_at is None:
            task.stop_at = self.timeline.now + self._draw(self.timings.stop)
            self.timeline.at(task.stop_at, lambda: self._tell(task, TaskStatus.STOPPED))

    def survey(self, task_ids: Collection[str]) -> None:
        """TaskSurvey: DescribeTasks of up to 100 tasks a call, one call after the other; the
        pass's is_alive then asks ECS nothing about these tasks."""
        self.surveyed.clear()
        wanted = list(task_ids)
        for start in range(0, len(wanted), limits.TASKS_PER_DESCRIBE):
            self._describe()
            self.surveyed.update(wanted[start : start + limits.TASKS_PER_DESCRIBE])

    def is_alive(self, task_id: str) -> bool:
        """From the pass's survey, or a DescribeTasks of this task."""
        if task_id not in self.surveyed:
            self._describe()
        task = self.tasks.get(task_id)
        return task is not None and task.alive(self.timeline.now)

    def _describe(self) -> None:
        """One DescribeTasks. The reaper makes its calls one after the other, so each starts
        when the one before it ended (`reaper_at`, set by the rehearsal at each pass)."""
        self.calls["ecs.DescribeTasks"] += 1
        start = max(self.timeline.now, self.reaper_at)
        done = self.describe.take(start)
        if done is None:
            self.reaper_at = start + limits.MAX_WAIT  # its retries took that long
            raise RuntimeError("ThrottlingException: Rate exceeded (DescribeTasks)")
        self.reaper_at = done

    def running(self, now: float) -> int:
        return sum(1 for t in self.tasks.values() if t.started <= now and t.alive(now))

    def _running(self, task: Task) -> None:
        if task.stop_at is None:
            self._tell(task, TaskStatus.RUNNING)

    def _tell(self, task: Task, status: TaskStatus) -> None:
        reason = STOPPED_BY_US if status == TaskStatus.STOPPED else ""
        when = self.timeline.now + self._draw(self.timings.news)
        self.timeline.at(when, lambda: self.on_news(task, status, reason))

    def _draw(self, span: Span) -> float:
        return self.rng.uniform(*span)


class ProxyService:
    """The ProxyFleet port over the session proxy's ECS service: asleep (no task) until woken,
    its first task serving a minute or so after the wake."""

    def __init__(self, timeline: Timeline, rng: random.Random, timings: Timings, calls: Calls):
        self.timeline, self.rng, self.timings, self.calls = timeline, rng, timings, calls
        self.serving_from: float | None = None  # when its first task answers; None: asleep
        self.wakes = 0

    def wake(self) -> None:
        self.calls["application-autoscaling.RegisterScalableTarget"] += 1
        if self.serving_from is None:
            self.wakes += 1
            self.serving_from = self.timeline.now + self.rng.uniform(*self.timings.proxy_start)

    def sleep(self) -> None:
        self.calls["application-autoscaling.RegisterScalableTarget"] += 1
        self.serving_from = None

    def awake(self) -> bool:
        self.calls["application-autoscaling.DescribeScalableTargets"] += 1
        return self.serving_from is not None

    def serving(self, now: float) -> bool:
        return self.serving_from is not None and self.serving_from <= now


class ThroughProxy:
    """The Prober: a session's URL answers when the proxy serves, routes the session (the
    store holds its address) and the task there has Jupyter up."""

    def __init__(self, proxy: ProxyService, store: CountingStore, fargate: Fargate) -> None:
        self.proxy, self.store, self.fargate = proxy, store, fargate

    def ready(self, url: str) -> bool:
        now = self.fargate.timeline.now
        if not self.proxy.serving(now):
            return False  # the load balancer has no target: 503
        route = self.store.route(url.rstrip("/").rsplit("/", 1)[-1])
        if route is None or not route.routable:
            return False
        task = self.fargate.by_address.get(route.address)
        return task is not None and task.up and task.alive(now)
