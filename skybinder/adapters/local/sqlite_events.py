"""Events in the SQLite SessionStore: the events table, admission and usage by SQL aggregates."""

from __future__ import annotations

import builtins
import sqlite3

from skybinder.domain.admission import check_changes
from skybinder.domain.errors import EventNotFoundError
from skybinder.domain.event import EVENT_FIXED, Event, EventUsage
from skybinder.domain.event_admission import check_seat_and_budget
from skybinder.domain.model import ACTIVE, Session, SessionState

_SCHEMA = (
    # Only starts_at sits beside the JSON: list_events orders by it. Usage is counted from the
    # sessions themselves, so there is no counter here that could drift from them.
    """CREATE TABLE IF NOT EXISTS events (
        slug TEXT PRIMARY KEY,
        starts_at REAL NOT NULL,
        data TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS sessions_event ON sessions (event)",
)
_ACTIVE = tuple(sorted(state.value for state in ACTIVE))
# One pass over the event's sessions (through the index on `event`). A session with nothing
# reserved is a refused attempt or a build: it never held a seat or money, so it counts nowhere.
# Spending and interruptions are an ended session's: they are counted as it ends.
_USAGE = f"""
    SELECT
        COALESCE(SUM(active), 0),
        COALESCE(SUM(CASE WHEN active THEN reserved ELSE 0 END), 0),
        COALESCE(SUM(CASE WHEN active THEN 0 ELSE cost END), 0),
        COUNT(*),
        COALESCE(SUM(CASE WHEN active THEN 0 ELSE interruptions END), 0),
        COALESCE(SUM(active AND warm AND state = ?), 0)
    FROM (
        SELECT
            state,
            state IN ({", ".join("?" * len(_ACTIVE))}) AS active,
            json_extract(data, '$.reserved_micros') AS reserved,
            json_extract(data, '$.cost_micros') AS cost,
            json_extract(data, '$.interruptions') AS interruptions,
            json_extract(data, '$.warm') AS warm
        FROM sessions WHERE event = ?
    )
    WHERE reserved > 0
"""


def prepare(db: sqlite3.Connection) -> None:
    """Create the events table, and give a sessions table from before events its `event`
    column (existing sessions belong to no event). Runs inside the store's write lock, so two
    processes opening one old file add the column once."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(sessions)")}
    if "event" not in columns:
        db.execute("ALTER TABLE sessions ADD COLUMN event TEXT NOT NULL DEFAULT ''")
    for statement in _SCHEMA:
        db.execute(statement)


def admit(db: sqlite3.Connection, session: Session) -> None:
    """Raise EventNotFoundError / EventClosedError / EventFullError / BudgetExhaustedError
    when `session` may not join its event (inside the write lock, before its insert)."""
    event = get(db, session.event)
    if event is None:
        raise EventNotFoundError(f"There is no event {session.event!r}.")
    check_seat_and_budget(event, usage(db, session.event), session)


def usage(db: sqlite3.Connection, slug: str) -> EventUsage:
    row = db.execute(_USAGE, (SessionState.READY.value, *_ACTIVE, slug)).fetchone()
    seats, reserved, spent, sessions, interruptions, warm_idle = row
    return EventUsage(
        seats_in_use=seats,
        reserved_micros=reserved,
        spent_micros=spent,
        sessions=sessions,
        interruptions=interruptions,
        warm_idle=warm_idle,
    )


def insert(db: sqlite3.Connection, event: Event) -> None:
    try:
        db.execute(
            "INSERT INTO events (slug, starts_at, data) VALUES (?, ?, ?)",
            (event.slug, event.starts_at, event.model_dump_json()),
        )
    except sqlite3.IntegrityError:
        raise ValueError(f"Event {event.slug!r} already exists.") from None


def get(db: sqlite3.Connection, slug: str) -> Event | None:
    row = db.execute("SELECT data FROM events WHERE slug = ?", (slug,)).fetchone()
    return Event.model_validate_json(row[0]) if row else None


def every(db: sqlite3.Connection) -> builtins.list[Event]:
    rows = db.execute("SELECT data FROM events ORDER BY starts_at, slug").fetchall()
    return [Event.model_validate_json(row[0]) for row in rows]


def check_event_changes(changes: dict[str, object]) -> None:
    """ValueError for unknown fields and for those only an event's creation sets."""
    check_changes(Event, changes, fixed=EVENT_FIXED)


def update(db: sqlite3.Connection, slug: str, changes: dict[str, object]) -> Event | None:
    """Apply checked `changes` to an event (inside the write lock); None when it is unknown."""
    current = get(db, slug)
    if current is None:
        return None
    if current.closed_at is not None:
        # Closing is once: a second close (a retried request) keeps the time of the first.
        changes = {k: v for k, v in changes.items() if k != "closed_at"}
    updated = Event.model_validate({**current.model_dump(), **changes})
    db.execute(
        "UPDATE events SET starts_at = ?, data = ? WHERE slug = ?",
        (updated.starts_at, updated.model_dump_json(), slug),
    )
    return updated
