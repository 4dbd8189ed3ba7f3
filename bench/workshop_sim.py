"""One simulated workshop: the real service layer (event creation, request_event_launch, the
reaper, task news, readiness checks) over fakes, a simulated AWS and a crowd of attendees."""

from __future__ import annotations

import functools
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bench.workshop_crowd import (
    MAX_REFUSALS,
    Attendee,
    Habits,
    draw_stay,
    ending_kind,
    next_try,
    refusal_kind,
)
from bench.workshop_platform import Platform, SimProber, SimRunner, SimTask, Timeline
from bench.workshop_store import BenchStore
from skybinder.domain.errors import AccessCodeError
from skybinder.domain.event import Event, EventRequest
from skybinder.domain.model import CapacityPolicy, Session, SessionState, TaskStatus
from skybinder.domain.pricing import Capacity, hourly_micros
from skybinder.service.binder import Binder, ServiceConfig
from skybinder.service.events import create_event, request_event_launch
from skybinder.service.launch import on_build_finished
from skybinder.service.reap import reap
from skybinder.service.sessions import check_ready, on_task_state
from tests.fake_ports import FakeBuilder, FakeClock, FakeRegistry, FakeResolver, FakeRouter

S = SessionState
SLUG, SPEC, CODE = "workshop", "u/r/HEAD", "tea"
LEAD = 3600.0  # the event is created this long before it opens
BUILD = 900.0  # the prebuild takes this long
AFTER = 1800.0  # the simulation runs on this long after the event's end
REAP_EVERY = 60.0  # the reap function's schedule in AWS


@dataclass(frozen=True)
class Scenario:
    """One workshop to simulate; the platform's behaviour is in `platform`."""

    name: str
    budget_usd: float
    seats: int = 120
    warm_pool: int = 0
    attendees: int = 300
    arrival_minutes: float = 15.0
    event_minutes: float = 120.0
    max_minutes: int = 90
    cpu: float = 1.0
    memory_gb: float = 2.0
    capacity: CapacityPolicy = CapacityPolicy.SPOT_FALLBACK
    habits: Habits = field(default_factory=Habits)
    platform: Platform = field(default_factory=Platform)
    # The binder's configuration as in AWS (bootstrap_aws.py), unless a scenario says more.
    config: ServiceConfig = field(
        default_factory=lambda: ServiceConfig(start_timeout=600.0, poll_interval=1.0)
    )


@dataclass
class Outcome:
    """What one run did; money in micro-dollars, times in seconds."""

    seed: int
    budget: int
    true_spend: int  # what AWS charges for every task, from the tasks' timeline
    settled: int  # what the store settled (its `spent`)
    reserved_left: int  # still reserved at the end (0: every session was settled)
    attempts: int = 0
    admitted: int = 0  # attendee launches admitted (warm hand-overs included)
    warm_handovers: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)  # admitted, failed later
    endings: Counter[str] = field(default_factory=Counter)
    reaper: Counter[str] = field(default_factory=Counter)
    peak: int = 0  # most tasks running at once
    first_ready: float | None = None  # after the event opened
    waits: list[float] = field(default_factory=list)  # request to ready, per launch
    interruptions: int = 0  # Spot took a task
    tasks: int = 0
    undercounted: int = 0  # sessions AWS charged more than the store settled
    undercount_max: int = 0
    leaked_tasks: int = 0  # still running when the simulation ended
    open_sessions: int = 0  # not ended when the simulation ended

    @property
    def overshoot(self) -> int:
        return self.true_spend - self.budget


