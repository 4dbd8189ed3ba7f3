"""The in-memory session store of the workshop benchmark: tests/fakes.py's, with cheaper reads.

FakeSessionStore deep-copies every session it hands out; the service lists the ready sessions
on every event launch (to look for a warm one), so a simulated workshop spends most of its time
deep-copying. A Session's only mutable fields are its lists (`notices`); a copy with lists of
its own is exactly as independent of the store, at a tenth of the cost. Writes are the fake's.
"""

from __future__ import annotations

import builtins
import typing
from collections.abc import Iterable

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
    """FakeSessionStore whose `get` and `list` copy a session as deep as it is mutable."""

    def state_of(self, session_id: str) -> SessionState | None:
        """A session's state, read without copying it (None: no such session)."""
        found = self.sessions.get(session_id)
        return found.state if found else None

    def get(self, session_id: str) -> Session | None:
        with self._lock:
            found = self.sessions.get(session_id)
            return _copy(found) if found else None

    def list(
        self,
        states: Iterable[SessionState] | None = None,
        image_name: str | None = None,
    ) -> builtins.list[Session]:
        wanted = None if states is None else frozenset(SessionState(s) for s in states)
        with self._lock:
            found = [
                _copy(s)
                for s in self.sessions.values()
                if (wanted is None or s.state in wanted)
                and (image_name is None or s.image_name == image_name)
            ]
        return sorted(found, key=lambda s: s.created_at)
