"""The `reap` use case: end what should end — old, stuck and lost sessions — and release
what no live session owns.

Runs on a schedule (every minute in AWS, every few seconds locally). Every decision is a
conditional write, so two reapers, or a reaper racing an event, cannot double-stop anything.
"""

from __future__ import annotations

import logging
from collections import Counter

from skybinder.domain.model import ACTIVE, ImageState, Session, SessionState, TaskStatus
from skybinder.service.binder import Binder
from skybinder.service.build_queue import start_queued_builds
from skybinder.service.event_enforcement import enforce_events
from skybinder.service.launch import on_build_finished
from skybinder.service.ports import CounterRepair, StopReasons, Sweepable, TaskSurvey
from skybinder.service.proxy_tasks import tend_proxy
from skybinder.service.servers import launch
from skybinder.service.sessions import check_ready, fail, on_task_state, stop_session
from skybinder.service.steps import isolated

log = logging.getLogger(__name__)
S = SessionState
PRE_LAUNCH = frozenset({S.QUEUED, S.BUILDING, S.BUILT})
STUCK_AFTER = 60.0  # seconds a session may sit `built`: it moves on at once unless a crash


def reap(binder: Binder) -> Counter[str]:
    """One pass over the active sessions; returns what it did, by kind, for logs and metrics."""
    done: Counter[str] = Counter()
    active = binder.store.list(ACTIVE)
    survey_tasks(binder, active, done)
    for session in active:
        with isolated(done, "session %s", session.id):
            action = _reap_one(binder, session)
            if action:
                done[action] += 1
    with isolated(done, "the build queue"):
        done += Counter({"queued-build-started": start_queued_builds(binder)})  # += drops a 0
    with isolated(done, "events"):
        done.update(enforce_events(binder, active))
    with isolated(done, "the orphan sweep"):
        done.update(sweep_orphans(binder))
    if binder.proxy is not None:
        with isolated(done, "the session proxy"):
            # Listed again: the pass may have ended sessions.
            action = tend_proxy(binder, binder.store.list(ACTIVE))
            if action:
                done[action] += 1
    if isinstance(binder.store, CounterRepair):
        with isolated(done, "the counter repair"):
            repaired = len(binder.store.repair_counters())
            if repaired:
                done["counter-repair"] += repaired
    return done


def survey_tasks(binder: Binder, active: list[Session], done: Counter[str]) -> None:
    """Have the runner look at the tasks of the sessions the pass will ask about, in as few
    calls as it can (TaskSurvey); a failed look leaves it to ask about each as it comes."""
    runner = binder.runner
    if isinstance(runner, TaskSurvey):
        with isolated(done, "the survey of tasks"):
            runner.survey([s.task_id for s in active if s.task_id and s.state not in PRE_LAUNCH])


def sweep_orphans(binder: Binder) -> Counter[str]:
    """Release tasks whose session has ended or does not exist (a session's routing needs no
    sweep: the proxy routes only what the store says is live).

    What the ports hold is listed before the sessions are read, so a session created meanwhile
    cannot be mistaken for a missing one; a session the (possibly lagging) list does not show
    is read once more before anything of it is released.
    """
    done: Counter[str] = Counter()
    ports: tuple[tuple[str, object], ...] = (("task", binder.runner),)
    held = [(kind, port, port.held()) for kind, port in ports if isinstance(port, Sweepable)]
    if not any(resources for _, _, resources in held):
        return done
    live = {session.id: session for session in binder.store.list(ACTIVE)}
    for kind, port, resources in held:
        for resource, session_id in resources.items():
            session = live.get(session_id) or binder.store.get(session_id)
            if _orphaned(kind, resource, session):
                port.release(resource)
                done[f"orphan-{kind}"] += 1
    return done


def _orphaned(kind: str, resource: str, session: Session | None) -> bool:
    """True when no live session owns `resource`: its session ended or never was, or (a task)
    the session runs another task now — a relaunch raced a duplicate event."""
    if session is None or session.state.terminal:
        return True
    return kind == "task" and bool(session.task_id) and session.task_id != resource


