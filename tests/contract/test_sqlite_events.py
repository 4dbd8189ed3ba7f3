"""What only the SQLite store promises for events beyond the contract: data files from before
events keep working, and admission and settlement hold across processes."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from skybinder.adapters.local.sqlite_store import SqliteSessionStore
from skybinder.domain.errors import EventFullError
from skybinder.domain.event import EventUsage
from skybinder.domain.model import ACTIVE, SessionState
from tests.contract.test_event_store import HOUR, T0, H, R, attendee, event

# The sessions table as releases before events wrote it.
_OLD_SCHEMA = """CREATE TABLE sessions (
    id TEXT PRIMARY KEY, state TEXT NOT NULL, repo_key TEXT NOT NULL, image_name TEXT NOT NULL,
    task_id TEXT NOT NULL, build_only INTEGER NOT NULL, created_at REAL NOT NULL,
    data TEXT NOT NULL
)"""
_OLD_SESSION = (
    '{"id": "old", "provider": "gh", "spec": "a/b/main", "state": "ready", "created_at": 5.0}'
)


def test_a_data_file_from_before_events_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "skybinder.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(_OLD_SCHEMA)
        db.execute(
            "INSERT INTO sessions VALUES ('old', 'ready', '', '', '', 0, 5.0, ?)", (_OLD_SESSION,)
        )
    db.close()
    for _ in range(2):  # opening again finds the column there and changes nothing
        store = SqliteSessionStore(path)
        old = store.get("old")
        assert old is not None and (old.state, old.event, old.cost_micros) == ("ready", "", 0)
        store.close()
    store = SqliteSessionStore(path)
    store.create_event(event(seats=1))
    store.create(attendee("new"))
    with pytest.raises(EventFullError):
        store.create(attendee("late"))
    assert store.event_usage("ws") == EventUsage(seats_in_use=1, reserved_micros=R, sessions=1)
    ended = store.transition("old", ACTIVE, SessionState.STOPPED, ended_at=10.0)
    assert ended is not None and ended.cost_micros == 0
    assert [s.id for s in store.list(ACTIVE)] == ["new"]
    store.close()
    with sqlite3.connect(path) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(sessions)")]
        indexes = {row[1] for row in db.execute("PRAGMA index_list(sessions)")}
    db.close()
    assert columns.count("event") == 1 and "sessions_event" in indexes


_PROCESS = """
import sys, time
from pathlib import Path
from skybinder.adapters.local.sqlite_store import SqliteSessionStore
from skybinder.domain.errors import BudgetExhaustedError, EventFullError
from skybinder.domain.model import ACTIVE, Session, SessionState
path, name, settle = Path(sys.argv[1]), sys.argv[2], sys.argv[3] == "settle"
hourly, t0 = int(sys.argv[4]), float(sys.argv[5])
store = SqliteSessionStore(path)
(path.parent / f"ready-{name}").touch()
while not (path.parent / "go").exists():
    time.sleep(0.001)
admitted = 0
for i in range(10):
    session = Session(
        id=f"{name}-{i}", provider="gh", spec="a/b/abc", event="ws", hourly_micros=hourly,
        reserved_micros=hourly, state=SessionState.LAUNCHING, launched_at=t0,
    )
    try:
        store.create(session)
    except (BudgetExhaustedError, EventFullError):
        continue
    admitted += 1
    if settle:  # it runs its whole worst case, then ends
        store.transition(session.id, ACTIVE, SessionState.STOPPED, ended_at=t0 + 3600)
print(admitted)
"""


def race_processes(path: Path, settle: bool, n: int = 4) -> int:
    """Run n processes that each try 10 launches of event `ws` at once; how many got in."""
    names = [f"p{i}" for i in range(n)]
    mode = "settle" if settle else "hold"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _PROCESS, str(path), name, mode, str(H), str(T0)],
            stdout=subprocess.PIPE,
        )
        for name in names
    ]
    deadline = time.monotonic() + 60
    while not all((path.parent / f"ready-{name}").exists() for name in names):
        assert time.monotonic() < deadline, "workers did not start"
        time.sleep(0.01)
    (path.parent / "go").touch()
    outputs = [proc.communicate(timeout=60)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * n
    return sum(int(out) for out in outputs)


def test_processes_racing_for_the_last_seats_admit_exactly_the_seats(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SqliteSessionStore(path)
    store.create_event(event(seats=7, budget_micros=100 * R))
    assert race_processes(path, settle=False) == 7
    assert store.event_usage("ws") == EventUsage(seats_in_use=7, reserved_micros=7 * R, sessions=7)
    store.close()


def test_processes_racing_for_the_last_dollars_spend_exactly_the_budget(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SqliteSessionStore(path)
    budget = 9 * R + R // 2
    store.create_event(event(seats=100, budget_micros=budget))
    assert race_processes(path, settle=True) == 9
    usage = store.event_usage("ws")
    assert usage == EventUsage(spent_micros=9 * R, sessions=9)
    assert usage.spent_micros <= budget
    assert sum(s.cost_micros for s in store.list() if s.event == "ws") == 9 * R
    assert all(s.ended_at == T0 + HOUR for s in store.list())
    store.close()
