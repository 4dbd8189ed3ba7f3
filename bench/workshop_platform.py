"""The simulated AWS of the workshop benchmark: a clock with what is due on it, Fargate tasks
with their delays, Spot capacity and interruptions, EventBridge's news of them, and what AWS
bills for them — computed from the tasks' own timeline, never from the binder's store."""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass

from skybinder.adapters.aws.ecs_runner import STOP_REASON
from skybinder.adapters.aws.ecs_stops import IDLE, SPOT_INTERRUPTION, stop_reason
from skybinder.domain.errors import LaunchError
from skybinder.domain.model import CapacityPolicy, TaskStatus
from skybinder.domain.pricing import Capacity, cost_micros
from skybinder.service.ports import LaunchRequest, SessionStore
from tests.fake_ports import FakeClock

Span = tuple[float, float]  # seconds, drawn uniformly
STOPPED_BY_US = stop_reason("UserInitiated", STOP_REASON)


@dataclass(frozen=True)
class Platform:
    """How Fargate and EventBridge behave: delays in seconds, chances and rates."""

    pull: Span = (20.0, 90.0)  # RunTask to RUNNING: placement and the image pull
    boot: Span = (2.0, 10.0)  # RUNNING to Jupyter answering
    stop: Span = (5.0, 60.0)  # StopTask to STOPPED: SIGTERM, the stop timeout, detaching
    news: Span = (0.5, 10.0)  # a task's change to the reap function's call
    duplicate_news: float = 0.02  # chance that EventBridge delivers a change twice
    spot_notice: float = 120.0  # Fargate Spot's warning before it takes a serving task
    spot_unavailable: float = 0.1  # chance that RunTask finds no Spot capacity
    early_interruption: float = 0.03  # chance that Spot takes a task before Jupyter answers
    interruptions_per_hour: float = 0.1  # Spot interruptions of a serving task, per hour


class Timeline:
    """The simulated clock and the actions due on it, run in time order (ties: FIFO)."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self._due: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()

    @property
    def now(self) -> float:
        return self.clock.t

    def at(self, when: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._due, (max(when, self.clock.t), next(self._order), action))

    def run_until(self, end: float) -> None:
        while self._due and self._due[0][0] <= end:
            when, _, action = heapq.heappop(self._due)
            self.clock.t = when
            action()
        self.clock.t = end


@dataclass
class SimTask:
    """One Fargate task: where it runs, when it was asked for and when it really stopped."""

    id: str
    session_id: str
    capacity: Capacity
    hourly: int  # what AWS charges per hour for it on its capacity
    started: float  # RunTask: billing starts (Fargate bills from the image pull)
    idle_timeout: float  # the Jupyter idle culler's limit; 0: the attendee decides
    stop_at: float | None = None  # when it stops (or will); None: nobody asked yet
    reason: str = ""
    up: bool = False  # Jupyter answers
    claimed: bool = False  # a warm session's task handed to an attendee

    @property
    def address(self) -> str:
        return f"{self.id}:8888"

    def alive(self, now: float) -> bool:
        return self.stop_at is None or self.stop_at > now

    def billed(self, until: float) -> int:
        """What AWS charges for it: per second, one minute at least, at its capacity's price."""
        end = self.stop_at if self.stop_at is not None else until
        return cost_micros(self.hourly, end - self.started)


Listener = Callable[[SimTask, TaskStatus, str], None]


