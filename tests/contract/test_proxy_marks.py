"""ProxyMarks, the stores' record of whether the session proxy is awake: a session that starts
at once is admitted only while it is marked awake, and it is marked asleep only while nothing
is active and nothing was admitted or ended since a time; the two exclude each other, even
when they race. Run against the fake and DynamoDB (on moto), the stores that keep marks."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from skybinder.domain.errors import ProxyAsleepError, QuotaExceededError
from skybinder.domain.model import Limits, SessionState
from skybinder.service.ports import ProxyMarks
from tests.contract.conftest import Store, race
from tests.contract.test_session_store import session

S = SessionState
AWAKE_ONLY = Limits(proxy_awake=True)


@pytest.fixture
def marks(store: Store) -> Store:
    if not isinstance(store, ProxyMarks):
        pytest.skip("this store keeps no marks of the session proxy (a local binder's)")
    return store


def starting(session_id: str, at: float = 100.0) -> object:
    return session(session_id, state=S.LAUNCHING, created_at=at, updated_at=at, repo_key=session_id)


def test_the_proxy_starts_asleep_and_a_session_that_starts_at_once_is_refused(
    marks: Store,
) -> None:
    assert isinstance(marks, ProxyMarks)
    assert not marks.proxy_awake()
    asleep = r"^The session proxy is asleep: wake it, then admit the session\.$"
    with pytest.raises(ProxyAsleepError, match=asleep):
        marks.create(starting("a"), AWAKE_ONLY)  # type: ignore[arg-type]
    assert marks.get("a") is None  # nothing was written
    marks.create(starting("b"), Limits())  # type: ignore[arg-type]  # no check asked
    marks.mark_proxy_awake()
    marks.mark_proxy_awake()  # idempotent
    assert marks.proxy_awake()
    marks.create(starting("a"), AWAKE_ONLY)  # type: ignore[arg-type]
    assert marks.get("a") is not None


def test_a_full_binder_says_so_before_anything_about_the_proxy(marks: Store) -> None:
    marks.create(starting("a"), Limits(max_sessions=1))  # type: ignore[arg-type]
    with pytest.raises(QuotaExceededError):
        marks.create(starting("b"), Limits(max_sessions=1, proxy_awake=True))  # type: ignore[arg-type]


def test_it_is_marked_asleep_only_when_nothing_is_active_and_all_is_quiet(marks: Store) -> None:
    assert isinstance(marks, ProxyMarks)
    later = time.time() + 3600  # the stores note admissions and ends by their clock: now
    assert not marks.mark_proxy_asleep(quiet_since=later)  # not marked awake: nothing to do
    marks.mark_proxy_awake()
    began = time.time()
    marks.create(starting("a", at=began), AWAKE_ONLY)  # type: ignore[arg-type]
    assert not marks.mark_proxy_asleep(quiet_since=later)  # a session is active
    marks.transition("a", {S.LAUNCHING}, S.STOPPED, ended_at=began, updated_at=began)
    assert not marks.mark_proxy_asleep(quiet_since=began - 60)  # it ended after that
    assert marks.proxy_awake()
    assert marks.mark_proxy_asleep(quiet_since=later)
    assert not marks.proxy_awake()
    assert not marks.mark_proxy_asleep(quiet_since=later)  # once


def test_admission_and_sleep_exclude_each_other(open_store: Callable[[], Store]) -> None:
    """Admissions checking the mark race the reaper marking it asleep: either the sleep wins
    and every admission is refused, or some admission wins and the proxy stays awake."""
    for round_ in range(6):
        store = open_store()
        if not isinstance(store, ProxyMarks):
            pytest.skip("this store keeps no marks of the session proxy")
        if not store.proxy_awake():
            store.mark_proxy_awake()

        def act(i: int, store: Store = store, round_: int = round_) -> object:
            assert isinstance(store, ProxyMarks)
            if i == 0:
                return store.mark_proxy_asleep(quiet_since=time.time() + 3600)
            return store.create(starting(f"r{round_}-{i}", at=10.0 * round_), AWAKE_ONLY)  # type: ignore[arg-type]

        results = race(4, act)
        slept = results[0] is True
        admitted = [r for r in results[1:] if r is None]
        refused = [r for r in results[1:] if isinstance(r, ProxyAsleepError)]
        assert len(admitted) + len(refused) == 3
        assert not (slept and admitted), results  # never both
        assert store.proxy_awake() != slept
        for i in range(1, 4):  # end what was admitted, for the next round
            store.transition(f"r{round_}-{i}", {S.LAUNCHING}, S.STOPPED, ended_at=1.0)
