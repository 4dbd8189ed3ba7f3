"""RateLimiter on a SQLite table, safe to share between threads and processes.

The table `rate_windows` may live in the store's own file (pass the same path as to
SqliteSessionStore: one file per data directory) or in a file of its own; the limiter opens its
own connection either way, and WAL lets it write beside the store.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from skybinder.service.ports import RateLimitResult

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS rate_windows (
        key TEXT PRIMARY KEY,
        count INTEGER NOT NULL,
        reset INTEGER NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS rate_windows_reset ON rate_windows (reset)",
)
# One statement counts the attempt, or opens the next window when the stored one has ended:
# SQLite runs it atomically, and every CASE reads the row as it was before the statement.
_COUNT = """
INSERT INTO rate_windows (key, count, reset) VALUES (:key, 1, :reset)
ON CONFLICT (key) DO UPDATE SET
    count = CASE WHEN rate_windows.reset <= :now THEN 1 ELSE rate_windows.count + 1 END,
    reset = CASE WHEN rate_windows.reset <= :now THEN excluded.reset ELSE rate_windows.reset END
RETURNING count, reset
"""


class SqliteRateLimiter:
    """Fixed windows, one row per key; ended windows are deleted every `clean_interval`."""

    def __init__(
        self, path: Path, *, busy_timeout_ms: int = 30_000, clean_interval: float = 600.0
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            path,
            isolation_level=None,  # autocommit: each statement is its own transaction
            check_same_thread=False,
            timeout=busy_timeout_ms / 1000,
        )
        self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        self._db.execute("PRAGMA journal_mode = WAL")
        with self._lock:
            for statement in _SCHEMA:
                self._db.execute(statement)
        self._clean_interval = clean_interval
        self._cleaned_at: float | None = None

    def close(self) -> None:
        """Close the connection; the limiter cannot be used afterwards. Idempotent."""
        with self._lock:
            self._db.close()

    def check(self, key: str, limit: int, window_seconds: int, now: float) -> RateLimitResult:
        RateLimitResult.check_arguments(key, limit, window_seconds)
        if limit == 0:
            return RateLimitResult.unlimited(now)
        params = {"key": key, "reset": int(now) + window_seconds, "now": now}
        with self._lock:
            # fetchall() steps the statement to its end, which commits it.
            ((count, reset),) = self._db.execute(_COUNT, params).fetchall()
            self._clean(now)
        return RateLimitResult.of(count, reset, limit=limit, now=now)

    def attempts(self, key: str, now: float) -> tuple[int, int]:
        with self._lock:
            row = self._db.execute(
                "SELECT count, reset FROM rate_windows WHERE key = ? AND reset > ?", (key, now)
            ).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def _clean(self, now: float) -> None:
        # Like BinderHub's clean_seconds: forget ended windows now and then, so that the table
        # holds only the addresses seen within the last window.
        if self._cleaned_at is not None and now - self._cleaned_at < self._clean_interval:
            return
        self._cleaned_at = now
        self._db.execute("DELETE FROM rate_windows WHERE reset <= ?", (now,))