def _reap_one(binder: Binder, session: Session) -> str:
    cfg = binder.config
    now = binder.clock.now()
    age = now - session.created_at
    if session.state in PRE_LAUNCH:
        if age > cfg.build_timeout:
            minutes = round(cfg.build_timeout / 60)
            fail(binder, session.id, f"The build did not finish within {minutes} minutes.")
            return "build-timeout"
        if session.state == S.BUILT and now - session.updated_at > STUCK_AFTER:
            return _resume_built(binder, session)
        return _settle_if_built(binder, session)
    if session.task_id and not binder.runner.is_alive(session.task_id):
        # The platform's own reason when it keeps one: a Spot interruption before `ready`
        # must relaunch the session even when the reaper sees it before the event arrives.
        runner = binder.runner
        said = runner.stop_reason(session.task_id) if isinstance(runner, StopReasons) else ""
        reason = said or "the server is gone"
        on_task_state(binder, session.id, session.task_id, TaskStatus.STOPPED, reason=reason)
        return "lost"
    return _reap_running(binder, session, now, age)


def _resume_built(binder: Binder, session: Session) -> str:
    """A session left `built` (a crash between its build's end, or a relaunch, and its start):
    start it now — a relaunch keeps its first launch's time, so its deadline still holds —
    unless its event is over, which ends it here instead."""
    event = binder.store.get_event(session.event) if session.event else None
    if event is not None and (event.closed_at is not None or binder.clock.now() >= event.ends_at):
        fail(binder, session.id, f"{event.title} has ended.", status_code=403, expected={S.BUILT})
        return "event-ended"
    if session.build_only:
        now = binder.clock.now()
        binder.store.transition(
            session.id, {S.BUILT}, S.STOPPED, reason="build only", ended_at=now, updated_at=now
        )
        return "settled"
    launch(binder, session.id, again=session.launched_at is not None)
    return "resumed"


def _settle_if_built(binder: Binder, session: Session) -> str:
    """A session still waiting for a build that has ended: the news of its end missed it (a
    store's index may lag the move to `building`). Settle every session waiting for it."""
    if session.state != S.BUILDING:
        return ""
    record = binder.store.get_image(session.image_name)
    if record is None or record.state == ImageState.BUILDING:
        return ""
    on_build_finished(binder, record.name, ok=record.state == ImageState.BUILT)
    return "settled"


def _reap_running(binder: Binder, session: Session, now: float, age: float) -> str:
    cfg = binder.config
    idle_in_state = now - session.updated_at
    if session.state in {S.LAUNCHING, S.STARTING}:
        if session.state == S.STARTING:
            checked = check_ready(binder, session.id)
            if checked is not None and checked.state == S.READY:
                return "ready"
        if idle_in_state > cfg.start_timeout:
            minutes = round(cfg.start_timeout / 60, 1)
            fail(binder, session.id, f"The server did not start within {minutes:g} minutes.")
            return "start-timeout"
        return ""
    if session.state == S.READY and cfg.max_age and age > cfg.max_age:
        hours = round(cfg.max_age / 3600, 1)
        stop_session(binder, session.id, f"max-age: sessions end after {hours:g} hours")
        return "max-age"
    # A warm session waits for its attendee (its server keeps a longer idle timeout too).
    idle = cfg.idle_timeout and not session.warm and idle_for(session, now) > cfg.idle_timeout
    if session.state == S.READY and idle:
        stop_session(binder, session.id, f"idle: no activity for {_duration(cfg.idle_timeout)}")
        return "idle"
    if session.state == S.STOPPING and idle_in_state > cfg.stop_timeout:
        if session.task_id:
            binder.runner.stop(session.task_id)
            return "stop-again"
        # No task to wait for (its start never got that far): the stop is done.
        binder.store.transition(session.id, {S.STOPPING}, S.STOPPED, ended_at=now, updated_at=now)
        return "stopped"
    return ""


def idle_for(session: Session, now: float) -> float:
    """Seconds since the session's last traffic through the proxy (since it became ready,
    when it has had none). The record is written at most once a minute, so it lags."""
    since = max(session.last_activity or 0.0, session.ready_at or session.updated_at)
    return now - since


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:g} seconds"
    return f"{round(seconds / 60, 1):g} minutes"
