"""What only the SQLite adapters promise beyond their port contracts: a file that survives
reopening, WAL, admission that holds across processes, and a rate limiter that can share the
store's file and forgets ended windows."""

from __future__ import annotations

import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

from skybinder.adapters.local.sqlite_rate_limit import SqliteRateLimiter
from skybinder.adapters.local.sqlite_store import SqliteSessionStore
from skybinder.adapters.local.token_seal import TokenSeal
from skybinder.domain.model import Image, Session, SessionState


def test_sqlite_data_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "s.db"
    original = Session(id="s1", provider="gh", spec="a/b/main", notices=["hi"], created_at=1.0)
    first = SqliteSessionStore(path)
    first.create(original)
    first.claim_build(Image(name="img", build_id="b1"))
    first.close()
    again = SqliteSessionStore(path)
    assert again.get("s1") == original
    assert again.get_image("img") == Image(name="img", build_id="b1")
    again.close()


def test_sqlite_uses_wal(tmp_path: Path) -> None:
    SqliteSessionStore(tmp_path / "s.db").close()
    with sqlite3.connect(tmp_path / "s.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


_PROCESS = """
import sys, time
from pathlib import Path
from skybinder.adapters.local.sqlite_rate_limit import SqliteRateLimiter
from skybinder.adapters.local.sqlite_store import SqliteSessionStore
from skybinder.domain.errors import QuotaExceededError
from skybinder.domain.model import Limits, Session
path, name = Path(sys.argv[1]), sys.argv[2]
store = SqliteSessionStore(path)
(path.parent / f"ready-{name}").touch()
while not (path.parent / "go").exists():
    time.sleep(0.001)
admitted = 0
for i in range(20):
    try:
        s = Session(id=f"{name}-{i}", provider="gh", spec="a/b/main", repo_key="a/b")
        store.create(s, Limits(max_sessions_per_repo=7))
        admitted += 1
    except QuotaExceededError:
        pass
print(admitted)
"""


def test_sqlite_processes_racing_creates_admit_exactly_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    SqliteSessionStore(path).close()
    names = [f"p{i}" for i in range(4)]
    procs = [
        subprocess.Popen([sys.executable, "-c", _PROCESS, str(path), name], stdout=subprocess.PIPE)
        for name in names
    ]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready-{name}").exists() for name in names):
        assert time.monotonic() < deadline, "workers did not start"
        time.sleep(0.01)
    (tmp_path / "go").touch()
    outputs = [proc.communicate(timeout=60)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 4
    assert sum(int(out) for out in outputs) == 7


def test_the_rate_limiter_shares_the_store_file(tmp_path: Path) -> None:
    path = tmp_path / "skybinder.sqlite"
    store, limiter = SqliteSessionStore(path), SqliteRateLimiter(path)
    store.create(Session(id="s1", provider="gh", spec="a/b/main"))
    assert [limiter.check("ip", 1, 60, 100.0).allowed for _ in range(2)] == [True, False]
    assert store.get("s1") is not None
    limiter.close()
    store.close()
    with sqlite3.connect(path) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"sessions", "images", "rate_windows"} <= tables


def test_the_rate_limiter_forgets_ended_windows(tmp_path: Path) -> None:
    path = tmp_path / "limits.sqlite"
    limiter = SqliteRateLimiter(path, clean_interval=600)
    for i in range(20):
        limiter.check(f"10.0.0.{i}", 5, 60, 1_000.0)
    limiter.check("late", 5, 3600, 1_100.0)  # the 20 have ended, but cleaning waits 600 s
    limiter.check("later", 5, 3600, 1_700.0)  # 600 s on: the 20 ended windows go
    limiter.close()
    with sqlite3.connect(path) as db:
        keys = sorted(row[0] for row in db.execute("SELECT key FROM rate_windows"))
    assert keys == ["late", "later"]


def test_the_file_is_its_owners_alone_and_holds_no_clear_session_token(tmp_path: Path) -> None:
    path = tmp_path / "data" / "skybinder.sqlite"
    store = SqliteSessionStore(path)
    token = "jupyter-token-that-stays-sealed"
    store.create(Session(id="s1", provider="gh", spec="a/b/main", token=token))
    store.transition("s1", [SessionState.QUEUED], SessionState.BUILDING)
    assert store.get("s1").token == token  # type: ignore[union-attr]
    assert [s.token for s in store.list()] == [token]
    store.close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(FULL)")
    raw = b"".join(p.read_bytes() for p in path.parent.glob("skybinder.sqlite*"))
    assert token.encode() not in raw and b"sealed:v1:" in raw
    for name in ("skybinder.sqlite", "store-key"):
        assert stat.S_IMODE((path.parent / name).stat().st_mode) == 0o600
    again = SqliteSessionStore(path)  # the key is kept: the token opens after a restart
    assert again.get("s1").token == token  # type: ignore[union-attr]
    again.close()
    other = SqliteSessionStore(path, token_key=bytes(32))  # the file alone opens nothing
    assert other.get("s1").token == ""  # type: ignore[union-attr]
    other.close()


def test_a_sealed_token_opens_only_on_its_own_session(tmp_path: Path) -> None:
    seal = TokenSeal(bytes(range(32)))
    sealed = seal.seal("s1", "tok")
    assert sealed != seal.seal("s1", "tok")  # a fresh nonce each time
    assert seal.open("s1", sealed) == "tok"
    assert seal.open("s2", sealed) == ""  # copied onto another row: nothing
    assert seal.open("s1", "plain-from-an-older-file") == "plain-from-an-older-file"
    assert seal.seal("s1", "") == ""
