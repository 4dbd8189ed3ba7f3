"""Ending a session that went wrong: `fail` it and release what it held."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from skybinder.domain.model import ACTIVE, Session, SessionState
from skybinder.service.binder import Binder
from skybinder.service.build_control import cancel_unwanted_build
from skybinder.service.launch_events import emit_launch_event

S = SessionState
log = logging.getLogger(__name__)


def fail(
    binder: Binder,
    session_id: str,
    reason: str,
    *,
    status_code: int = 500,
    expected: Iterable[SessionState] = ACTIVE,
) -> Session | None:
    """End a session as `failed`, stopping its task if it had one (its routing ends with it:
    the session proxy routes only starting, ready and stopping sessions)."""
    now = binder.clock.now()
    failed = binder.store.transition(
        session_id,
        expected,
        S.FAILED,
        reason=reason,
        status_code=status_code,
        ended_at=now,
        updated_at=now,
    )
    if failed is not None:
        release(binder, failed)
        cancel_unwanted_build(binder, failed.image_name)  # it may have been the last waiting
        emit_launch_event(failed, "failure", now)
        check_overrun(failed)
    return failed


def check_overrun(session: Session | None) -> None:
    """Log loudly when an ended event session cost more than it reserved: the grace minutes
    did not cover its end (a reaper that did not run, a stop that hung), which operators must
    know about, as the budget's guarantee rests on it."""
    if session is not None and 0 < session.reserved_micros < session.cost_micros:
        log.error(
            "session %s of event %s cost %d micro-USD, more than the %d it reserved",
            session.id,
            session.event,
            session.cost_micros,
            session.reserved_micros,
        )


def release(binder: Binder, session: Session) -> None:
    if session.task_id:
        binder.runner.stop(session.task_id)
