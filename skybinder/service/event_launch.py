"""An attendee's launch into an event (DESIGN.md §7): a warm session handed over, or one
admitted to the event's seats and budget (in the store's one atomic step) and launched from
the event's prebuilt image. Refusals are recorded as `failed` sessions."""

from __future__ import annotations

from skybinder.domain.errors import (
    EventClosedError,
    EventNotFoundError,
    QuotaExceededError,
    SkybinderError,
    SpecError,
)
from skybinder.domain.event import Event
from skybinder.domain.event_admission import check_code, check_open
from skybinder.domain.model import Limits, Session, SessionState
from skybinder.domain.naming import new_session_id, new_token
from skybinder.domain.pricing import Capacity, worst_capacity
from skybinder.service.binder import Binder
from skybinder.service.launch import admit as admit_session
from skybinder.service.launch import record_failed, start_launch

S = SessionState
STALLED = 60.0  # seconds after which a warm session still `launching` is not handed out


def request_event_launch(
    binder: Binder,
    provider: str,
    spec: str,
    *,
    slug: str,
    code: str | None,
    client_ip: str = "",
    launch_host: str = "",
) -> Session:
    """Launch an attendee's session of event `slug`.

    A warm session is handed over at once when the event has one; otherwise a session is
    admitted (seat and budget, atomically) and launched from the prebuilt image. Refusals
    are recorded as `failed` sessions with a reason the attendee understands, except a
    missing or wrong access code: that raises AccessCodeError and writes nothing, so guesses
    leave no trace to count or to fill the store with (access_codes.py throttles them).
    """
    session = record_event_launch(
        binder,
        provider,
        spec,
        slug=slug,
        code=code,
        client_ip=client_ip,
        launch_host=launch_host,
    )
    return start_launch(binder, session)


def record_event_launch(
    binder: Binder,
    provider: str,
    spec: str,
    *,
    slug: str,
    code: str | None,
    client_ip: str = "",
    launch_host: str = "",
    resume_hash: str = "",
) -> Session:
    """Admit and record an attendee's session as `request_event_launch` does, with
    `resume_hash` (see record_launch), starting nothing yet: `start_launch` does that."""
    now = binder.clock.now()
    attempt = Session(
        id=new_session_id(),  # admit() gives an admitted one its routed id
        provider=provider[:64],
        spec=spec[:1000],
        event=slug[:64],
        client_ip=client_ip,
        launch_host=launch_host,
        resume_hash=resume_hash,
        created_at=now,
        updated_at=now,
    )
    event = binder.store.get_event(slug)
    try:
        if event is None:
            raise EventNotFoundError(f"There is no event {slug!r}. Check the link you were given.")
        if not event.spec_matches(provider, spec):
            raise SpecError(
                f"This link is not the repository of {event.title}: use the event's own link."
            )
        check_open(event, now)
    except SkybinderError as err:
        failed = attempt if event is None else as_event_session(attempt, event)
        return record_failed(binder, failed, err)
    check_code(event, code)
    if event.warm_pool:
        warm = claim_warm_session(binder, event, attempt)
        if warm is not None:
            return warm
    try:
        return _admitted(binder, event, attempt)
    except (QuotaExceededError, EventClosedError, EventNotFoundError) as err:
        return record_failed(binder, as_event_session(attempt, event), err)


def admit(binder: Binder, event: Event, attempt: Session, *, warm: bool = False) -> Session:
    """Insert an event session (the store admits it or raises) and find or build its image."""
    return start_launch(binder, _admitted(binder, event, attempt, warm=warm))


def _admitted(binder: Binder, event: Event, attempt: Session, *, warm: bool = False) -> Session:
    session = as_event_session(attempt, event).model_copy(
        update={
            "token": new_token(),
            "warm": warm,
            "hourly_micros": _worst_hourly(event),
            "reserved_micros": event.reserve_micros,
        }
    )
    # The binder's global limit holds for attendees as for everyone; the event's own seats,
    # not the per-repository limit, bound how many run its repository.
    return admit_session(binder, session, Limits(max_sessions=binder.config.limits.max_sessions))


def claim_warm_session(binder: Binder, event: Event, attempt: Session) -> Session | None:
    """Hand one of the event's ready warm sessions to the attendee of `attempt` (their
    address, host and resume hash), if there is one."""
    now = binder.clock.now()
    for state in (S.READY, S.STARTING, S.LAUNCHING):  # the nearest to ready first
        for candidate in binder.store.list({state}):
            if candidate.event != event.slug or not candidate.warm:
                continue
            if state == S.LAUNCHING and now - candidate.updated_at > STALLED:
                continue  # its start may have died with its caller: the reaper will tell
            attendee = candidate.model_copy(update={"launch_host": attempt.launch_host})
            # A warm session was routed with no request to name the binder's URL: now there is.
            url = {"url": binder.router.url(attendee)} if candidate.url else {}
            # Its idle time counts from the hand-over, not from when it became ready.
            claimed = binder.store.claim_warm(
                candidate.id,
                client_ip=attempt.client_ip,
                launch_host=attempt.launch_host,
                resume_hash=attempt.resume_hash,
                last_activity=now,
                **url,
            )
            if claimed is not None:
                return claimed
    return None


def _worst_hourly(event: Event) -> int:
    if worst_capacity(event.capacity) is Capacity.SPOT:
        return event.spot_hourly_micros
    return event.on_demand_hourly_micros


def as_event_session(attempt: Session, event: Event) -> Session:
    """The attempt with the event's pinned repository (it launches exactly that)."""
    return attempt.model_copy(
        update={
            "repo_url": event.repo_url,
            "ref": event.ref,
            "ref_url": event.ref_url,
            "resolved_spec": event.resolved_spec,
            "repo_key": event.repo_key,
            "image_name": event.image_name,
        }
    )
