"""Events (DESIGN.md §7): declare a workshop, launch into it, look at it and close it.

Admission of an attendee is the store's atomic step (seats and budget with the session's
insert); what does not depend on other sessions — the window, the access code, the
repository — is checked here first. Enforcement over time is in event_enforcement.py.
"""

from __future__ import annotations

import logging

from pydantic import BaseModel

from skybinder.domain.errors import (
    BudgetExhaustedError,
    EventClosedError,
    EventExistsError,
    EventNotFoundError,
    QuotaExceededError,
    SkybinderError,
    SpecError,
)
from skybinder.domain.event import Event, EventRequest, EventUsage, epoch, hash_code, iso
from skybinder.domain.event_admission import check_code, check_open, closed_message, seats_left
from skybinder.domain.model import Limits, Session, SessionState
from skybinder.domain.naming import image_name, new_session_id, new_token
from skybinder.domain.pricing import (
    Capacity,
    hourly_micros,
    micros_of,
    usd,
    worst_capacity,
    worst_case_micros,
)
from skybinder.service.binder import Binder
from skybinder.service.launch import admit_and_start, find_or_build_image, record_failed
from skybinder.service.sessions import stop_session

log = logging.getLogger(__name__)
S = SessionState
STALLED = 60.0  # seconds after which a warm session still `launching` is not handed out


class EventStatus(BaseModel):
    """An event with what its store counts."""

    event: Event
    usage: EventUsage
    prebuild: str = ""  # the state of the build-only session that made its image

    def phase(self, now: float) -> str:
        if self.event.closed_at is not None:
            return "closed"
        if now < self.event.starts_at:
            return "scheduled"
        return "open" if now < self.event.ends_at else "ended"

    def public(self, now: float) -> dict[str, object]:
        """What anyone with the event's link may see."""
        e = self.event
        return {
            "slug": e.slug,
            "title": e.title,
            "provider": e.provider,
            "spec": e.spec,
            "starts_at": iso(e.starts_at),
            "ends_at": iso(e.ends_at),
            "seats": e.seats,
            "seats_left": seats_left(e, self.usage),
            "needs_code": bool(e.access_code_hash),
            "max_minutes": e.max_minutes,
            "phase": self.phase(now),
        }

    def payload(self, now: float) -> dict[str, object]:
        """What an operator sees (never the access code)."""
        e, u = self.event, self.usage
        return {
            **self.public(now),
            "resolved_spec": e.resolved_spec,
            "ref": e.ref,
            "image_name": e.image_name,
            "seats_in_use": u.seats_in_use,
            "budget_usd": usd(e.budget_micros),
            "spent_usd": usd(u.spent_micros),
            "reserved_usd": usd(u.reserved_micros),
            "remaining_usd": usd(u.remaining_micros(e)),
            "session_worst_case_usd": usd(e.reserve_micros),
            "capacity": e.capacity.value,
            "cpu": e.cpu,
            "memory_gb": e.memory_gb,
            "warm_pool": e.warm_pool,
            "warm_idle": u.warm_idle,
            "sessions": u.sessions,
            "interruptions": u.interruptions,
            "closed_at": None if e.closed_at is None else iso(e.closed_at),
            "prebuild": self.prebuild,
        }


def create_event(binder: Binder, request: EventRequest) -> EventStatus:
    """Pin the event's repository, price its sessions, store it and prebuild its image."""
    if binder.store.get_event(request.slug) is not None:
        raise EventExistsError(f"An event named {request.slug!r} exists already.")
    check_fits(binder, request)
    resolved = binder.resolver.resolve(request.provider, request.spec)
    event = priced(binder, request).model_copy(
        update={
            "resolved_spec": resolved.resolved_spec,
            "repo_url": resolved.repo_url,
            "ref": resolved.ref,
            "ref_url": resolved.ref_url,
            "repo_key": resolved.repo_key,
            "image_name": image_name(binder.config.image_prefix, resolved.slug, resolved.ref),
            "created_at": binder.clock.now(),
        }
    )
    try:
        binder.store.create_event(event)
    except ValueError:
        raise EventExistsError(f"An event named {request.slug!r} exists already.") from None
    prebuild = _prebuild(binder, event)
    binder.store.update_event(event.slug, prebuild_session=prebuild.id)
    log.info("event %s created; prebuild %s is %s", event.slug, prebuild.id, prebuild.state)
    return event_status(binder, event.slug)


def check_fits(binder: Binder, request: EventRequest) -> None:
    """QuotaExceededError (400) when the event has more seats than the binder runs sessions at
    once: its attendees count toward that limit like everyone, and could never all get in."""
    limit = binder.config.limits.max_sessions
    if 0 < limit < request.seats:
        raise QuotaExceededError(
            f"An event of {request.seats} seats does not fit in this binder, which runs at most "
            f"{limit} sessions at once. Lower the seats, or raise the binder's limit "
            "(--max-sessions locally, max_sessions in AWS).",
            status_code=400,
        )


def _prebuild(binder: Binder, event: Event) -> Session:
    """Build the event's image now, so that nobody waits for a build when it starts: a
    build-only session of the pinned repository (it takes no seat and costs the event nothing)."""
    now = binder.clock.now()
    attempt = Session(
        id=new_session_id(),
        provider=event.provider,
        spec=event.resolved_spec,
        build_only=True,
        created_at=now,
        updated_at=now,
    )
    session = _as_event_session(attempt, event)
    binder.store.create(session)
    find_or_build_image(binder, session)
    return binder.store.get(session.id) or session


