"""The session proxy's store in AWS: the DynamoDB table SKYBINDER_TABLE_NAME names (moto)."""

from __future__ import annotations

from pathlib import Path

from skybinder.adapters.aws.dynamo_store import DynamoSessionStore
from skybinder.adapters.local.sqlite_store import SqliteSessionStore
from skybinder.bootstrap_proxy import proxy_store
from skybinder.domain.model import Session, SessionState


def test_the_table_in_the_environment_is_the_proxys_store(table: str, tmp_path: Path) -> None:
    store = proxy_store(tmp_path, {"SKYBINDER_TABLE_NAME": table})
    assert isinstance(store, DynamoSessionStore)
    store.create(Session(id="abc", provider="gh", spec="u/r/x", state=SessionState.READY,
                         address="10.0.3.7:8888"))  # fmt: skip
    route = store.route("abc")
    assert route is not None and route.routable and route.address == "10.0.3.7:8888"
    assert store.record_activity("abc", 1.5) and store.get("abc").last_activity == 1.5  # type: ignore[union-attr]
    assert not list(tmp_path.iterdir())  # no local file made


def test_without_a_table_it_is_the_local_binders_sqlite_store(tmp_path: Path) -> None:
    store = proxy_store(tmp_path, {})
    assert isinstance(store, SqliteSessionStore)
    store.close()
    assert (tmp_path / "skybinder.sqlite").exists()
