"""What the reaper does for events: end sessions at their time limit and at the event's end
(after a warning), and keep an event's warm pool filled before and during it.

Settlement needs nothing here: every move to `stopped` or `failed` settles the session in the
store's own transaction. Budgets hold because admission reserved the worst case — max minutes
plus a grace that covers this pass's interval and the stop — and this pass ends sessions at
their max minutes.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable

from skybinder.domain.errors import SkybinderError
from skybinder.domain.event import Event, iso
from skybinder.domain.event_admission import closed_message, deadline
from skybinder.domain.model import RUNNING, Session, SessionState
from skybinder.domain.naming import new_session_id
from skybinder.service.binder import Binder
from skybinder.service.events import admit
from skybinder.service.sessions import stop_session
from skybinder.service.steps import isolated

log = logging.getLogger(__name__)
S = SessionState
WARNED = "This session ends at "  # how the warning notice starts: it is given once


def enforce_events(binder: Binder, active: Iterable[Session]) -> Counter[str]:
    """One pass over the active sessions of events: stop, warn, refill warm pools."""
    done: Counter[str] = Counter()
    events = {event.slug: event for event in binder.store.list_events()}
    by_event: dict[str, list[Session]] = {}
    for session in active:
        if session.event:
            by_event.setdefault(session.event, []).append(session)
    now = binder.clock.now()
    for slug, sessions in by_event.items():
        event = events.get(slug)
        for session in sessions:
            with isolated(done, "session %s of event %s", session.id, slug):
                action = _enforce(binder, event, session, now) if event else ""
                if action:
                    done[action] += 1
    for event in events.values():
        with isolated(done, "the warm pool of %s", event.slug):
            started = fill_warm_pool(binder, event, by_event.get(event.slug, []), now)
            if started:
                done["warm-start"] += started
    return done


def _enforce(binder: Binder, event: Event, session: Session, now: float) -> str:
    if event.closed_at is not None:
        stop_session(binder, session.id, closed_message(event), status_code=403)
        return "event-closed"
    if now >= event.ends_at:
        stop_session(binder, session.id, f"{event.title} has ended.", status_code=403)
        return "event-ended"
    if session.state not in RUNNING:
        return ""
    end = deadline(event, session)
    if now >= end:
        minutes = event.max_minutes
        stop_session(binder, session.id, f"max-minutes: {event.title} sessions last {minutes} min.")
        return "event-max-minutes"
    if now >= end - binder.config.event_warning and not _warned(session):
        notice = f"{WARNED}{iso(end)} UTC ({event.title}'s time limit). Save your work."
        binder.store.transition(
            session.id, {session.state}, session.state, notices=[*session.notices, notice]
        )
        return "event-warning"
    return ""


def _warned(session: Session) -> bool:
    return any(notice.startswith(WARNED) for notice in session.notices)


def fill_warm_pool(binder: Binder, event: Event, sessions: list[Session], now: float) -> int:
    """Start warm sessions of `event` up to its pool size, from `warm_lead` before its start
    to as long after it (the rush of the start; later arrivals launch as usual, and warm
    sessions nobody took end as idle servers do), at most `warm_wave` per pass; stop at the
    first refusal (seats or budget)."""
    if not event.warm_pool or event.closed_at is not None:
        return 0
    lead = binder.config.warm_lead
    if not event.starts_at - lead <= now < min(event.starts_at + lead, event.ends_at):
        return 0
    warm = sum(1 for s in sessions if s.warm and not s.state.terminal)
    wanted = min(event.warm_pool - warm, binder.config.warm_wave)
    started = 0
    for _ in range(max(0, wanted)):
        attempt = Session(
            id=new_session_id(),
            provider=event.provider,
            spec=event.resolved_spec,
            event=event.slug,
            created_at=now,
            updated_at=now,
        )
        try:
            admit(binder, event, attempt, warm=True)
        except SkybinderError as err:
            log.info("warm pool of %s stays at %s: %s", event.slug, warm + started, err.message)
            break
        started += 1
    return started
