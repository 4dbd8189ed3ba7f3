"""The in-memory session store of the workshop benchmark: tests/fakes.py's, with cheaper reads.

FakeSessionStore deep-copies every session it hands out, and the service lists the ready
sessions of an event with a warm pool on every launch (to look for a warm one), so a simulated
workshop would spend most of its time deep-copying. A Session's only mutable fields are its
lists (`notices`); a copy with lists of its own is exactly as independent of the store, at a
tenth of the cost. Everything else is the fake's.
"""

from __future__ import annotations

import typing

from skybinder.domain.model import Session, SessionState
from tests.fakes import FakeSessionStore

# Fields whose values a holder could change in place; everything else is immutable.
_CONTAINERS = tuple(
    name
    for name, info in Session.model_fields.items()
    if typing.get_origin(info.annotation) in {list, dict, set}
)


def _copy(session: Session) -> Session:
    twin = session.__copy__()  # pydantic's: a new __dict__ holding the same values
    for name in _CONTAINERS:
        twin.__dict__[name] = session.__dict__[name].copy()
    return twin


class BenchStore(FakeSessionStore):
    """FakeSessionStore whose `get` and `list` copy a session only as deep as it is mutable."""

    def state_of(self, session_id: str) -> SessionState | None:
        """A session's state, read without copying it (None: no such session)."""
        found = self.sessions.get(session_id)
        return found.state if found else None

    def _out(self, session: Session) -> Session:
        return _copy(session)