class SimRunner:
    """The Runner port (and Sweepable, as EcsRunner) over simulated Fargate tasks.

    `on_news` receives what EventBridge delivers (a task RUNNING, STOPPING or STOPPED, late
    and sometimes twice); `on_up` hears when a task's Jupyter starts answering.
    """

    def __init__(
        self,
        timeline: Timeline,
        rng: random.Random,
        platform: Platform,
        prices: dict[Capacity, int],
    ) -> None:
        self.timeline, self.rng, self.platform, self.prices = timeline, rng, platform, prices
        self.tasks: dict[str, SimTask] = {}
        self.by_address: dict[str, SimTask] = {}
        self.on_news: Listener = lambda task, status, reason: None
        self.on_up: Callable[[SimTask], None] = lambda task: None
        self.interruptions = 0
        self._ids = itertools.count(1)

    def prepare(self, image_name: str) -> str:
        return f"taskdef:{image_name}"

    def start(self, request: LaunchRequest) -> str:
        now, p = self.timeline.now, self.platform
        capacity = self._place(request.capacity or CapacityPolicy.SPOT_FALLBACK)
        task = SimTask(
            id=f"task-{next(self._ids)}",
            session_id=request.session_id,
            capacity=capacity,
            hourly=self.prices[capacity],
            started=now,
            idle_timeout=request.idle_timeout,
        )
        self.tasks[task.id] = self.by_address[task.address] = task
        pull, boot = self._draw(p.pull), self._draw(p.boot)
        if capacity is Capacity.SPOT and self.rng.random() < p.early_interruption:
            self.interruptions += 1
            self._end(task, now + self.rng.uniform(5.0, pull + boot), SPOT_INTERRUPTION)
        self.timeline.at(now + pull, lambda: self._running(task))
        self.timeline.at(now + pull + boot, lambda: self._up(task))
        return task.id

    def stop(self, task_id: str) -> None:
        task = self.tasks.get(task_id)
        if task is not None:
            self._end(task, self.timeline.now + self._draw(self.platform.stop), STOPPED_BY_US)

    def is_alive(self, task_id: str) -> bool:
        task = self.tasks.get(task_id)
        return task is not None and task.alive(self.timeline.now)

    def stop_reason(self, task_id: str) -> str:
        """Why a stopped task ended, as ECS keeps it (the reaper reads it: StopReasons)."""
        task = self.tasks.get(task_id)
        return task.reason if task is not None and not task.alive(self.timeline.now) else ""

    def held(self) -> dict[str, str]:
        """Tasks nobody has asked to stop (ECS's desiredStatus RUNNING) -> their session."""
        return {t.id: t.session_id for t in self.tasks.values() if t.stop_at is None}

    def release(self, resource: str) -> None:
        self.stop(resource)

    # -- what the attendee does to a task ---------------------------------------------------

    def exit(self, task_id: str) -> None:
        """The attendee is done: Jupyter shuts down (from JupyterLab, or idle) and so does the
        task, by itself."""
        task = self.tasks.get(task_id)
        if task is not None:
            self._end(task, self.timeline.now, IDLE)

    def claim(self, task_id: str) -> None:
        """A warm session's task now has an attendee: the idle culler no longer ends it."""
        task = self.tasks.get(task_id)
        if task is not None:
            task.claimed = True

    def serving(self, session_id: str) -> SimTask | None:
        """The session's task that is up and not asked to stop, if any."""
        found = [t for t in self.tasks.values() if t.session_id == session_id]
        live = [t for t in found if t.stop_at is None and t.up]
        return live[-1] if live else None

    # -- billing ----------------------------------------------------------------------------

    def bill(self, until: float) -> dict[str, int]:
        """What AWS charges, by session, for every task ever started (running ones until
        `until`)."""
        charged: dict[str, int] = {}
        for task in self.tasks.values():
            charged[task.session_id] = charged.get(task.session_id, 0) + task.billed(until)
        return charged

    def peak(self, until: float) -> int:
        """The most tasks that ran (were billed) at once."""
        changes = sorted(
            change
            for t in self.tasks.values()
            for change in ((t.started, 1), (t.stop_at if t.stop_at is not None else until, -1))
        )
        running = peak = 0
        for _, step in changes:
            running += step
            peak = max(peak, running)
        return peak

    # -- the task's life ----------------------------------------------------------------------

    def _place(self, policy: CapacityPolicy) -> Capacity:
        """Where RunTask puts the task, trying Spot first as EcsRunner does."""
        if policy is CapacityPolicy.ON_DEMAND:
            return Capacity.ON_DEMAND
        if self.rng.random() >= self.platform.spot_unavailable:
            return Capacity.SPOT
        if policy is CapacityPolicy.SPOT_FALLBACK:
            return Capacity.ON_DEMAND
        raise LaunchError(
            "Fargate Spot has no capacity for a new server right now. Please try again in a "
            "few minutes."
        )

    def _running(self, task: SimTask) -> None:
        if task.stop_at is not None:
            return  # asked to stop (or taken) before it ran: no RUNNING news we act on
        self._tell(task, TaskStatus.RUNNING, "")
        rate = self.platform.interruptions_per_hour
        if task.capacity is Capacity.SPOT and rate > 0:
            when = self.timeline.now + self.rng.expovariate(rate / 3600)
            self.timeline.at(when, lambda: self._interrupt(task))

    def _interrupt(self, task: SimTask) -> None:
        if task.stop_at is not None:
            return
        self.interruptions += 1
        self._tell(task, TaskStatus.STOPPING, SPOT_INTERRUPTION)
        self._end(task, self.timeline.now + self.platform.spot_notice, SPOT_INTERRUPTION)

    def _up(self, task: SimTask) -> None:
        if task.stop_at is not None:
            return
        task.up = True
        self.on_up(task)
        if task.idle_timeout:
            self.timeline.at(self.timeline.now + task.idle_timeout, lambda: self._idle(task))

    def _idle(self, task: SimTask) -> None:
        if not task.claimed:
            self._end(task, self.timeline.now, IDLE)

    def _end(self, task: SimTask, when: float, reason: str) -> None:
        """The task stops at `when` unless it stops earlier anyway."""
        if task.stop_at is not None and task.stop_at <= when:
            return
        task.stop_at, task.reason = when, reason
        self.timeline.at(when, lambda: self._stopped(task, when))

    def _stopped(self, task: SimTask, when: float) -> None:
        if task.stop_at != when:
            return  # an earlier stop overtook this one
        task.up = False
        self._tell(task, TaskStatus.STOPPED, task.reason)

    def _tell(self, task: SimTask, status: TaskStatus, reason: str) -> None:
        """EventBridge delivers the change to the reap function, a little later."""
        deliveries = 2 if self.rng.random() < self.platform.duplicate_news else 1
        for _ in range(deliveries):
            when = self.timeline.now + self._draw(self.platform.news)
            self.timeline.at(when, lambda: self.on_news(task, status, reason))

    def _draw(self, span: Span) -> float:
        return self.rng.uniform(*span)


class SimProber:
    """Prober through the session proxy: a session's URL answers when the proxy routes it (the
    store holds its address) and the task at that address has Jupyter up."""

    def __init__(self, store: SessionStore, runner: SimRunner) -> None:
        self.store, self.runner = store, runner

    def ready(self, url: str) -> bool:
        session_id = url.rstrip("/").rsplit("/", 1)[-1]
        route = self.store.route(session_id)
        if route is None or not route.routable:
            return False
        task = self.runner.by_address.get(route.address)
        return task is not None and task.up and task.alive(self.runner.timeline.now)
