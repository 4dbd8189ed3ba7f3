"""Who may start a session of an event: the window, the code, the seats and the budget.

The window and the code are checked before a session is written (they do not depend on
other sessions); seats and budget are checked by the store, in the transaction that writes
the session, with `check_seat_and_budget` (SQLite, fake) or conditions that say the same
(DynamoDB). The messages are written for the attendee.
"""

from __future__ import annotations

from datetime import UTC, datetime

from skybinder.domain.errors import (
    AccessCodeError,
    BudgetExhaustedError,
    EventClosedError,
    EventFullError,
)
from skybinder.domain.event import Event, EventUsage
from skybinder.domain.model import Session
from skybinder.domain.pricing import cost_micros


def check_open(event: Event, now: float) -> None:
    """EventClosedError unless `now` is inside the event's window and it was not closed."""
    if event.closed_at is not None:
        raise EventClosedError(closed_message(event))
    if now < event.starts_at:
        raise EventClosedError(
            f"{event.title} has not started yet. It opens at {_clock(event.starts_at)} UTC; "
            "please come back then."
        )
    if now >= event.ends_at:
        raise EventClosedError(f"{event.title} has ended. Thank you for taking part!")


def check_code(event: Event, code: str | None) -> None:
    """AccessCodeError unless `code` is the event's access code (or it needs none)."""
    if event.code_ok(code):
        return
    if not code:
        raise AccessCodeError(f"{event.title} needs an access code. Ask the organisers for it.")
    raise AccessCodeError("That access code is not right. Check it with the organisers.")


def check_seat_and_budget(event: Event, usage: EventUsage, session: Session) -> None:
    """EventFullError / BudgetExhaustedError / EventClosedError when `session` (whose
    reserved_micros is its worst case) may not join `event` as `usage` stands."""
    if event.closed_at is not None:
        raise EventClosedError(closed_message(event))
    if usage.seats_in_use >= event.seats:
        raise full_error(event, usage.seats_in_use)
    if usage.remaining_micros(event) < session.reserved_micros:
        raise budget_error(event, usage.spent_micros)


def full_error(event: Event, in_use: int) -> EventFullError:
    return EventFullError(
        f"This workshop is full — {in_use} of {event.seats} seats in use. "
        "Try again in a few minutes."
    )


def budget_error(event: Event, spent_micros: int) -> BudgetExhaustedError:
    """The refusal when the budget cannot cover one more worst case: for good when what is
    spent leaves too little, for now when running sessions still hold reservations."""
    if event.budget_micros - spent_micros < event.reserve_micros:
        return BudgetExhaustedError(
            f"{event.title} has used the budget it was given for servers, so no new session "
            "can start. Please tell the organisers."
        )
    return BudgetExhaustedError(
        f"{event.title} is at its budget limit while the sessions running now last: a new "
        "session can start when some of them end. Try again in a few minutes."
    )


def closed_message(event: Event) -> str:
    return f"{event.title} was closed by its organisers."


def session_cost(session: Session) -> int:
    """The settled cost of an ended session: its price per hour for the time from its first
    launch to its end (nothing when no server was ever asked for), plus Fargate's minimum
    minute for each Spot interruption it met (a server lost within its first minute is billed
    that minute, and the relaunch runs in the same span)."""
    if session.launched_at is None or not session.hourly_micros:
        return 0
    end = session.ended_at if session.ended_at is not None else session.updated_at
    span = cost_micros(session.hourly_micros, max(0.0, end - session.launched_at))
    return span + session.interruptions * cost_micros(session.hourly_micros, 0)


def deadline(event: Event, session: Session) -> float:
    """When an event session must end: its max minutes after launch, or the event's end."""
    start = session.launched_at if session.launched_at is not None else session.created_at
    return min(start + event.max_minutes * 60, event.ends_at)


def seats_left(event: Event, usage: EventUsage) -> int:
    """Seats an attendee can still get: free ones, and warm sessions waiting to be handed out."""
    return max(0, event.seats - usage.seats_in_use + usage.warm_idle)


def _clock(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M")
