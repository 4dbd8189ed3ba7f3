"""What must hold after every fault scenario: the invariants, and the outcome a user sees
compared with the same lifecycle's run without the fault."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from skybinder.adapters.aws.dynamo_counters import counted
from skybinder.adapters.aws.dynamo_events import holding
from skybinder.domain.event import Event
from skybinder.domain.model import RUNNING, Image, ImageState, Session, SessionState
from skybinder.service.ports import ProxyMarks
from tests.aws.faults.world import Aws

S = SessionState


@dataclass(frozen=True)
class SessionOutcome:
    state: str
    reason: str
    status_code: int | None
    interruptions: int
    capacity: str
    ready: bool  # its user got it: it reached `ready`
    cost_micros: int
    hourly_micros: int


@dataclass(frozen=True)
class Outcome:
    sessions: tuple[SessionOutcome, ...]  # in the order they were made
    images: tuple[str, ...]  # each image record's state
    spent: int  # what events spent, in micro-dollars

    def differences(self, reference: Outcome, extra_seconds: float) -> list[str]:
        """How this differs from `reference`. A scenario's faults may cost it up to
        `extra_seconds` more of every server's time (reaper minutes, Lambda's retry delays)."""
        problems = []
        if len(self.sessions) != len(reference.sessions):
            problems.append(f"{len(self.sessions)} sessions, not {len(reference.sessions)}")
        for i, (got, want) in enumerate(zip(self.sessions, reference.sessions, strict=False)):
            if _without_cost(got) != _without_cost(want):
                problems.append(f"session {i}: {_show(got)}, not {_show(want)}")
            elif not _cost_within(got, want, extra_seconds):
                problems.append(f"session {i} cost {got.cost_micros}, not {want.cost_micros}")
        if self.images != reference.images:
            problems.append(f"images {self.images}, not {reference.images}")
        return problems


def _without_cost(o: SessionOutcome) -> SessionOutcome:
    return SessionOutcome(
        o.state, o.reason, o.status_code, o.interruptions, o.capacity, o.ready, 0, o.hourly_micros
    )


def _cost_within(got: SessionOutcome, want: SessionOutcome, extra_seconds: float) -> bool:
    more = got.cost_micros - want.cost_micros
    return 0 <= more <= got.hourly_micros * extra_seconds / 3600 + 1


def _show(o: SessionOutcome) -> str:
    ready = ", was ready" if o.ready else ""
    return f"{o.state} ({o.reason[:70]!r}, {o.interruptions} interruptions{ready})"


@dataclass(frozen=True)
class World:
    """The store as it is at the end of a scenario, read once."""

    sessions: list[Session]  # in the order they were made
    images: list[Image]
    events: list[Event]

    @classmethod
    def read(cls, aws: Aws) -> World:
        store = aws.cloud.binder.store
        sessions = sorted(store.list(), key=lambda s: (s.created_at, s.id))
        images = sorted(store.list_images(), key=lambda i: (i.created_at, i.name))
        return cls(sessions, images, store.list_events())


def outcome(aws: Aws, world: World) -> Outcome:
    store = aws.cloud.binder.store
    sessions, images = world.sessions, world.images
    return Outcome(
        sessions=tuple(
            SessionOutcome(
                s.state.value,
                s.reason,
                s.status_code,
                s.interruptions,
                s.capacity,
                s.ready_at is not None,
                s.cost_micros,
                s.hourly_micros,
            )
            for s in sessions
        ),
        images=tuple(i.state.value for i in images),
        spent=sum(store.event_usage(e.slug).spent_micros for e in world.events),
    )


def invariants(aws: Aws, world: World) -> list[str]:
    """What must hold whatever happened: every session ended with a reason or validly
    running, and routed by the session proxy to its own server only while it is live; one live
    task per session at most, and none and no reservation without a live session; the proxy
    awake while it has sessions to serve; counters and event money as the sessions make them;
    no image stuck."""
    sessions = {s.id: s for s in world.sessions}
    problems = [p for s in sessions.values() for p in _session_problems(aws, s)]
    problems += [p for s in sessions.values() for p in _route_problems(aws, s)]
    problems += _task_problems(aws, sessions)
    problems += _proxy_problems(aws, world)
    problems += _counter_problems(aws, world)
    return problems + _image_problems(aws, world.images)


def _ended(session: Session | None) -> bool:
    return session is None or session.state.terminal


def _session_problems(aws: Aws, session: Session) -> list[str]:
    if session.state.terminal:
        return [] if session.reason else [f"session {session.id} ended without a reason"]
    if session.state != S.READY:
        return [f"session {session.id} is left {session.state.value}"]
    running = {t.task_arn for t in aws.tasks() if t.status == "RUNNING"}
    if session.task_id not in running or not session.url:
        return [f"session {session.id} is ready, but its server does not run or is not routed"]
    return []


def _route_problems(aws: Aws, session: Session) -> list[str]:
    """The proxy (reading the table as its own role) forwards a live session to the address
    of its current server, and an ended one nowhere."""
    routed = aws.cloud.routed(session.id)
    if session.state.terminal or not session.task_id:
        return [f"session {session.id}, {session.state.value}, is routed"] if routed else []
    if not routed:
        return []  # not running yet: nothing to route to
    info = aws.cloud.function("reap").runner.describe(session.task_id)
    if info is None or routed != info.address:
        return [f"session {session.id} is routed to {routed}, not to its server"]
    return []


def _proxy_problems(aws: Aws, world: World) -> list[str]:
    """While a session has (or is about to have) a server, its user reaches it only through
    the proxy: the proxy is marked awake and its service runs tasks."""
    served = [s.id for s in world.sessions if s.state in RUNNING | {S.STOPPING}]
    store = aws.cloud.binder.store
    marked = not isinstance(store, ProxyMarks) or store.proxy_awake()
    if served and not (marked and aws.cloud.proxy_tasks()):
        return [f"the session proxy sleeps while sessions {served} need it"]
    return []


def proxy_left_awake(aws: Aws) -> list[str]:
    """Once nothing is active, the reaper puts the proxy to sleep (no task, nothing to pay)."""
    if aws.cloud.proxy_tasks() or aws.cloud.proxy_range() != (0, 0):
        return [f"the session proxy is left awake: range {aws.cloud.proxy_range()}"]
    return []


def _task_problems(aws: Aws, sessions: dict[str, Session]) -> list[str]:
    problems = []
    live: Counter[str] = Counter()
    for task in aws.tasks():
        if str(task.desired_status) != "RUNNING":
            continue
        session_id = str(task.group).removeprefix("skybinder:")
        session = sessions.get(session_id)
        live[session_id] += 1
        if _ended(session):
            problems.append(f"task {task.task_arn} runs for session {session_id}, not live")
        elif session is not None and session.task_id != task.task_arn:
            problems.append(f"task {task.task_arn} runs, not the server of {session_id}")
    problems += [f"session {sid} has {n} live tasks" for sid, n in live.items() if n > 1]
    return problems


def _counter_problems(aws: Aws, world: World) -> list[str]:
    store, sessions = aws.cloud.binder.store, world.sessions
    want: Counter[str] = Counter()
    for s in sessions:
        if counted(s):
            want["global"] += 1
            want[f"repo#{s.repo_key}"] += 1
    stored = {k: v for k, v in store.counters().items() if v}
    problems = [] if stored == dict(want) else [f"counters {stored}, sessions make {dict(want)}"]
    for event in world.events:
        usage = store.event_usage(event.slug)
        made: Counter[str] = Counter()
        for s in sessions:
            if s.event == event.slug:
                made.update(holding(s))
        seen = {
            "seats_used": usage.seats_in_use,
            "reserved": usage.reserved_micros,
            "spent": usage.spent_micros,
            "sessions": usage.sessions,
            "interruptions": usage.interruptions,
        }
        wanted = {key: made[key] for key in seen}
        if seen != wanted:
            problems.append(f"event {event.slug} counts {seen}, its sessions make {wanted}")
    return problems


def _image_problems(aws: Aws, images: list[Image]) -> list[str]:
    running = {b["id"] for b in aws.builds() if b["buildStatus"] == "IN_PROGRESS"}
    return [
        f"image {image.name} is building, and build {image.build_id or '(none)'} is not"
        for image in images
        if image.state == ImageState.BUILDING and image.build_id not in running
    ]
