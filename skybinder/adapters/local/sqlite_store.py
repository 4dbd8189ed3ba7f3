"""SessionStore on one SQLite file, safe to share between threads and processes."""

from __future__ import annotations

import builtins
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from skybinder.adapters.local import sqlite_events as events
from skybinder.adapters.local import sqlite_routes as routes
from skybinder.adapters.local.private_files import private_database, store_key
from skybinder.adapters.local.token_seal import TokenSeal
from skybinder.domain.admission import check_changes, check_image_update, check_quota
from skybinder.domain.event import Event, EventUsage
from skybinder.domain.event_admission import session_cost
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

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS sessions (
        id TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        repo_key TEXT NOT NULL,
        image_name TEXT NOT NULL,
        task_id TEXT NOT NULL,
        build_only INTEGER NOT NULL,
        created_at REAL NOT NULL,
        data TEXT NOT NULL,
        event TEXT NOT NULL DEFAULT ''
    )""",
    "CREATE INDEX IF NOT EXISTS sessions_state ON sessions (state)",
    "CREATE INDEX IF NOT EXISTS sessions_image_name ON sessions (image_name)",
    "CREATE INDEX IF NOT EXISTS sessions_task_id ON sessions (task_id)",
    """CREATE TABLE IF NOT EXISTS images (
        name TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        data TEXT NOT NULL
    )""",
)
# The columns kept beside the JSON so that filters and counts can use indexes.
_COLUMNS = "state, repo_key, image_name, task_id, build_only, created_at, data, event"
_ACTIVE = tuple(sorted(state.value for state in ACTIVE))


class SqliteSessionStore:
    """Sessions, image records and events in one SQLite file (WAL journal).

    The file is its owner's only (0600), and session tokens are sealed in it (token_seal.py)
    with `token_key`, by default the key in `store-key` beside the file.
    """

    def __init__(
        self, path: Path, *, busy_timeout_ms: int = 30_000, token_key: bytes | None = None
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._seal = TokenSeal(token_key if token_key is not None else store_key(path.parent))
        private_database(path)  # before SQLite opens it: new journals take the file's mode
        # One connection behind a lock: the API's thread pool and the builder and runner
        # threads of this process take turns on it, while SQLite's file locks (WAL, BEGIN
        # IMMEDIATE, busy_timeout) arbitrate between processes. isolation_level=None leaves
        # transactions to us instead of the sqlite3 module's implicit BEGINs.
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            path,
            isolation_level=None,
            check_same_thread=False,
            timeout=busy_timeout_ms / 1000,
        )
        self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        # WAL lets readers proceed while a writer holds the lock; the setting is stored in
        # the file, so every process that opens it gets it.
        self._db.execute("PRAGMA journal_mode = WAL")
        with self._write() as db:
            for statement in _SCHEMA:
                db.execute(statement)
            events.prepare(db)

    def close(self) -> None:
        """Close the connection; the store cannot be used afterwards. Idempotent."""
        with self._lock:
            self._db.close()

    # -- sessions -------------------------------------------------------------------------

    def create(self, session: Session, limits: Limits | None = None) -> None:
        with self._write() as db:
            if db.execute("SELECT 1 FROM sessions WHERE id = ?", (session.id,)).fetchone():
                raise ValueError(f"Session {session.id!r} already exists.")
            if limits is not None:
                _admit(db, session, limits)
            if session.event and session.state in ACTIVE:
                events.admit(db, session)
            db.execute(
                f"INSERT INTO sessions (id, {_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (session.id, *_session_columns(session, self._seal)),
            )

    def get(self, session_id: str) -> Session | None:
        rows = self._read("SELECT data FROM sessions WHERE id = ?", (session_id,))
        return _load(rows[0][0], self._seal) if rows else None

    def transition(
        self,
        session_id: str,
        expected: Iterable[SessionState],
        new: SessionState,
        **changes: object,
    ) -> Session | None:
        check_changes(Session, changes, fixed=("id", "state"))
        allowed = frozenset(expected)
        with self._write() as db:
            current = _get(db, session_id, self._seal)
            if current is None or current.state not in allowed:
                return None
            if not can_move(current.state, new):
                raise ValueError(
                    f"Session {session_id!r} cannot move from {current.state} to {new}."
                )
            moved = Session.model_validate({**current.model_dump(), **changes, "state": new})
            if new.terminal:
                # Settling is this write: the event's usage is counted from its sessions, so
                # the seat, the reservation and the spending move with the state, once.
                moved.cost_micros = session_cost(moved)
            _update(db, moved, current.state, self._seal)
            return moved

    def list(
        self,
        states: Iterable[SessionState] | None = None,
        image_name: str | None = None,
    ) -> builtins.list[Session]:
        where: builtins.list[str] = []
        params: builtins.list[object] = []
        if states is not None:
            wanted = [SessionState(state).value for state in states]
            where.append(f"state IN ({_marks(wanted)})")
            params.extend(wanted)
        if image_name is not None:
            where.append("image_name = ?")
            params.append(image_name)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        # rowid breaks ties in insertion order, as the fake's dict does.
        rows = self._read(f"SELECT data FROM sessions{clause} ORDER BY created_at, rowid", params)
        return [_load(row[0], self._seal) for row in rows]

    def find_by_task(self, task_id: str) -> Session | None:
        # Sessions without a task all have task_id "", which identifies none of them.
        if not task_id:
            return None
        rows = self._read(
            "SELECT data FROM sessions WHERE task_id = ? ORDER BY created_at, rowid LIMIT 1",
            (task_id,),
        )
        return _load(rows[0][0], self._seal) if rows else None

    def claim_warm(self, session_id: str, **changes: object) -> Session | None:
        check_changes(Session, changes, fixed=("id", "state", "warm"))
        with self._write() as db:
            current = _get(db, session_id, self._seal)
            if current is None or current.state not in RUNNING or not current.warm:
                return None
            claimed = Session.model_validate({**current.model_dump(), **changes, "warm": False})
            _update(db, claimed, current.state, self._seal)
            return claimed

    # -- the session proxy (sqlite_routes.py) ---------------------------------------------

    def route(self, session_id: str) -> SessionRoute | None:
        with self._lock:
            return routes.route(self._db, session_id)

    def record_activity(self, session_id: str, at: float) -> bool:
        with self._write() as db:
            return routes.record_activity(db, session_id, at)

    # -- images ---------------------------------------------------------------------------

    def get_image(self, name: str) -> Image | None:
        rows = self._read("SELECT data FROM images WHERE name = ?", (name,))
        return Image.model_validate_json(rows[0][0]) if rows else None

    def claim_build(self, image: Image) -> bool:
        if image.state is not ImageState.BUILDING:
            raise ValueError(
                f"A build is claimed with an image in state building, not {image.state}."
            )
        with self._write() as db:
            # One statement: insert, or take over a failed build; a building or built record
            # wins, and the upsert then changes no row.
            cursor = db.execute(
                "INSERT INTO images (name, state, data) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET state = excluded.state, data = excluded.data"
                " WHERE images.state = ?",
                (image.name, image.state.value, image.model_dump_json(), ImageState.FAILED.value),
            )
            return cursor.rowcount == 1

    def list_images(self) -> builtins.list[Image]:
        images = [
            Image.model_validate_json(row[0]) for row in self._read("SELECT data FROM images")
        ]
        return sorted(images, key=lambda i: (-i.created_at, i.name))

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
        with self._write() as db:
            row = db.execute("SELECT data FROM images WHERE name = ?", (name,)).fetchone()
            if row is None:
                return None
            current = Image.model_validate_json(row[0])
            if current.state not in allowed:
                return None
            if any(getattr(current, field) != value for field, value in (where or {}).items()):
                return None
            updated = Image.model_validate({**current.model_dump(), **changes, "state": new})
            db.execute(
                "UPDATE images SET state = ?, data = ? WHERE name = ? AND state = ?",
                (updated.state.value, updated.model_dump_json(), name, current.state.value),
            )
            return updated

    # -- events (sqlite_events.py) --------------------------------------------------------

    def create_event(self, event: Event) -> None:
        with self._write() as db:
            events.insert(db, event)

    def get_event(self, slug: str) -> Event | None:
        with self._lock:
            return events.get(self._db, slug)

    def list_events(self) -> builtins.list[Event]:
        with self._lock:
            return events.every(self._db)

    def update_event(self, slug: str, **changes: object) -> Event | None:
        events.check_event_changes(changes)
        with self._write() as db:
            return events.update(db, slug, changes)

    def event_usage(self, slug: str) -> EventUsage:
        with self._lock:
            return events.usage(self._db, slug)

    # -- plumbing -------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        # BEGIN IMMEDIATE takes the database's write lock before the first read, so a check
        # and the write that depends on it see the same data, in every thread and process. A
        # deferred BEGIN would upgrade later and could fail with "database is locked".
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    def _read(self, sql: str, params: Sequence[object] = ()) -> builtins.list[Any]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()


def _admit(db: sqlite3.Connection, session: Session, limits: Limits) -> None:
    """Raise QuotaExceededError when `session` would exceed `limits` (inside the write lock)."""
    active = f"state IN ({_marks(_ACTIVE)})"
    (total,) = db.execute(f"SELECT COUNT(*) FROM sessions WHERE {active}", _ACTIVE).fetchone()
    (for_repo,) = db.execute(
        f"SELECT COUNT(*) FROM sessions WHERE {active} AND repo_key = ?",
        (*_ACTIVE, session.repo_key),
    ).fetchone()
    check_quota(limits, session, total, for_repo)


def _get(db: sqlite3.Connection, session_id: str, seal: TokenSeal) -> Session | None:
    row = db.execute("SELECT data FROM sessions WHERE id = ?", (session_id,)).fetchone()
    return _load(row[0], seal) if row else None


def _load(data: str, seal: TokenSeal) -> Session:
    return seal.opened(Session.model_validate_json(data))


def _update(
    db: sqlite3.Connection, session: Session, current: SessionState, seal: TokenSeal
) -> None:
    # Callers hold the write lock, so the state guard cannot miss; it stays so that the
    # statement is correct on its own.
    db.execute(
        "UPDATE sessions SET state = ?, repo_key = ?, image_name = ?, task_id = ?,"
        " build_only = ?, created_at = ?, data = ?, event = ? WHERE id = ? AND state = ?",
        (*_session_columns(session, seal), session.id, current.value),
    )


def _session_columns(session: Session, seal: TokenSeal) -> tuple[object, ...]:
    return (
        session.state.value,
        session.repo_key,
        session.image_name,
        session.task_id,
        int(session.build_only),
        session.created_at,
        seal.sealed(session).model_dump_json(),
        session.event,
    )


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" * len(values))