class Workshop:
    """A binder, its simulated AWS and the attendees of one event, on one seed."""

    def __init__(self, scenario: Scenario, seed: int) -> None:
        self.scenario, self.rng = scenario, random.Random(seed)
        self.timeline = Timeline(FakeClock())
        prices = {
            c: hourly_micros(scenario.config.prices, scenario.cpu, scenario.memory_gb, c)
            for c in Capacity
        }
        self.runner = SimRunner(self.timeline, self.rng, scenario.platform, prices)
        self.runner.on_news, self.runner.on_up = self._news, self._up
        router, registry = FakeRouter(), FakeRegistry()
        self.store, self.builder = BenchStore(), FakeBuilder(registry)
        self.binder = Binder(
            store=self.store,
            registry=registry,
            builder=self.builder,
            runner=self.runner,
            router=router,
            prober=SimProber(self.store, self.runner),
            resolver=FakeResolver({SPEC: "c" * 40}),
            clock=self.timeline.clock,
            config=scenario.config,
        )
        self.event = self._create_event()
        self.watching: dict[str, Attendee] = {}
        self.out = Outcome(seed, self.event.budget_micros, true_spend=0, settled=0, reserved_left=0)

    def run(self) -> Outcome:
        s, event, now = self.scenario, self.event, self.timeline.now
        self.timeline.at(now + self.rng.uniform(0, REAP_EVERY), self._reap)
        for index in range(s.attendees):
            who = Attendee(index)
            arrival = event.starts_at + self.rng.uniform(0, s.arrival_minutes * 60)
            self.timeline.at(arrival, functools.partial(self._launch, who))
        self.timeline.run_until(event.ends_at + AFTER)
        return self._outcome()

    def _create_event(self) -> Event:
        s, now = self.scenario, self.timeline.now
        request = EventRequest(
            slug=SLUG,
            title="Workshop",
            provider="gh",
            spec=SPEC,
            starts_at=datetime.fromtimestamp(now + LEAD, UTC),
            ends_at=datetime.fromtimestamp(now + LEAD + s.event_minutes * 60, UTC),
            seats=s.seats,
            budget_usd=s.budget_usd,
            capacity=s.capacity,
            cpu=s.cpu,
            memory_gb=s.memory_gb,
            max_minutes=s.max_minutes,
            access_code=CODE,
            warm_pool=s.warm_pool,
        )
        event = create_event(self.binder, request).event
        self.timeline.at(now + BUILD, lambda: self._build_done(event.image_name))
        return event

    def _build_done(self, image_name: str) -> None:
        record = self.store.get_image(image_name)
        assert record is not None, "creating the event started no build"
        self.builder.succeed(record.build_id)
        on_build_finished(self.binder, image_name, ok=True, build_id=record.build_id)

    def _reap(self) -> None:
        self.out.reaper.update(reap(self.binder))
        for session_id in list(self.watching):
            self._check_ended(session_id)
        if self.timeline.now < self.event.ends_at + AFTER:
            self.timeline.at(self.timeline.now + REAP_EVERY, self._reap)

    # -- the attendees ------------------------------------------------------------------------

    def _refused(self, who: Attendee, kind: str) -> None:
        self.out.refused[kind] += 1
        who.refusals += 1
        if who.refusals < MAX_REFUSALS:
            self._again(who, next_try(self.rng, self.scenario.habits, kind, refused=True))

    def _launch(self, who: Attendee) -> None:
        now = self.timeline.now
        typo = who.attempts == 0 and self.rng.random() < self.scenario.habits.typo
        who.attempts += 1
        self.out.attempts += 1
        try:
            session = request_event_launch(
                self.binder,
                "gh",
                SPEC,
                slug=SLUG,
                code="coffee" if typo else CODE,
                client_ip=who.ip,
            )
        except AccessCodeError as err:  # a wrong code is refused without a session
            self._refused(who, refusal_kind(self.event, err.message))
            return
        if session.state == S.FAILED and not session.reserved_micros:
            self._refused(who, refusal_kind(self.event, session.reason))
            return
        self.out.admitted += 1
        who.session_id, who.requested_at, who.ready_seen = session.id, now, False
        who.stay = draw_stay(self.rng, self.scenario.habits)
        self.watching[session.id] = who
        if session.state == S.READY:  # a warm session, handed over at once
            self.out.warm_handovers += 1
            self.runner.claim(session.task_id)
            self._ready(who)
        elif session.state.terminal:
            self._check_ended(session.id)

    def _again(self, who: Attendee, delay: float | None) -> None:
        if delay is not None and self.timeline.now + delay < self.event.ends_at:
            self.timeline.at(self.timeline.now + delay, lambda: self._launch(who))

    def _up(self, task: SimTask) -> None:
        """Jupyter answers: the attendee's page, polling, sees it within a poll interval."""
        if task.session_id in self.watching:
            poll = self.scenario.config.poll_interval
            when = self.timeline.now + self.rng.uniform(0, poll)
            self.timeline.at(when, lambda: self._poll(task))

    def _poll(self, task: SimTask) -> None:
        who = self.watching.get(task.session_id)
        if who is None or who.ready_seen or not task.alive(self.timeline.now):
            return
        session = check_ready(self.binder, task.session_id)
        if session is not None and session.state == S.READY:
            self._ready(who)
        elif session is not None and session.state in {S.LAUNCHING, S.STARTING}:
            # Jupyter answered before the RUNNING news gave the session its route.
            poll = self.scenario.config.poll_interval
            self.timeline.at(self.timeline.now + poll, lambda: self._poll(task))

    def _ready(self, who: Attendee) -> None:
        now = self.timeline.now
        who.ready_seen = True
        self.out.waits.append(now - who.requested_at)
        if self.out.first_ready is None:
            self.out.first_ready = now - self.event.starts_at
        if who.stay is not None:
            session_id = who.session_id
            self.timeline.at(now + who.stay, lambda: self._leave(session_id))

    def _leave(self, session_id: str) -> None:
        task = self.runner.serving(session_id)
        if task is not None:
            self.runner.exit(task.id)

    def _news(self, task: SimTask, status: TaskStatus, reason: str) -> None:
        """EventBridge calls the reap function with a task's change."""
        capacity = task.capacity.value if status == TaskStatus.RUNNING else ""
        on_task_state(
            self.binder,
            task.session_id,
            task.id,
            status,
            address=task.address if status == TaskStatus.RUNNING else "",
            reason=reason,
            capacity=capacity,
        )
        if status != TaskStatus.RUNNING:
            self._check_ended(task.session_id)

    def _check_ended(self, session_id: str) -> None:
        who = self.watching.get(session_id)
        state = self.store.state_of(session_id)
        if who is None or state is None or not state.terminal:
            return
        session = self.store.get(session_id)
        assert session is not None
        del self.watching[session_id]
        kind = ending_kind(session)
        self.out.endings[kind] += 1
        if kind == "failed":
            self.out.failed[_failure(session)] += 1
        self._again(who, next_try(self.rng, self.scenario.habits, kind, refused=False))

    # -- the figures ----------------------------------------------------------------------------

    def _outcome(self) -> Outcome:
        end, out = self.timeline.now, self.out
        usage = self.store.event_usage(SLUG)
        charged = self.runner.bill(end)
        out.true_spend, out.settled = sum(charged.values()), usage.spent_micros
        out.reserved_left = usage.reserved_micros
        out.peak, out.tasks = self.runner.peak(end), len(self.runner.tasks)
        out.interruptions = self.runner.interruptions
        out.leaked_tasks = sum(1 for t in self.runner.tasks.values() if t.alive(end))
        sessions = [s for s in self.store.list() if s.event == SLUG]
        out.open_sessions = sum(1 for s in sessions if not s.state.terminal)
        gaps = [charged.get(s.id, 0) - s.cost_micros for s in sessions]
        out.undercounted = sum(1 for gap in gaps if gap > 0)
        out.undercount_max = max([0, *gaps])
        return out


def _failure(session: Session) -> str:
    """A short name for why an admitted session failed."""
    return session.reason.split(":")[0].split(".")[0][:48]


def simulate(scenario: Scenario, seed: int) -> Outcome:
    return Workshop(scenario, seed).run()
