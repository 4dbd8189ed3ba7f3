"""The session proxy's reads and writes on the SQLite store: a session's route, read from a
few JSON fields, and its last activity, set in place without rewriting the session."""

from __future__ import annotations

import sqlite3

from skybinder.domain.model import ACTIVE, SessionRoute, SessionState

_FIELDS = ("address", "provider", "spec", "event", "reason")
_ACTIVE = tuple(sorted(state.value for state in ACTIVE))


def route(db: sqlite3.Connection, session_id: str) -> SessionRoute | None:
    """The session's route, or None when there is no such session."""
    picks = ", ".join(f"json_extract(data, '$.{field}')" for field in _FIELDS)
    row = db.execute(f"SELECT state, {picks} FROM sessions WHERE id = ?", (session_id,)).fetchone()
    if row is None:
        return None
    state, *values = row
    fields = {field: value for field, value in zip(_FIELDS, values, strict=True) if value}
    return SessionRoute(id=session_id, state=SessionState(state), **fields)


def record_activity(db: sqlite3.Connection, session_id: str, at: float) -> bool:
    """Set `last_activity` of an active session to `at` unless it holds a later time; the
    caller holds the write lock, so a transition's read and write never straddle it."""
    marks = ", ".join("?" * len(_ACTIVE))
    cursor = db.execute(
        "UPDATE sessions SET data = json_set(data, '$.last_activity', ?)"
        f" WHERE id = ? AND state IN ({marks})"
        " AND COALESCE(json_extract(data, '$.last_activity'), -1) < ?",
        (float(at), session_id, *_ACTIVE, float(at)),
    )
    return cursor.rowcount == 1
