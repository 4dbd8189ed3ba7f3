"""Use cases over a running session: task state changes, readiness, stopping and failing."""

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
from skybinder.service.ending import check_overrun, fail
from skybinder.service.launch_events import emit_launch_event
from skybinder.service.servers import BEFORE_READY, relaunch

__all__ = ["check_ready", "fail", "on_task_state", "stop_session"]

log = logging.getLogger(__name__)
S = SessionState


def on_task_state(
    binder: Binder,
    session_id: str,
    task_id: str,
    status: TaskStatus,
    *,
    address: str = "",
    reason: str = "",
    capacity: str = "",
) -> Session | None:
    """A session's task is running (with its address, and the capacity it landed on when the
    platform says: "spot" or "on-demand"), about to stop or has stopped (both with a reason).
    Returns the session as this call ended it (settled), or None when it did not end it.

    Safe to receive twice and in any order with the launch that started the task and with
    each other: a session ends once, and a task that comes up for an ended session is stopped.
    """
    session = binder.store.get(session_id) or binder.store.find_by_task(task_id)
    if session is None:
        log.warning("task %s of unknown session %s: stopping it", task_id, session_id)
        binder.runner.stop(task_id)
        return None
    if status == TaskStatus.RUNNING:
        _on_running(binder, session, task_id, address, capacity)
    elif status == TaskStatus.STOPPING:
        _on_stopping(binder, session, task_id, reason)
    else:
        return _on_stopped(binder, session, task_id, reason)
    return None


def _on_running(
    binder: Binder, session: Session, task_id: str, address: str, capacity: str
) -> None:
    if session.state.terminal or session.state == S.STOPPING:
        binder.runner.stop(task_id)  # a late event: no server for a session that has ended
        return
    # Recording the address routes the session: the proxy forwards to what the store holds.
    url = binder.router.url(session)
    moved = binder.store.transition(
        session.id,
        BEFORE_READY,
        S.STARTING,
        task_id=task_id,
        address=address,
        url=url,
        **_landed(binder, session, capacity),
    )
    if moved is None and binder.store.transition(session.id, {S.READY}, S.READY) is None:
        # The session ended (or is stopping) before its task came up.
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
    # The session stays routed until its task has stopped: the user may still save their work.
    if session.task_id and session.task_id != task_id:
        return
    now = binder.clock.now()
    counted = session.interruptions + int(is_spot_interruption(reason))
    binder.store.transition(
        session.id, {S.READY}, S.STOPPING, reason=reason, interruptions=counted, updated_at=now
    )


def _on_stopped(binder: Binder, session: Session, task_id: str, reason: str) -> Session | None:
    if session.task_id and session.task_id != task_id:
        return None  # an older task of this session; the current one is still its server
    if not session.task_id and session.interruptions and session.state in {S.BUILT, S.LAUNCHING}:
        return None  # news of the server Spot took: its relaunch is under way (a duplicate)
    now = binder.clock.now()
    if session.state in BEFORE_READY:
        if is_spot_interruption(reason) and relaunch(binder, session, task_id, reason):
            return None
        failed = binder.store.transition(
            session.id,
            BEFORE_READY,
            S.FAILED,
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
    # A stop we asked for keeps the reason we gave; otherwise the task's reason stands.
    final = session.reason if session.state == S.STOPPING and session.reason else reason
    ended = binder.store.transition(
        session.id,
        {S.READY, S.STOPPING},
        S.STOPPED,
        reason=final,
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
    ready = binder.store.transition(session_id, {S.STARTING}, S.READY, ready_at=now, updated_at=now)
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
        binder.store.transition(session_id, {S.STOPPING}, S.STOPPED, ended_at=now, updated_at=now)
    return binder.store.get(session_id)
