"""Use cases over a running session: task state changes, readiness, stopping and failing.

Task events arrive at least once, in any order, sometimes late, and may be handled by two
functions at once. Each acts only on the session's current server, named by identity, not
by state alone: its task id, or — while the start's task id is not written yet — the launch
attempt (the relaunch counter) the task was started for. Every write is conditional on that
identity, so of two handlers that read the same session only one moves it, and news of a
server the session has replaced changes nothing but to stop that server. What a write
releases (a task) is released only by the handler whose write won.
"""

from __future__ import annotations

import logging

from skybinder.domain.model import (
    RUNNING,
    ImageState,
    Session,
    SessionState,
    TaskStatus,
    is_image_missing,
    is_spot_interruption,
)
from skybinder.domain.pricing import Capacity, rates
from skybinder.service.binder import Binder
from skybinder.service.ending import check_overrun, fail, identity
from skybinder.service.launch_events import emit_launch_event
from skybinder.service.servers import BEFORE_READY, may_relaunch, relaunch

__all__ = ["check_ready", "fail", "is_current", "on_task_state", "stop_session"]

log = logging.getLogger(__name__)
S = SessionState
ATTEMPTS = 4  # reads of a session that keeps changing under an event; each write moves it on


def on_task_state(
    binder: Binder,
    session_id: str,
    task_id: str,
    status: TaskStatus,
    *,
    address: str = "",
    reason: str = "",
    capacity: str = "",
    attempt: int = 0,
) -> Session | None:
    """A session's task is running (with its address, and the capacity it landed on when the
    platform says: "spot" or "on-demand"), about to stop or has stopped (both with a reason).
    `attempt`: the launch attempt the task was started for (LaunchRequest.attempt).
    Returns the session as this call ended it (settled), or None when it did not end it.

    Safe to receive twice, at once, late and in any order with the launch that started the
    task and with each other: a session ends once, a relaunch happens once per lost server,
    and a task that comes up for an ended or replaced server is stopped.
    """
    session = binder.store.get(session_id) or binder.store.find_by_task(task_id)
    if session is None:
        log.warning("task %s of unknown session %s: stopping it", task_id, session_id)
        binder.runner.stop(task_id)
        return None
    if not is_current(session, task_id, attempt):
        if status == TaskStatus.RUNNING:  # a server this session does not run (any more)
            log.info("task %s is not the server of session %s: stopping it", task_id, session.id)
            binder.runner.stop(task_id)
        return None
    if status == TaskStatus.RUNNING:
        _on_running(binder, session, task_id, address, capacity)
    elif status == TaskStatus.STOPPING:
        _on_stopping(binder, session, task_id, reason)
    else:
        return _on_stopped(binder, session, task_id, reason, attempt)
    return None


def is_current(session: Session, task_id: str, attempt: int) -> bool:
    """True when `task_id` is the session's server: the task it records, or — a launching
    session whose start has not recorded its task yet — a task of its current attempt."""
    if session.task_id:
        return session.task_id == task_id
    return session.state == S.LAUNCHING and attempt == session.interruptions


def _on_running(
    binder: Binder, session: Session, task_id: str, address: str, capacity: str
) -> None:
    if session.state.terminal or session.state == S.STOPPING:
        binder.runner.stop(task_id)  # a late event: no server for a session that has ended
        return
    if session.state == S.READY:
        return  # told again: it is routed and answering already
    # Recording the address routes the session: the proxy forwards to what the store holds.
    url = binder.router.url(session)
    moved = binder.store.transition(
        session.id,
        BEFORE_READY,
        S.STARTING,
        identity(session),
        task_id=task_id,
        address=address,
        url=url,
        **_landed(binder, session, capacity),
        **({} if session.task_id == task_id else {"updated_at": binder.clock.now()}),
    )
    if moved is None:
        _after_lost_start(binder, session, task_id)


def _after_lost_start(binder: Binder, session: Session, task_id: str) -> None:
    """The session changed between our read and our write: keep what is still its own."""
    now = binder.store.get(session.id)
    if now is not None and now.task_id == task_id and not now.state.terminal:
        return  # a duplicate of this event, or the start recording this task, got there first
    # Ended, or relaunched on another server: this task must not run.
    binder.runner.stop(task_id)


def _landed(binder: Binder, session: Session, capacity: str) -> dict[str, object]:
    """The session's capacity, and for an event session the price per hour that goes with it
    (until now the dearest it could land on; after a relaunch the dearer of the two)."""
    if capacity not in {c.value for c in Capacity}:
        return {}
    changes: dict[str, object] = {"capacity": capacity}
    event = binder.store.get_event(session.event) if session.event else None
    spot = capacity == Capacity.SPOT
    if event is not None:
        hourly = event.spot_hourly_micros if spot else event.on_demand_hourly_micros
    elif session.hourly_micros:  # priced at launch: the binder's own session size
        cfg = binder.config
        hourly = rates(cfg.prices, cfg.session_cpu, cfg.session_memory_gb)[Capacity(capacity)]
    else:
        return changes
    changes["hourly_micros"] = (
        max(hourly, session.hourly_micros) if session.interruptions else hourly
    )
    return changes


