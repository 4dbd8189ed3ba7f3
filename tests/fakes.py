"""In-memory fakes of the ports, keeping real state for tests to assert on."""

from __future__ import annotations

import builtins
import threading
from collections.abc import Iterable, Mapping

from skybinder.domain.admission import check_changes, check_image_update, check_quota
from skybinder.domain.errors import EventNotFoundError, ProxyAsleepError
from skybinder.domain.event import EVENT_FIXED, Event, EventUsage
from skybinder.domain.event_admission import check_seat_and_budget, session_cost
from skybinder.domain.model import (
    ACTIVE,
    RUNNING,
    Image,
    ImageState,
    Limits,
    Session,
    SessionRoute,
    SessionState,
    can_move,
)
from skybinder.service.ports import RateLimiter, RateLimitResult, SessionStore

# --- SessionStore ------------------------------------------------------------------------
# Same semantics as SqliteSessionStore, down to the messages; tests/contract/
# test_session_store.py runs against both. Records are deep-copied in and out, so a test (or
# the service) mutating a Session it holds cannot change the store behind its back.


class FakeSessionStore(SessionStore):
    """Sessions and image records in dicts, one lock around every operation."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Insertion order breaks created_at ties, as rowid does in SQLite.
        self.sessions: dict[str, Session] = {}
        self.images: dict[str, Image] = {}
        self.events: dict[str, Event] = {}
        # ProxyMarks, as the DynamoDB store keeps them: the session proxy marked awake, and when
        # an admission or an end last moved the count of active sessions (the sessions' own
        # times, as the service set them).
        self.awake = False
        self.moved_at = 0.0

    def close(self) -> None:
        """Nothing to release; here so tests can close any store."""

    def create(self, session: Session, limits: Limits | None = None) -> None:
        with self._lock:
            if session.id in self.sessions:
                raise ValueError(f"Session {session.id!r} already exists.")
            if limits is not None:
                self._admit(session, limits)
            if session.event and session.state in ACTIVE:
                event = self.events.get(session.event)
                if event is None:
                    raise EventNotFoundError(f"There is no event {session.event!r}.")
                check_seat_and_budget(event, self._usage(session.event), session)
            self.sessions[session.id] = session.model_copy(deep=True)
            if session.state in ACTIVE:
                self.moved_at = max(self.moved_at, session.created_at)

    def _out(self, session: Session) -> Session:
        """The copy of a stored session that `get` and `list` hand out."""
        return session.model_copy(deep=True)

    def get(self, session_id: str) -> Session | None:
        with self._lock:
            found = self.sessions.get(session_id)
            return self._out(found) if found else None

    def transition(
        self,
        session_id: str,
        expected: Iterable[SessionState],
        new: SessionState,
        **changes: object,
    ) -> Session | None:
        check_changes(Session, changes, fixed=("id", "state"))
        allowed = frozenset(expected)
        with self._lock:
            current = self.sessions.get(session_id)
            if current is None or current.state not in allowed:
                return None
            if not can_move(current.state, new):
                raise ValueError(
                    f"Session {session_id!r} cannot move from {current.state} to {new}."
                )
            moved = Session.model_validate({**current.model_dump(), **changes, "state": new})
            if new.terminal:
                moved.cost_micros = session_cost(moved)
                self.moved_at = max(self.moved_at, moved.ended_at or moved.updated_at)
            self.sessions[session_id] = moved
            return moved.model_copy(deep=True)

    def proxy_awake(self) -> bool:
        with self._lock:
            return self.awake

    def mark_proxy_awake(self) -> None:
        with self._lock:
            self.awake = True

    def mark_proxy_asleep(self, quiet_since: float) -> bool:
        with self._lock:
            if any(s.state in ACTIVE for s in self.sessions.values()):
                return False
            if not self.awake or self.moved_at >= quiet_since:
                return False
            self.awake = False
            return True

    def list(
        self,
        states: Iterable[SessionState] | None = None,
        image_name: str | None = None,
    ) -> builtins.list[Session]:
        wanted = None if states is None else frozenset(SessionState(s) for s in states)
        with self._lock:
            found = [
                self._out(s)
                for s in self.sessions.values()
                if (wanted is None or s.state in wanted)
                and (image_name is None or s.image_name == image_name)
            ]
        return sorted(found, key=lambda s: s.created_at)  # stable: ties stay in insertion order

    def find_by_task(self, task_id: str) -> Session | None:
        if not task_id:
            return None
        matches = self.list()
        return next((s for s in matches if s.task_id == task_id), None)

    def get_image(self, name: str) -> Image | None:
        with self._lock:
            found = self.images.get(name)
            return found.model_copy(deep=True) if found else None

    def claim_build(self, image: Image) -> bool:
        if image.state is not ImageState.BUILDING:
            raise ValueError(
                f"A build is claimed with an image in state building, not {image.state}."
            )
        with self._lock:
            current = self.images.get(image.name)
            if current is not None and current.state is not ImageState.FAILED:
                return False
            self.images[image.name] = image.model_copy(deep=True)
            return True

    def list_images(self) -> list[Image]:
        with self._lock:
            found = [image.model_copy(deep=True) for image in self.images.values()]
        return sorted(found, key=lambda i: (-i.created_at, i.name))

    def update_image(
        self,
        name: str,
        expected: Iterable[ImageState],
        new: ImageState,
        where: Mapping[str, object] | None = None,
        /,
        **changes: object,
    ) -> Image | None:
        check_image_update(changes, where)
        allowed = frozenset(expected)
        with self._lock:
            current = self.images.get(name)
            if current is None or current.state not in allowed:
                return None
            if any(getattr(current, field) != value for field, value in (where or {}).items()):
                return None
            updated = Image.model_validate({**current.model_dump(), **changes, "state": new})
            self.images[name] = updated
            return updated.model_copy(deep=True)

    def create_event(self, event: Event) -> None:
        with self._lock:
            if event.slug in self.events:
                raise ValueError(f"Event {event.slug!r} already exists.")
            self.events[event.slug] = event.model_copy(deep=True)

    def get_event(self, slug: str) -> Event | None:
        with self._lock:
            found = self.events.get(slug)
            return found.model_copy(deep=True) if found else None

    def list_events(self) -> builtins.list[Event]:
        with self._lock:
            found = [e.model_copy(deep=True) for e in self.events.values()]
        return sorted(found, key=lambda e: (e.starts_at, e.slug))

    def update_event(self, slug: str, **changes: object) -> Event | None:
        check_changes(Event, changes, fixed=EVENT_FIXED)
        with self._lock:
            current = self.events.get(slug)
            if current is None:
                return None
            if current.closed_at is not None:
                changes.pop("closed_at", None)
            updated = Event.model_validate({**current.model_dump(), **changes})
            self.events[slug] = updated
            return updated.model_copy(deep=True)

    def event_usage(self, slug: str) -> EventUsage:
        with self._lock:
            return self._usage(slug)

    def claim_warm(self, session_id: str, **changes: object) -> Session | None:
        check_changes(Session, changes, fixed=("id", "state", "warm"))
        with self._lock:
            current = self.sessions.get(session_id)
            if current is None or current.state not in RUNNING or not current.warm:
                return None
            claimed = Session.model_validate({**current.model_dump(), **changes, "warm": False})
            self.sessions[session_id] = claimed
            return claimed.model_copy(deep=True)

    def _usage(self, slug: str) -> EventUsage:
        usage = EventUsage()
        for s in self.sessions.values():
            if s.event != slug or s.refused_attempt:
                continue  # another event's, or a refused attempt (it never held anything)
            usage.sessions += 1
            if s.state in ACTIVE:
                usage.seats_in_use += 1
                usage.reserved_micros += s.reserved_micros
                usage.warm_idle += int(s.warm and s.state == SessionState.READY)
            else:
                usage.spent_micros += s.cost_micros
                usage.interruptions += s.interruptions
        return usage

    def route(self, session_id: str) -> SessionRoute | None:
        with self._lock:
            found = self.sessions.get(session_id)
            return None if found is None else SessionRoute.of(found)

    def record_activity(self, session_id: str, at: float) -> bool:
        with self._lock:
            current = self.sessions.get(session_id)
            if current is None or current.state.terminal:
                return False
            if current.last_activity is not None and current.last_activity >= at:
                return False
            current.last_activity = at
            return True

    def _admit(self, session: Session, limits: Limits) -> None:
        active = [s for s in self.sessions.values() if s.state in ACTIVE]
        same_repo = [s for s in active if s.repo_key == session.repo_key]
        check_quota(limits, session, len(active), len(same_repo))
        if limits.proxy_awake and session.state in ACTIVE and not self.awake:
            raise ProxyAsleepError("The session proxy is asleep: wake it, then admit the session.")


# --- end of SessionStore -----------------------------------------------------------------


# --- RateLimiter -------------------------------------------------------------------------
# BinderHub's fixed window, as SqliteRateLimiter and DynamoRateLimiter keep it;
# tests/contract/test_rate_limiter.py runs against all three.


class FakeRateLimiter(RateLimiter):
    """Windows in a dict: key -> [count, reset]; `checks` records every call's key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.windows: dict[str, list[int]] = {}
        self.checks: builtins.list[str] = []

    def check(self, key: str, limit: int, window_seconds: int, now: float) -> RateLimitResult:
        RateLimitResult.check_arguments(key, limit, window_seconds)
        if limit == 0:
            return RateLimitResult.unlimited(now)
        with self._lock:
            self.checks.append(key)
            window = self.windows.get(key)
            if window is None or window[1] <= now:
                window = self.windows[key] = [0, int(now) + window_seconds]
            window[0] += 1
            count, reset = window
        return RateLimitResult.of(count, reset, limit=limit, now=now)

    def attempts(self, key: str, now: float) -> tuple[int, int]:
        with self._lock:
            window = self.windows.get(key)
            if window is None or window[1] <= now:
                return 0, 0
            return window[0], window[1]


# --- end of RateLimiter ------------------------------------------------------------------
