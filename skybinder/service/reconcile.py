"""The reaper's look at the platform: a session's records against what the runner says of its
server, so that a lost or late event, or a function that died between two steps, costs a
session a minute or two, never its launch.

- a server the platform says is running, that the session has not routed (its RUNNING event
  was lost, or its handler died): routed now, as that event would have;
- a server the platform says has stopped (or no longer knows): its end settled, with the
  platform's own reason (so a Spot loss before `ready` still relaunches);
- a launch that recorded no server a minute after it began (it died before or after RunTask):
  started again with the same launch attempt, which the runner turns into the same task;
- a session still `queued` a minute after it was made (its launch died before it joined its
  image's build): moved on as that launch would have.
"""

from __future__ import annotations

import logging

from skybinder.domain.model import Session, SessionState, TaskStatus
from skybinder.service.binder import Binder
from skybinder.service.ending import fail
from skybinder.service.launch import find_or_build_image
from skybinder.service.servers import start_server
from skybinder.service.sessions import on_task_state

log = logging.getLogger(__name__)
S = SessionState
GRACE = 60.0  # seconds a step may take before the reaper takes it for dead


def reconcile_task(binder: Binder, session: Session) -> str:
    """Compare a session's server with the platform's view of it; what was repaired, or ""."""
    info = binder.runner.describe(session.task_id)
    if info is None and binder.clock.now() - session.updated_at <= GRACE:
        return ""  # ECS may not list a task it has just started yet: asked again next pass
    if info is None or info.status == TaskStatus.STOPPED:
        reason = (info.reason if info is not None else "") or "the server is gone"
        on_task_state(
            binder,
            session.id,
            session.task_id,
            TaskStatus.STOPPED,
            reason=reason,
            attempt=session.interruptions,
        )
        return "lost"
    if info.status == TaskStatus.RUNNING and _unrouted(session):
        log.warning("session %s: its server runs unannounced; routing it", session.id)
        _tell(binder, session, TaskStatus.RUNNING, address=info.address, capacity=info.capacity)
        return "routed"
    if info.status == TaskStatus.STOPPING and session.state == S.READY:
        _tell(binder, session, TaskStatus.STOPPING, reason=info.reason)
        return "stopping"
    return ""


def _unrouted(session: Session) -> bool:
    return session.state == S.LAUNCHING or (session.state == S.STARTING and not session.url)


def _tell(binder: Binder, session: Session, status: TaskStatus, **news: str) -> None:
    on_task_state(
        binder, session.id, session.task_id, status, attempt=session.interruptions, **news
    )


def resume_launch(binder: Binder, session: Session) -> str:
    """A `launching` session with no server a minute on: start it again (the same attempt,
    so the runner's idempotency returns a task that was started but never recorded), unless
    its event is over — then it ends here, giving back its seat and reservation. One that
    went on failing to start for the start timeout is the timeout's to end."""
    waited = binder.clock.now() - session.updated_at
    if not GRACE < waited <= binder.config.start_timeout:
        return ""
    fresh = {"task_id": "", "interruptions": session.interruptions}
    over = event_over(binder, session)
    if over:
        fail(binder, session.id, over, status_code=403, expected={S.LAUNCHING}, where=fresh)
        return "event-ended"
    log.warning("session %s recorded no server: resuming its launch", session.id)
    start_server(binder, session, None)
    return "resumed"


def resume_queued(binder: Binder, session: Session) -> str:
    """A session still `queued` a minute after it was made: its launch died before it found
    or joined its image's build; do that now."""
    if binder.clock.now() - session.updated_at <= GRACE:
        return ""
    log.warning("session %s is still queued: moving it on", session.id)
    find_or_build_image(binder, session)
    return "resumed"


def event_over(binder: Binder, session: Session) -> str:
    """Why the session's event admits no more starts ("" when it has none, or is open)."""
    event = binder.store.get_event(session.event) if session.event else None
    if event is not None and (event.closed_at is not None or binder.clock.now() >= event.ends_at):
        return f"{event.title} has ended."
    return ""
