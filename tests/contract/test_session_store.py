"""The SessionStore contract, run against the fake, SQLite and DynamoDB (on moto) stores."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from skybinder.domain.errors import QuotaExceededError
from skybinder.domain.model import (
    ACTIVE,
    TERMINAL,
    Image,
    ImageState,
    Limits,
    Session,
    SessionState,
)
from tests.contract.conftest import HANDLES, Store, got, handles_of, must, race

S = SessionState
FULL = "Too many users on this BinderHub! Try again soon."
_clock = itertools.count(1_000)


def session(id: str, **fields: Any) -> Session:
    """A resolved session of repository a/b; created_at increases with every call."""
    values: dict[str, Any] = {
        "provider": "gh",
        "spec": "a/b/main",
        "repo_url": "https://github.com/a/b",
        "repo_key": "github.com/a/b",
        "image_name": "skybinder-a-b:abc",
        "created_at": float(next(_clock)),
    }
    return Session(id=id, **{**values, **fields})


# -- create and get -----------------------------------------------------------------------


def test_round_trip_keeps_every_field(store: Store) -> None:
    full = Session(
        id="s1", provider="gh", spec="a/b/main", state=S.READY, reason="r", status_code=200,
        repo_url="https://github.com/a/b", ref="abc", ref_url="https://github.com/a/b/tree/abc",
        resolved_spec="a/b/abc", repo_key="github.com/a/b", image_name="img:abc",
        build_only=True, notices=["n1", "n2"], token="t", task_id="task-1",
        address="10.0.0.1:8888", image_found=True, url="https://x/s/s1/", client_ip="1.2.3.4",
        launch_host="https://x", resume_hash="h", build_token=True, created_at=1.25,
        updated_at=2.5, ready_at=3.75, ended_at=4.125,
        # An event's session joins its event (test_event_store.py); its figures do not need one.
        event="", warm=True, hourly_micros=7, reserved_micros=8, cost_micros=9,
        capacity="spot", interruptions=2, launched_at=3.5, env_key="k1",
        reused_from="https://github.com/a/c@abc", last_activity=3.875,
    )  # fmt: skip
    assert full.model_fields_set == set(Session.model_fields), "set every field"
    store.create(full)
    assert store.get("s1") == full


def test_get_unknown_is_none(store: Store) -> None:
    assert store.get("nope") is None


def test_duplicate_id_raises_and_keeps_the_first(store: Store) -> None:
    store.create(session("s1", spec="first"))
    with pytest.raises(ValueError, match="already exists"):
        store.create(session("s1", spec="second"))
    assert got(store, "s1").spec == "first"


def test_store_keeps_its_own_copies(store: Store) -> None:
    original = session("s1", notices=["a"])
    store.create(original)
    original.notices.append("changed by caller")
    got(store, "s1").notices.append("changed by reader")
    assert got(store, "s1").notices == ["a"]


# -- transition ---------------------------------------------------------------------------


def test_transition_moves_and_applies_changes(store: Store) -> None:
    store.create(session("s1"))
    moved = store.transition("s1", [S.QUEUED], S.BUILDING, reason="building", updated_at=9.0)
    assert moved is not None
    assert (moved.state, moved.reason, moved.updated_at) == (S.BUILDING, "building", 9.0)
    assert store.get("s1") == moved


def test_transition_from_an_unexpected_state_changes_nothing(store: Store) -> None:
    store.create(session("s1"))
    before = store.get("s1")
    assert store.transition("s1", [S.BUILDING, S.BUILT], S.LAUNCHING, reason="x") is None
    assert store.get("s1") == before
    assert store.transition("missing", [S.QUEUED], S.BUILDING) is None


def test_transition_accepts_any_iterable_and_self_moves(store: Store) -> None:
    store.create(session("s1"))
    moved = store.transition("s1", (s for s in [S.QUEUED]), S.QUEUED, reason="waiting")
    assert moved is not None and (moved.state, moved.reason) == (S.QUEUED, "waiting")


def test_transition_updates_indexed_fields(store: Store) -> None:
    store.create(session("s1"))
    store.transition("s1", [S.QUEUED], S.BUILDING, image_name="other:1", task_id="t-9")
    assert [s.id for s in store.list(image_name="other:1")] == ["s1"]
    assert store.list(image_name="skybinder-a-b:abc") == []
    assert [s.id for s in store.list([S.BUILDING])] == ["s1"]
    assert must(store.find_by_task("t-9")).id == "s1"


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"status_code": "not a number"}, "status_code"),
        ({"no_such_field": 1}, "no_such_field"),
        ({"id": "other"}, "id"),
        ({"state": S.READY}, "state"),
    ],
)
def test_transition_rejects_bad_changes(store: Store, changes: dict[str, Any], match: str) -> None:
    store.create(session("s1"))
    before = store.get("s1")
    with pytest.raises(ValueError, match=match):
        store.transition("s1", [S.QUEUED], S.BUILDING, **changes)
    assert store.get("s1") == before


def test_a_move_the_state_machine_forbids_raises(store: Store) -> None:
    store.create(session("s1"))
    with pytest.raises(ValueError, match="cannot move from queued to ready"):
        store.transition("s1", [S.QUEUED], S.READY)
    assert got(store, "s1").state == S.QUEUED


@pytest.mark.parametrize("end", sorted(TERMINAL))
def test_terminal_sessions_never_move(store: Store, end: SessionState) -> None:
    store.create(session("s1", state=end))
    assert store.transition("s1", ACTIVE, S.FAILED) is None
    for new in (end, S.FAILED, S.QUEUED):
        with pytest.raises(ValueError, match="cannot move"):
            store.transition("s1", [end], new)
    assert got(store, "s1").state == end


# -- list and find_by_task ----------------------------------------------------------------


def test_list_filters_and_orders_by_created_at(store: Store) -> None:
    store.create(session("late", created_at=30.0))
    store.create(session("early", created_at=10.0, image_name="other:1"))
    store.create(session("middle", created_at=20.0, state=S.READY))
    store.create(session("tie", created_at=20.0))
    assert [s.id for s in store.list()] == ["early", "middle", "tie", "late"]
    assert [s.id for s in store.list([S.QUEUED])] == ["early", "tie", "late"]
    assert [s.id for s in store.list([S.READY, S.BUILT])] == ["middle"]
    assert [s.id for s in store.list(image_name="skybinder-a-b:abc")] == ["middle", "tie", "late"]
    assert [s.id for s in store.list([S.QUEUED], "other:1")] == ["early"]
    assert store.list([]) == []


def test_find_by_task(store: Store) -> None:
    store.create(session("s1", task_id="t-1"))
    store.create(session("s2"))
    assert store.find_by_task("t-1") == store.get("s1")
    assert store.find_by_task("t-2") is None
    assert store.find_by_task("") is None  # s2 has no task, it is not "the task ''"


# -- admission ----------------------------------------------------------------------------


def test_global_limit(store: Store) -> None:
    store.create(session("s1"), Limits(max_sessions=2))
    store.create(
        session("s2", repo_key="other", repo_url="https://x/other"), Limits(max_sessions=2)
    )
    with pytest.raises(QuotaExceededError) as refused:
        store.create(session("s3", repo_key="third"), Limits(max_sessions=2))
    assert (refused.value.message, refused.value.status_code) == (FULL, 429)
    assert store.get("s3") is None


def test_per_repo_limit_counts_every_ref_of_the_repo(store: Store) -> None:
    limits = Limits(max_sessions_per_repo=2)
    store.create(session("s1", ref="main"), limits)
    store.create(session("s2", ref="dev", image_name="skybinder-a-b:def"), limits)
    with pytest.raises(QuotaExceededError) as refused:
        store.create(session("s3", ref="v1"), limits)
    assert refused.value.message == "Too many users running https://github.com/a/b! Try again soon."
    store.create(session("s4", repo_key="github.com/c/d"), limits)
    assert store.get("s3") is None and store.get("s4") is not None


def test_per_repo_message_falls_back_to_repo_key(store: Store) -> None:
    store.create(session("s1", repo_url=""), Limits(max_sessions_per_repo=1))
    with pytest.raises(QuotaExceededError, match=r"^Too many users running github.com/a/b! "):
        store.create(session("s2", repo_url=""), Limits(max_sessions_per_repo=1))


def test_global_limit_is_checked_first(store: Store) -> None:
    store.create(session("s1"))
    with pytest.raises(QuotaExceededError, match=FULL):
        store.create(session("s2"), Limits(max_sessions=1, max_sessions_per_repo=1))


def test_build_only_sessions_are_counted_and_ended_ones_are_not(store: Store) -> None:
    limits = Limits(max_sessions=1, max_sessions_per_repo=1)
    store.create(session("b1", build_only=True), limits)
    with pytest.raises(QuotaExceededError, match=FULL):
        store.create(session("b2", build_only=True), limits)
    store.transition("b1", [S.QUEUED], S.BUILT)
    store.transition("b1", [S.BUILT], S.STOPPED)
    store.create(session("stopped", state=S.STOPPED), limits)
    store.create(session("failed"), limits)
    store.transition("failed", [S.QUEUED], S.FAILED)
    store.create(session("s1"), limits)
    with pytest.raises(QuotaExceededError):
        store.create(session("s2"), limits)


def test_build_only_sessions_are_refused_when_the_limits_are_reached(store: Store) -> None:
    store.create(session("s1"), Limits(max_sessions=1))
    with pytest.raises(QuotaExceededError, match=FULL):
        store.create(session("b1", build_only=True), Limits(max_sessions=1))
    with pytest.raises(QuotaExceededError, match=r"running https://github\.com/a/b!"):
        store.create(session("b2", build_only=True), Limits(max_sessions_per_repo=1))
    store.create(session("b3", build_only=True), Limits(max_sessions=2, max_sessions_per_repo=2))
    store.create(session("b4", build_only=True))
    assert store.get("b1") is None and store.get("b2") is None
    assert [s.id for s in store.list(ACTIVE)] == ["s1", "b3", "b4"]


@pytest.mark.parametrize("limits", [None, Limits(), Limits(max_sessions=0)])
def test_zero_or_no_limits_admit_everyone(store: Store, limits: Limits | None) -> None:
    for i in range(12):
        store.create(session(f"s{i}"), limits)
    assert len(store.list(ACTIVE)) == 12


# -- images -------------------------------------------------------------------------------


def test_claim_build_first_wins(store: Store) -> None:
    assert store.claim_build(Image(name="img", build_id="b1"))
    assert not store.claim_build(Image(name="img", build_id="b2"))
    assert store.get_image("img") == Image(name="img", build_id="b1")
    assert store.get_image("other") is None


def test_a_failed_build_can_be_reclaimed_a_built_one_cannot(store: Store) -> None:
    store.claim_build(Image(name="bad", build_id="b1"))
    store.update_image("bad", [ImageState.BUILDING], ImageState.FAILED, reason="oops")
    assert store.claim_build(Image(name="bad", build_id="b2"))
    assert store.get_image("bad") == Image(name="bad", build_id="b2")
    store.claim_build(Image(name="good", build_id="b1"))
    store.update_image("good", [ImageState.BUILDING], ImageState.BUILT)
    assert not store.claim_build(Image(name="good", build_id="b3"))
    assert store.get_image("good") == Image(name="good", build_id="b1", state=ImageState.BUILT)


def test_claim_build_needs_a_building_image(store: Store) -> None:
    with pytest.raises(ValueError, match="building"):
        store.claim_build(Image(name="img", state=ImageState.BUILT))
    assert store.get_image("img") is None


def test_update_image_is_conditional(store: Store) -> None:
    store.claim_build(Image(name="img", build_id="b1"))
    assert store.update_image("img", [ImageState.BUILT], ImageState.FAILED) is None
    assert store.update_image("missing", [ImageState.BUILDING], ImageState.BUILT) is None
    done = store.update_image("img", [ImageState.BUILDING], ImageState.BUILT, finished_at=5.0)
    assert done == Image(name="img", build_id="b1", state=ImageState.BUILT, finished_at=5.0)
    assert store.get_image("img") == done
    with pytest.raises(ValueError, match="state"):
        store.update_image("img", [ImageState.BUILT], ImageState.BUILT, state=ImageState.FAILED)
    with pytest.raises(ValueError, match="finished_at"):
        store.update_image("img", [ImageState.BUILT], ImageState.BUILT, finished_at="soon")
    assert store.get_image("img") == done


def test_images_are_listed_newest_first_with_their_key_and_source(store: Store) -> None:
    assert store.list_images() == []
    store.claim_build(Image(name="old", repo_url="https://x/a", ref="a" * 40, created_at=1.0))
    shared = Image(name="env:k", repo_url="https://x/b", ref="b" * 40, created_at=2.0, env_key="k")
    store.claim_build(shared)
    store.update_image("env:k", [ImageState.BUILDING], ImageState.BUILT, finished_at=3.0)
    listed = store.list_images()
    assert [i.name for i in listed] == ["env:k", "old"]
    assert listed[0] == shared.model_copy(update={"state": ImageState.BUILT, "finished_at": 3.0})
    assert listed[0].built_from == "https://x/b@bbbbbbbbbbbb"


# -- concurrency: one handle shared by threads, or two handles on one store ----------------


@HANDLES
def test_racing_creates_admit_exactly_the_limit(
    store: Store, open_store: Callable[[], Store], handles: int
) -> None:
    stores = handles_of(store, open_store, handles)
    results = race(
        16, lambda i: stores[i % handles].create(session(f"s{i}"), Limits(max_sessions=5))
    )
    assert sum(r is None for r in results) == 5
    assert all(r is None or isinstance(r, QuotaExceededError) for r in results), results
    assert len(store.list(ACTIVE)) == 5


@HANDLES
def test_racing_transitions_have_one_winner(
    store: Store, open_store: Callable[[], Store], handles: int
) -> None:
    stores = handles_of(store, open_store, handles)
    store.create(session("s1"))
    results = race(
        16, lambda i: stores[i % handles].transition("s1", [S.QUEUED], S.BUILDING, reason=str(i))
    )
    winners = [i for i, r in enumerate(results) if isinstance(r, Session)]
    assert len(winners) == 1 and results.count(None) == 15, results
    assert got(store, "s1").reason == str(winners[0])


@HANDLES
def test_racing_claims_have_one_winner(
    store: Store, open_store: Callable[[], Store], handles: int
) -> None:
    stores = handles_of(store, open_store, handles)
    results = race(
        16, lambda i: stores[i % handles].claim_build(Image(name="img", build_id=str(i)))
    )
    assert results.count(True) == 1 and results.count(False) == 15, results
    assert must(store.get_image("img")).build_id == str(results.index(True))
