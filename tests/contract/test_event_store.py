"""The SessionStore's event contract (records, admission, settlement, usage, warm sessions),
run against the fake, SQLite and DynamoDB (on moto) stores; races: test_event_races.py."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from skybinder.domain.errors import (
    BudgetExhaustedError,
    EventClosedError,
    EventFullError,
    EventNotFoundError,
)
from skybinder.domain.event import Event, EventUsage
from skybinder.domain.model import ACTIVE, TERMINAL, CapacityPolicy, Session, SessionState
from skybinder.domain.pricing import cost_micros
from tests.contract.conftest import Store, got, must

S = SessionState
T0 = 1_800_000_000.0
HOUR = 3600.0
H = 60_000  # a session's price per hour, in micro-dollars
R = H  # what one session reserves: an hour (the event's max minutes) at that price
_clock = itertools.count(1_000)


def event(slug: str = "ws", **fields: Any) -> Event:
    values: dict[str, Any] = {
        "title": "Python workshop", "provider": "gh", "spec": "a/b/main",
        "resolved_spec": "a/b/abc", "starts_at": T0, "ends_at": T0 + 8 * HOUR, "seats": 3,
        "budget_micros": 10 * R, "capacity": CapacityPolicy.SPOT, "cpu": 1.0,
        "memory_gb": 2.0, "max_minutes": 60, "spot_hourly_micros": H,
        "on_demand_hourly_micros": 2 * H, "reserve_micros": R, "created_at": T0 - HOUR,
    }  # fmt: skip
    return Event(slug=slug, **{**values, **fields})


def attendee(id: str, slug: str = "ws", **fields: Any) -> Session:
    """An admitted-to-be session of event `slug`, holding one worst case; created in order."""
    values: dict[str, Any] = {
        "provider": "gh", "spec": "a/b/abc", "repo_key": "github.com/a/b",
        "image_name": "skybinder-a-b:abc", "event": slug, "hourly_micros": H,
        "reserved_micros": R, "created_at": float(next(_clock)),
    }  # fmt: skip
    return Session(id=id, **{**values, **fields})


def running(id: str, slug: str = "ws", **fields: Any) -> Session:
    """An attendee whose server was asked for at T0 (billing starts there)."""
    return attendee(id, slug, state=S.LAUNCHING, launched_at=T0, **fields)


def end(store: Store, session_id: str, seconds: float, state: SessionState = S.STOPPED) -> Session:
    """End a session `seconds` after T0, from any active state."""
    return must(store.transition(session_id, ACTIVE, state, ended_at=T0 + seconds))


# -- event records ------------------------------------------------------------------------


def test_an_event_round_trips_every_field(store: Store) -> None:
    full = event(
        repo_url="https://github.com/a/b", ref="abc", ref_url="https://github.com/a/b/tree/abc",
        repo_key="github.com/a/b", image_name="img:abc", access_code_hash="f" * 64,
        warm_pool=2, closed_at=T0 + 5, prebuild_session="b1",
    )  # fmt: skip
    assert full.model_fields_set == set(Event.model_fields), "set every field"
    store.create_event(full)
    assert store.get_event("ws") == full
    assert store.get_event("nope") is None


def test_an_event_session_round_trips_every_field(store: Store) -> None:
    store.create_event(event())
    full = attendee(
        "s1", state=S.READY, reason="r", status_code=200, repo_url="https://github.com/a/b",
        ref="abc", ref_url="u", resolved_spec="a/b/abc", build_only=False, notices=["n"],
        token="t", task_id="task-1", address="10.0.0.1:8888", image_found=True, url="https://x/s/s1/",
        client_ip="1.2.3.4", launch_host="https://x", resume_hash="h", build_token=True,
        warm=True, cost_micros=0, capacity="spot", interruptions=1, launched_at=T0,
        env_key="k1", reused_from="https://github.com/a/c@abc", last_activity=T0 + 1,
        updated_at=T0 + 1, ready_at=T0 + 2, ended_at=None,
    )  # fmt: skip
    assert full.model_fields_set == set(Session.model_fields), "set every field"
    store.create(full)
    assert store.get("s1") == full


def test_events_are_listed_by_start_then_slug(store: Store) -> None:
    store.create_event(event("late", starts_at=T0 + 50))
    store.create_event(event("b-early", starts_at=T0))
    store.create_event(event("a-early", starts_at=T0))
    assert [e.slug for e in store.list_events()] == ["a-early", "b-early", "late"]
    store.update_event("late", starts_at=T0 - 50)
    assert [e.slug for e in store.list_events()] == ["late", "a-early", "b-early"]


def test_a_taken_slug_raises_and_keeps_the_first(store: Store) -> None:
    store.create_event(event(title="First"))
    with pytest.raises(ValueError, match="already exists"):
        store.create_event(event(title="Second"))
    assert must(store.get_event("ws")).title == "First"
    assert len(store.list_events()) == 1


def test_update_event_sets_free_fields(store: Store) -> None:
    store.create_event(event())
    updated = store.update_event("ws", title="Renamed", prebuild_session="b1", warm_pool=2)
    assert updated == event(title="Renamed", prebuild_session="b1", warm_pool=2)
    assert store.get_event("ws") == updated
    assert store.update_event("nope", title="x") is None
    assert store.get_event("nope") is None


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"provider": "gl"}, "provider"),
        ({"seats": 300}, "seats"),
        ({"budget_micros": 10**12}, "budget_micros"),
        ({"reserve_micros": 1}, "reserve_micros"),
        ({"spot_hourly_micros": 1}, "spot_hourly_micros"),
        ({"image_name": "other:1"}, "image_name"),
        ({"no_such_field": 1}, "no_such_field"),
        ({"starts_at": "soon"}, "starts_at"),
    ],
)
def test_update_event_refuses_fixed_unknown_and_bad_fields(
    store: Store, changes: dict[str, Any], match: str
) -> None:
    store.create_event(event())
    with pytest.raises(ValueError, match=match):
        store.update_event("ws", title="Changed", **changes)
    assert store.get_event("ws") == event()


def test_closing_keeps_the_first_closing_time(store: Store) -> None:
    store.create_event(event())
    assert must(store.update_event("ws", closed_at=T0 + 10)).closed_at == T0 + 10
    again = must(store.update_event("ws", closed_at=T0 + 99))
    assert again.closed_at == T0 + 10
    assert store.get_event("ws") == again


# -- admission ----------------------------------------------------------------------------


def test_an_unknown_event_admits_nobody(store: Store) -> None:
    with pytest.raises(EventNotFoundError) as refused:
        store.create(attendee("s1", slug="nope"))
    assert (refused.value.message, refused.value.status_code) == ("There is no event 'nope'.", 404)
    assert store.get("s1") is None


def test_a_closed_event_admits_nobody(store: Store) -> None:
    store.create_event(event())
    store.update_event("ws", closed_at=T0)
    with pytest.raises(EventClosedError, match=r"^Python workshop was closed by its organisers\."):
        store.create(attendee("s1"))
    assert store.get("s1") is None


def test_seats_fill_and_an_ended_session_frees_its_seat(store: Store) -> None:
    store.create_event(event(seats=2))
    store.create(running("a1"))
    store.create(attendee("a2"))
    with pytest.raises(EventFullError) as refused:
        store.create(attendee("a3"))
    assert refused.value.message == (
        "This workshop is full — 2 of 2 seats in use. Try again in a few minutes."
    )
    assert refused.value.status_code == 429
    assert store.get("a3") is None
    end(store, "a1", 600)
    store.create(attendee("a3"))
    with pytest.raises(EventFullError, match="2 of 2 seats"):
        store.create(attendee("a4"))


def test_the_budget_admits_while_the_worst_case_fits(store: Store) -> None:
    store.create_event(event(seats=10, budget_micros=2 * R))
    store.create(running("a1"))
    store.create(attendee("a2"))  # remaining == its worst case: admitted
    with pytest.raises(BudgetExhaustedError, match=r"^Python workshop is at its budget limit"):
        store.create(attendee("a3"))
    # a1 spent half its reservation: only the other half comes back, which is not enough.
    assert end(store, "a1", HOUR / 2).cost_micros == R // 2
    with pytest.raises(BudgetExhaustedError):
        store.create(attendee("a3"))
    # a2 never launched: it spent nothing, and its whole reservation comes back.
    assert end(store, "a2", HOUR, S.FAILED).cost_micros == 0
    store.create(attendee("a3"))
    assert store.event_usage("ws").remaining_micros(must(store.get_event("ws"))) == R // 2
    assert store.get("a3") is not None


def test_refused_attempts_and_builds_are_kept_but_hold_nothing(store: Store) -> None:
    store.create_event(event(seats=1, budget_micros=R))
    store.create(attendee("build", build_only=True, reserved_micros=0, hourly_micros=0))
    store.create(attendee("a1"))  # the build held no seat and no money
    refusals = [
        attendee("full", state=S.FAILED, reserved_micros=0, reason="full"),
        attendee("unknown", slug="nope", state=S.FAILED, reserved_micros=0),
    ]
    for refusal in refusals:
        store.create(refusal)
        assert store.get(refusal.id) == refusal
    assert store.event_usage("ws") == EventUsage(seats_in_use=1, reserved_micros=R, sessions=1)
    assert store.event_usage("nope") == EventUsage()


# -- settlement ---------------------------------------------------------------------------


@pytest.mark.parametrize("final", sorted(TERMINAL))
def test_an_ending_settles_exactly_once(store: Store, final: SessionState) -> None:
    store.create_event(event(seats=2))
    store.create(running("a1"))
    store.create(attendee("a2"))
    must(store.transition("a1", [S.LAUNCHING], S.STARTING, task_id="task-1"))
    ended = must(
        # A cost the caller passes is not the store's figure: settlement sets it.
        store.transition("a1", ACTIVE, final, ended_at=T0 + 1800, interruptions=2, cost_micros=1)
    )
    # Half an hour, and the minimum minute of each of the two servers Spot took back.
    cost = cost_micros(H, 1800) + 2 * cost_micros(H, 60)
    assert ended.cost_micros == cost == R // 2 + 2 * (H // 60)
    assert got(store, "a1") == ended
    settled = EventUsage(
        seats_in_use=1, reserved_micros=R, spent_micros=cost, sessions=2, interruptions=2
    )
    assert store.event_usage("ws") == settled
    # A retried ending (a duplicate platform event, a second reaper) finds nothing to do.
    assert store.transition("a1", ACTIVE, final, ended_at=T0 + 7200) is None
    with pytest.raises(ValueError, match="cannot move"):
        store.transition("a1", [final], final, ended_at=T0 + 7200)
    assert got(store, "a1") == ended
    assert store.event_usage("ws") == settled
    store.create(attendee("a3"))  # the seat came back


def test_every_ending_session_is_costed(store: Store) -> None:
    plain = {"event": "", "reserved_micros": 0}
    store.create(running("minute", **plain))
    store.create(running("by-update", **plain))
    store.create(attendee("never", **plain))
    assert end(store, "minute", 10).cost_micros == cost_micros(H, 60) == H // 60
    by_update = store.transition("by-update", ACTIVE, S.STOPPED, updated_at=T0 + 900)
    assert must(by_update).cost_micros == cost_micros(H, 900) == got(store, "by-update").cost_micros
    assert end(store, "never", 900, S.FAILED).cost_micros == 0


def test_usage_counts_admitted_sessions_of_the_event(store: Store) -> None:
    store.create_event(event(seats=10, warm_pool=2))
    store.create_event(event("other"))
    store.create(attendee("queued"))
    store.create(attendee("warm", state=S.READY, warm=True, launched_at=T0))
    store.create(running("warm-starting", warm=True))
    store.create(attendee("claimed", state=S.READY, launched_at=T0, interruptions=1))
    store.create(running("done", interruptions=2))
    end(store, "done", HOUR / 4)
    store.create(attendee("refused", state=S.FAILED, reserved_micros=0, interruptions=5))
    store.create(attendee("build", build_only=True, reserved_micros=0))
    store.create(running("elsewhere", slug="other", interruptions=7))
    store.create(running("no-event", event="", interruptions=9))
    assert store.event_usage("ws") == EventUsage(
        seats_in_use=4, reserved_micros=4 * R, spent_micros=R // 4 + 2 * (H // 60), sessions=5,
        interruptions=2, warm_idle=1,
    )  # fmt: skip
    # An active session's interruptions are counted when it ends, with its cost.
    assert store.event_usage("other") == EventUsage(seats_in_use=1, reserved_micros=R, sessions=1)
    end(store, "elsewhere", 60)
    assert store.event_usage("other") == EventUsage(
        spent_micros=8 * (H // 60), sessions=1, interruptions=7
    )
    assert store.event_usage("nope") == EventUsage()


# -- warm sessions ------------------------------------------------------------------------


def test_claim_warm_hands_a_warm_session_out_once(store: Store) -> None:
    store.create_event(event(seats=5))
    store.create(attendee("warm", state=S.READY, warm=True, launched_at=T0))
    store.create(running("starting", warm=True))
    store.create(attendee("cold", state=S.READY))
    claimed = must(store.claim_warm("warm", client_ip="1.2.3.4", updated_at=T0 + 5))
    assert (claimed.warm, claimed.client_ip, claimed.state) == (False, "1.2.3.4", S.READY)
    assert got(store, "warm") == claimed
    assert store.claim_warm("warm", client_ip="5.6.7.8") is None
    # One still starting is handed out too: its attendee waits for it, not for a new one.
    starting = must(store.claim_warm("starting", client_ip="9.9.9.9"))
    assert (starting.warm, starting.state, starting.client_ip) == (False, S.LAUNCHING, "9.9.9.9")
    assert store.claim_warm("starting") is None
    assert store.claim_warm("cold") is None
    assert store.claim_warm("nope") is None
    assert got(store, "warm").client_ip == "1.2.3.4"
    assert store.event_usage("ws").warm_idle == 0


@pytest.mark.parametrize(
    ("changes", "match"),
    [({"warm": True}, "warm"), ({"state": S.STOPPED}, "state"), ({"id": "x"}, "id"),
     ({"no_such_field": 1}, "no_such_field")],
)  # fmt: skip
def test_claim_warm_refuses_bad_changes(store: Store, changes: dict[str, Any], match: str) -> None:
    store.create_event(event())
    store.create(attendee("warm", state=S.READY, warm=True))
    with pytest.raises(ValueError, match=match):
        store.claim_warm("warm", **changes)
    assert got(store, "warm").warm