def _on_stopping(binder: Binder, session: Session, task_id: str, reason: str) -> None:
    # The session stays routed until its task has stopped: the user may still save their
    # work. A Spot warning counts the interruption; the STOPPED that follows sees it counted.
    now = binder.clock.now()
    counted = session.interruptions + int(is_spot_interruption(reason))
    binder.store.transition(
        session.id,
        {S.READY},
        S.STOPPING,
        identity(session),
        reason=reason,
        interruptions=counted,
        updated_at=now,
    )


def _on_stopped(
    binder: Binder, session: Session, task_id: str, reason: str, attempt: int
) -> Session | None:
    current: Session | None = session
    for _ in range(ATTEMPTS):
        if current is None or current.state.terminal:
            return None
        if not is_current(current, task_id, attempt):
            return None  # replaced meanwhile (relaunched): its new server is not this one
        if current.state in BEFORE_READY:
            if is_spot_interruption(reason) and may_relaunch(binder, current):
                if relaunch(binder, current, reason):
                    return None
            else:
                failed = _fail_before_ready(binder, current, reason)
                if failed is not None:
                    return failed
        else:
            ended = _end_after_ready(binder, current, reason)
            if ended is not None:
                return ended
        current = binder.store.get(session.id)  # it changed under us: decide again
    log.error("session %s kept changing while its task %s stopped", session.id, task_id)
    return None


def _fail_before_ready(binder: Binder, session: Session, reason: str) -> Session | None:
    """The server stopped before it was ready: the session fails (the task has stopped
    already: nothing to ask of it; the proxy routes a failed session no more). A server that
    could not pull its image says the image's record was wrong: it is forgotten."""
    now = binder.clock.now()
    failed = binder.store.transition(
        session.id,
        {session.state},
        S.FAILED,
        identity(session),
        reason=f"The server stopped before it was ready: {reason}",
        status_code=500,
        ended_at=now,
        updated_at=now,
    )
    if failed is not None:
        emit_launch_event(failed, "failure", now)
        if is_image_missing(reason):
            _forget_image(binder, failed)
        check_overrun(failed)
    return failed


def _end_after_ready(binder: Binder, session: Session, reason: str) -> Session | None:
    """A ready (or stopping) session's server stopped: end it. A stop we asked for keeps the
    reason we gave; otherwise the task's reason stands. A Spot interruption is counted here
    unless its warning counted it already, so the count (and the cost it adds) does not
    depend on which of the two arrived first."""
    asked = session.state == S.STOPPING and bool(session.reason)
    final = session.reason if asked else reason
    warned = is_spot_interruption(session.reason)
    counted = session.interruptions + int(is_spot_interruption(reason) and not warned)
    now = binder.clock.now()
    ended = binder.store.transition(
        session.id,
        {session.state},
        S.STOPPED,
        identity(session),
        reason=final,
        interruptions=counted,
        ended_at=now,
        updated_at=now,
    )
    check_overrun(ended)
    return ended


def _forget_image(binder: Binder, session: Session) -> None:
    """The server could not pull its image: the record that said it was built is wrong (the
    image was deleted), so the next launch asks the registry and builds it again."""
    log.warning("image %s is gone from the registry: it will be built again", session.image_name)
    binder.store.update_image(
        session.image_name, {ImageState.BUILT}, ImageState.FAILED, reason="missing"
    )


def check_ready(binder: Binder, session_id: str, session: Session | None = None) -> Session | None:
    """Probe a starting session's server; move it to `ready` once Jupyter answers.
    `session`: the session as the caller has just read it (it is not read again)."""
    session = session or binder.store.get(session_id)
    if session is None or session.state != S.STARTING or not session.url:
        return session
    if not binder.prober.ready(binder.router.probe_url(session)):
        return session
    now = binder.clock.now()
    ready = binder.store.transition(
        session_id, {S.STARTING}, S.READY, identity(session), ready_at=now, updated_at=now
    )
    if ready is not None:
        emit_launch_event(ready, "success", now)
    return ready or binder.store.get(session_id)


def stop_session(
    binder: Binder, session_id: str, reason: str, *, status_code: int = 500
) -> Session | None:
    """Stop a session for `reason`. A session with no server yet fails with that reason (and
    `status_code`, what its stream's `failed` event says)."""
    session = binder.store.get(session_id)
    if session is None or session.state.terminal:
        return session
    if session.state not in RUNNING | {S.STOPPING}:
        return fail(binder, session_id, reason, status_code=status_code)
    now = binder.clock.now()
    stopping = binder.store.transition(
        session_id, RUNNING | {S.STOPPING}, S.STOPPING, reason=reason, updated_at=now
    )
    if stopping is not None and stopping.task_id:
        binder.runner.stop(stopping.task_id)
    elif stopping is not None and stopping.state == S.STOPPING and not stopping.task_id:
        # Nothing was started yet; the launch in flight stops its task when it sees this.
        binder.store.transition(
            session_id, {S.STOPPING}, S.STOPPED, {"task_id": ""}, ended_at=now, updated_at=now
        )
    return binder.store.get(session_id)
