"""The session proxy's part of the SessionStore contract (the route read and the activity
record), run against the fake, SQLite and DynamoDB (on moto) stores."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from skybinder.domain.model import ACTIVE, TERMINAL, Session, SessionRoute, SessionState
from tests.contract.conftest import HANDLES, Store, got, handles_of, race
from tests.contract.test_session_store import session

S = SessionState


def test_a_route_is_a_narrow_read_of_the_session(store: Store) -> None:
    store.create(
        session("r1", state=S.READY, address="127.0.0.1:4000", token="secret", reason="", event="")
    )
    route = store.route("r1")
    assert route == SessionRoute(
        id="r1", state=S.READY, address="127.0.0.1:4000", provider="gh", spec="a/b/main"
    )
    assert route is not None and route.routable and "secret" not in route.model_dump_json()


def test_the_route_of_an_unknown_session_is_none(store: Store) -> None:
    assert store.route("nope") is None


@pytest.mark.parametrize("state", sorted(ACTIVE | TERMINAL))
def test_only_starting_ready_and_stopping_sessions_with_an_address_are_routed(
    store: Store, state: SessionState
) -> None:
    store.create(session("r2", state=state, address="127.0.0.1:4000"))
    store.create(session("r3", state=state))
    assert got_route(store, "r2").routable == (state in {S.STARTING, S.READY, S.STOPPING})
    assert not got_route(store, "r3").routable


def test_an_ended_route_keeps_its_reason_and_launch_link(store: Store) -> None:
    store.create(session("r4", state=S.READY, address="127.0.0.1:4000"))
    store.transition("r4", {S.READY}, S.STOPPED, reason="idle: no activity for 10 minutes")
    route = got_route(store, "r4")
    assert (route.state, route.reason, route.address) == (
        S.STOPPED,
        "idle: no activity for 10 minutes",
        "127.0.0.1:4000",
    )
    assert not route.routable and route.launch_path() == "/v2/gh/a/b/main"


def test_activity_moves_forward_only(store: Store) -> None:
    store.create(session("a1", state=S.READY, address="h:1"))
    assert store.record_activity("a1", 100.5)
    assert got(store, "a1").last_activity == 100.5
    assert not store.record_activity("a1", 90.0)  # a late write from another proxy
    assert not store.record_activity("a1", 100.5)
    assert store.record_activity("a1", 160.25)
    assert got(store, "a1").last_activity == 160.25


def test_activity_of_unknown_and_ended_sessions_is_not_written(store: Store) -> None:
    assert not store.record_activity("nope", 1.0)
    store.create(session("a2", state=S.READY, address="h:1"))
    store.transition("a2", {S.READY}, S.STOPPED, reason="done")
    assert not store.record_activity("a2", 5.0)
    assert got(store, "a2").last_activity is None
    assert store.route("nope") is None  # and it created nothing


def test_activity_changes_no_other_field(store: Store) -> None:
    before = session("a3", state=S.READY, address="h:1", token="t", url="https://x/s/a3/")
    store.create(before)
    store.record_activity("a3", 42.0)
    assert got(store, "a3") == before.model_copy(update={"last_activity": 42.0})


@HANDLES
def test_activity_and_transitions_race_without_losing_either(
    store: Store, open_store: Callable[[], Store], handles: int
) -> None:
    stores = handles_of(store, open_store, handles)
    store.create(session("a4", state=S.READY, address="h:1"))

    def work(i: int) -> object:
        mine = stores[i % len(stores)]
        if i % 2:
            return mine.record_activity("a4", 1000.0 + i)
        return mine.transition("a4", {S.READY}, S.READY, updated_at=float(i))

    results = race(8, work)
    assert not any(isinstance(r, Exception) for r in results), results
    final = got(store, "a4")
    assert final.state == S.READY and final.last_activity == 1007.0  # the latest, kept
    # and every transition wrote: the last of them holds one of their values
    assert final.updated_at in {0.0, 2.0, 4.0, 6.0}


def got_route(store: Store, session_id: str) -> SessionRoute:
    route = store.route(session_id)
    assert route is not None
    return route


def test_a_session_round_trips_through_its_route() -> None:
    full = Session(id="x", provider="gh", spec="a/b", state=S.READY, address="h:1", event="ev")
    assert SessionRoute.of(full).launch_path() == "/e/ev"
