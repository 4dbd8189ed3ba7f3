"""What SqliteRateLimiter does beyond the RateLimiter contract: where its file may live, and the
ended windows it forgets every `clean_interval` (so the table holds recent addresses only)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from skybinder.adapters.local.sqlite_rate_limit import SqliteRateLimiter

T0 = 1_800_000_000.0


def keys(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return [row[0] for row in db.execute("SELECT key FROM rate_windows ORDER BY key")]


def test_the_file_may_live_in_directories_not_made_yet(tmp_path: Path) -> None:
    path = tmp_path / "data" / "limits" / "rate.db"
    limiter = SqliteRateLimiter(path)
    assert limiter.check("a", 1, 60, T0).allowed
    limiter.close()
    assert keys(path) == ["a"]


def test_ended_windows_are_forgotten_once_per_clean_interval(tmp_path: Path) -> None:
    path = tmp_path / "rate.db"
    limiter = SqliteRateLimiter(path, clean_interval=100)
    limiter.check("a", 5, 10, T0)  # the first check cleans (nothing yet); a's window ends T0+10
    limiter.check("b", 5, 500, T0 + 50)
    assert keys(path) == ["a", "b"], "within the interval ended windows stay"
    limiter.check("c", 5, 500, T0 + 100)  # an interval after the last clean: clean again
    assert keys(path) == ["b", "c"]
    limiter.check("d", 5, 10, T0 + 150)
    limiter.check("e", 5, 10, T0 + 185)
    assert keys(path) == ["b", "c", "d", "e"], "d and e ended, but the interval has not"
    limiter.check("f", 5, 10, T0 + 200)
    assert keys(path) == ["b", "c", "f"]
    limiter.close()


def test_a_key_whose_window_ended_starts_counting_again(tmp_path: Path) -> None:
    limiter = SqliteRateLimiter(tmp_path / "rate.db", clean_interval=10**9)
    assert [limiter.check("a", 1, 10, T0 + s).allowed for s in (0, 5, 10, 11)] == [
        True, False, True, False,
    ]  # fmt: skip
    limiter.close()
