"""The attendees of the workshop benchmark: how long they stay, how a launch or a session of
theirs ended (in the words the binder gave them) and whether they try again."""

from __future__ import annotations

import random
from dataclasses import dataclass

from skybinder.adapters.aws.ecs_stops import IDLE
from skybinder.domain.event import Event
from skybinder.domain.event_admission import budget_error, full_error
from skybinder.domain.model import Session, SessionState, is_spot_interruption

MINUTE = 60.0
GONE = "the server is gone"  # the reason reap.py gives a session whose task it finds stopped


@dataclass
class Attendee:
    """One person at the workshop and their current launch."""

    index: int
    attempts: int = 0
    refusals: int = 0
    session_id: str = ""
    requested_at: float = 0.0  # when they asked for the current session
    ready_seen: bool = False  # their page showed the current session ready
    stay: float | None = None  # seconds they work in the current session; None: until ended

    @property
    def ip(self) -> str:
        return f"10.1.{self.index // 256}.{self.index % 256}"


@dataclass(frozen=True)
class Habits:
    """How the attendees behave."""

    never_leave: float = 0.3  # chance that someone works until the binder ends the session
    relaunch_after_leaving: float = 0.2  # chance that someone who left launches again
    relaunch_after_limit: float = 0.5  # ... whose session reached its max minutes
    typo: float = 0.03  # chance that someone mistypes the access code on their first try


def draw_stay(rng: random.Random, habits: Habits) -> float | None:
    """How long someone works in a session: a few leave soon, most stay a while, some never
    leave (the binder ends their session at its max minutes or at the event's end)."""
    if rng.random() < habits.never_leave:
        return None
    if rng.random() < 0.2:
        return rng.uniform(2, 15) * MINUTE
    return rng.uniform(20, 80) * MINUTE


def refusal_kind(event: Event, reason: str) -> str:
    """Why a launch was refused, from the message the attendee saw."""
    if reason.startswith(full_error(event, 0).message.split(" — ")[0]):
        return "full"
    if reason == budget_error(event, event.budget_micros).message:
        return "budget-spent"
    if reason == budget_error(event, 0).message:
        return "budget-reserved"
    if "access code" in reason:
        return "code"
    if "has ended" in reason or "has not started" in reason or "closed" in reason:
        return "closed"
    return "other"


def ending_kind(session: Session) -> str:
    """How an admitted session ended, from its final state and reason."""
    reason = session.reason
    if session.state == SessionState.FAILED:
        return "failed"
    if is_spot_interruption(reason):
        return "interrupted"
    if reason.startswith("max-minutes"):
        return "max-minutes"
    if reason.endswith("has ended."):
        return "event-end"
    if reason == IDLE:
        return "left"
    if reason == GONE:
        return "gone"  # the reaper found the task stopped before its STOPPED news came
    return "other"


# After a refusal or an ended session: (chance they try again, delay range in seconds).
RETRY_REFUSED = {
    "full": (0.8, (1 * MINUTE, 5 * MINUTE)),  # "Try again in a few minutes."
    "budget-reserved": (0.8, (1 * MINUTE, 5 * MINUTE)),  # "Try again in a few minutes."
    "budget-spent": (0.1, (5 * MINUTE, 15 * MINUTE)),
    "code": (1.0, (10.0, 60.0)),  # a typo, typed again
}
MAX_REFUSALS = 6
RELAUNCH_AFTER = {
    "interrupted": (0.8, (0.5 * MINUTE, 3 * MINUTE)),  # the page offers to launch again
    "failed": (0.8, (0.5 * MINUTE, 3 * MINUTE)),
    "gone": (0.5, (1 * MINUTE, 15 * MINUTE)),
}


def next_try(rng: random.Random, habits: Habits, kind: str, *, refused: bool) -> float | None:
    """Seconds until the attendee launches again, or None when they do not."""
    if refused:
        chance, span = RETRY_REFUSED.get(kind, (0.0, (0.0, 0.0)))
    elif kind == "left":
        chance, span = habits.relaunch_after_leaving, (1 * MINUTE, 15 * MINUTE)
    elif kind == "max-minutes":
        chance, span = habits.relaunch_after_limit, (0.5 * MINUTE, 5 * MINUTE)
    else:
        chance, span = RELAUNCH_AFTER.get(kind, (0.0, (0.0, 0.0)))
    if rng.random() >= chance:
        return None
    return rng.uniform(*span)
