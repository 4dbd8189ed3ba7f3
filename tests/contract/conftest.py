"""What the SessionStore contract suites share: a store of each kind (fake, SQLite, DynamoDB on
moto) and helpers for racing threads."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TypeVar

import pytest

from skybinder.adapters.aws.dynamo_schema import create_table
from skybinder.adapters.aws.dynamo_store import DynamoSessionStore
from skybinder.adapters.local.sqlite_store import SqliteSessionStore
from skybinder.domain.model import Session
from tests.aws.conftest import TABLE, mocked_aws
from tests.aws.conftest import client as aws_client
from tests.fakes import FakeSessionStore

T = TypeVar("T")
Store = FakeSessionStore | SqliteSessionStore | DynamoSessionStore


@pytest.fixture(params=["fake", "sqlite", "dynamo"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Store]]:
    """Opens a handle on one shared store: the same fake, a new connection to one SQLite file,
    or a new client of one DynamoDB table (moto)."""
    opened: list[Store] = []
    fake = FakeSessionStore()

    def open_one() -> Store:
        store: Store
        if request.param == "fake":
            store = fake
        elif request.param == "sqlite":
            store = SqliteSessionStore(tmp_path / "s.db")
        else:
            store = DynamoSessionStore(aws_client("dynamodb"), TABLE)
        opened.append(store)
        return store

    with ExitStack() as stack:
        if request.param == "dynamo":
            stack.enter_context(mocked_aws())
            create_table(aws_client("dynamodb"), TABLE)
        yield open_one
        for store in opened:
            store.close()


@pytest.fixture
def store(open_store: Callable[[], Store]) -> Store:
    return open_store()


# Concurrency runs on one handle shared by threads, or on two handles of one store.
HANDLES = pytest.mark.parametrize("handles", [1, 2], ids=["one-handle", "two-handles"])


def handles_of(store: Store, open_store: Callable[[], Store], n: int) -> list[Store]:
    return [store] if n == 1 else [store, open_store()]


def must(found: T | None) -> T:
    assert found is not None
    return found


def got(store: Store, session_id: str) -> Session:
    return must(store.get(session_id))


def race(n: int, work: Callable[[int], T]) -> list[T | Exception]:
    """Run work(0..n-1) in n threads released together; results or raised errors, in order."""
    barrier = threading.Barrier(n)
    results: list[T | Exception] = [RuntimeError("did not run")] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as error:
            results[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    # Switch threads as often as the interpreter can, so that an unguarded check-then-write
    # in the fake is interleaved too (the default 5 ms lets each thread finish alone).
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    return results