def priced(binder: Binder, request: EventRequest) -> Event:
    """The event of `request` with its prices and the worst case of one session."""
    prices = binder.config.prices
    spot = hourly_micros(prices, request.cpu, request.memory_gb, Capacity.SPOT)
    on_demand = hourly_micros(prices, request.cpu, request.memory_gb, Capacity.ON_DEMAND)
    worst = spot if worst_capacity(request.capacity) is Capacity.SPOT else on_demand
    minutes = request.max_minutes + binder.config.event_grace_minutes
    reserve = max(1, worst_case_micros(worst, minutes))
    budget = micros_of(request.budget_usd)
    if reserve > budget:
        raise BudgetExhaustedError(
            f"A budget of ${request.budget_usd:,.2f} does not cover one session: at worst a "
            f"session costs ${usd(reserve):,.4f} ({minutes:g} minutes on "
            f"{worst_capacity(request.capacity).value}). Raise the budget or lower max_minutes.",
            status_code=400,
        )
    return Event(
        slug=request.slug,
        title=request.title,
        provider=request.provider,
        spec=request.spec,
        starts_at=epoch(request.starts_at),
        ends_at=epoch(request.ends_at),
        seats=request.seats,
        budget_micros=budget,
        capacity=request.capacity,
        cpu=request.cpu,
        memory_gb=request.memory_gb,
        max_minutes=request.max_minutes,
        access_code_hash=hash_code(request.access_code) if request.access_code else "",
        warm_pool=request.warm_pool,
        spot_hourly_micros=spot,
        on_demand_hourly_micros=on_demand,
        reserve_micros=reserve,
    )


def event_status(binder: Binder, slug: str) -> EventStatus:
    event = binder.store.get_event(slug)
    if event is None:
        raise EventNotFoundError(f"There is no event {slug!r}. Check the link you were given.")
    return _status(binder, event)


def list_events(binder: Binder) -> list[EventStatus]:
    return [_status(binder, event) for event in binder.store.list_events()]


def close_event(binder: Binder, slug: str) -> EventStatus:
    """Close an event now: no one is admitted any more and its sessions are stopped."""
    if binder.store.update_event(slug, closed_at=binder.clock.now()) is None:
        raise EventNotFoundError(f"There is no event {slug!r}.")
    event = event_status(binder, slug).event
    for session in event_sessions(binder, slug):
        if not session.state.terminal:
            stop_session(binder, session.id, closed_message(event), status_code=403)
    return event_status(binder, slug)


def event_sessions(binder: Binder, slug: str) -> list[Session]:
    """The event's sessions, admitted and refused, oldest first (all run its pinned image,
    which the stores index: the binder's other sessions are not read)."""
    event = binder.store.get_event(slug)
    if event is None:
        return []
    return [s for s in binder.store.list(image_name=event.image_name) if s.event == slug]


def _status(binder: Binder, event: Event) -> EventStatus:
    prebuild = binder.store.get(event.prebuild_session) if event.prebuild_session else None
    return EventStatus(
        event=event,
        usage=binder.store.event_usage(event.slug),
        prebuild="" if prebuild is None else prebuild.state.value,
    )


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
    now = binder.clock.now()
    attempt = Session(
        id=new_session_id(),
        provider=provider[:64],
        spec=spec[:1000],
        event=slug[:64],
        client_ip=client_ip,
        launch_host=launch_host,
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
        failed = attempt if event is None else _as_event_session(attempt, event)
        return record_failed(binder, failed, err)
    check_code(event, code)
    if event.warm_pool:
        warm = claim_warm_session(binder, event, client_ip=client_ip, launch_host=launch_host)
        if warm is not None:
            return warm
    try:
        return admit(binder, event, attempt)
    except (QuotaExceededError, EventClosedError, EventNotFoundError) as err:
        return record_failed(binder, _as_event_session(attempt, event), err)


def admit(binder: Binder, event: Event, attempt: Session, *, warm: bool = False) -> Session:
    """Insert an event session (the store admits it or raises) and find or build its image."""
    session = _as_event_session(attempt, event).model_copy(
        update={
            "token": new_token(),
            "warm": warm,
            "hourly_micros": _worst_hourly(event),
            "reserved_micros": event.reserve_micros,
        }
    )
    # The binder's global limit holds for attendees as for everyone; the event's own seats,
    # not the per-repository limit, bound how many run its repository.
    return admit_and_start(binder, session, Limits(max_sessions=binder.config.limits.max_sessions))


def claim_warm_session(
    binder: Binder, event: Event, *, client_ip: str, launch_host: str
) -> Session | None:
    """Hand one of the event's ready warm sessions to an attendee, if there is one."""
    now = binder.clock.now()
    for state in (S.READY, S.STARTING, S.LAUNCHING):  # the nearest to ready first
        for candidate in binder.store.list({state}):
            if candidate.event != event.slug or not candidate.warm:
                continue
            if state == S.LAUNCHING and now - candidate.updated_at > STALLED:
                continue  # its start may have died with its caller: the reaper will tell
            attendee = candidate.model_copy(update={"launch_host": launch_host})
            # A warm session was routed with no request to name the binder's URL: now there is.
            url = {"url": binder.router.url(attendee)} if candidate.url else {}
            # Its idle time counts from the hand-over, not from when it became ready.
            claimed = binder.store.claim_warm(
                candidate.id, client_ip=client_ip, launch_host=launch_host, last_activity=now, **url
            )
            if claimed is not None:
                return claimed
    return None


def _worst_hourly(event: Event) -> int:
    if worst_capacity(event.capacity) is Capacity.SPOT:
        return event.spot_hourly_micros
    return event.on_demand_hourly_micros


def _as_event_session(attempt: Session, event: Event) -> Session:
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
