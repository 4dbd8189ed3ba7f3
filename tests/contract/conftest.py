"""What the SessionStore contract suites share: a store of each kind (fake, SQLite, DynamoDB on
moto) and helpers for racing threads."""

from __future__ import annotations

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
from tests.threads import race

T = TypeVar("T")
Store = FakeSessionStore | SqliteSessionStore | DynamoSessionStore
__all__ = ["race"]  # the suites' helper for racing threads, from tests/threads.py


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
