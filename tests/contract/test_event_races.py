"""The SessionStore's event contract under concurrency: launches racing for the last seats and
the last dollars, duplicate endings and warm-session claims, on the fake, SQLite and DynamoDB
(on moto) stores, with one handle shared by threads or two handles on one store."""

from __future__ import annotations

from collections.abc import Callable

from skybinder.domain.errors import BudgetExhaustedError, EventFullError
from skybinder.domain.event import EventUsage
from skybinder.domain.model import ACTIVE, Session, SessionState
from skybinder.domain.pricing import cost_micros
from tests.contract.conftest import HANDLES, Store, got, handles_of, must, race
from tests.contract.test_event_store import HOUR, T0, H, R, attendee, end, event, running

S = SessionState


@HANDLES
def test_racing_claims_of_a_warm_session_have_one_winner(
    store: Store, open_store: Callable[[], Store], handles: int
) -> None:
    stores = handles_of(store, open_store, handles)
    store.create_event(event())
    store.create(attendee("warm", state=S.READY, warm=True))
    results = race(16, lambda i: stores[i % handles].claim_warm("warm", client_ip=f"10.0.0.{i}"))
    winners = [i for i, r in enumerate(results) if isinstance(r, Session)]
    assert len(winners) == 1 and results.count(None) == 15, results
    assert got(store, "warm").client_ip == f"10.0.0.{winners[0]}"


@HANDLES
def test_racing_for_the_last_seats_admits_exactly_the_seats_left(
    store: Store, open_store: Callable[[], Store], handles: int
) -> None:
    stores = handles_of(store, open_store, handles)
    store.create_event(event(seats=5, budget_micros=100 * R))
    store.create(attendee("early-1"))
    store.create(attendee("early-2"))
    results = race(16, lambda i: stores[i % handles].create(attendee(f"s{i}")))
    assert results.count(None) == 3, results
    refusals = [r for r in results if r is not None]
    assert all(isinstance(r, EventFullError) and "5 of 5 seats" in r.message for r in refusals)
    usage = store.event_usage("ws")
    assert (usage.seats_in_use, usage.sessions) == (5, 5)
    assert len([s for s in store.list(ACTIVE) if s.event == "ws"]) == 5


@HANDLES
def test_racing_for_the_last_dollars_never_overspends(
    store: Store, open_store: Callable[[], Store], handles: int
) -> None:
    stores = handles_of(store, open_store, handles)
    budget = 4 * R + R // 2
    store.create_event(event(seats=100, budget_micros=budget))
    admitted = race(16, lambda i: stores[i % handles].create(running(f"s{i}")))
    winners = [f"s{i}" for i, r in enumerate(admitted) if r is None]
    assert len(winners) == 4, admitted
    assert all(isinstance(r, BudgetExhaustedError) for r in admitted if r is not None)
    # Four enders per session (a reaper, duplicate platform events) race: one settles each.
    ended = race(
        16, lambda i: stores[i % handles].transition(winners[i % 4], ACTIVE, S.STOPPED,
                                                     ended_at=T0 + 60 * (i + 1))
    )  # fmt: skip
    assert sum(isinstance(r, Session) for r in ended) == 4 and ended.count(None) == 12, ended
    costs = [got(store, winner).cost_micros for winner in winners]
    assert costs == [cost_micros(H, must(got(store, w).ended_at) - T0) for w in winners]
    usage = store.event_usage("ws")
    assert (usage.spent_micros, usage.reserved_micros, usage.seats_in_use) == (sum(costs), 0, 0)
    assert usage.spent_micros <= budget


@HANDLES
def test_churning_attendees_spend_exactly_the_budget(
    store: Store, open_store: Callable[[], Store], handles: int
) -> None:
    """Every session runs its whole worst case, so however launches and endings interleave,
    exactly floor(budget / worst case) sessions are admitted, and nothing more is spent."""
    stores = handles_of(store, open_store, handles)
    budget = 6 * R + R // 2
    store.create_event(event(seats=100, budget_micros=budget))

    def attend(i: int) -> int:
        admitted = 0
        for k in range(6):
            try:
                stores[i % handles].create(running(f"s{i}-{k}"))
            except BudgetExhaustedError:
                return admitted
            admitted += 1
            end(stores[i % handles], f"s{i}-{k}", HOUR)
        return admitted

    results = race(12, attend)
    assert all(isinstance(r, int) for r in results), results
    assert sum(r for r in results if isinstance(r, int)) == 6
    usage = store.event_usage("ws")
    assert usage == EventUsage(spent_micros=6 * R, sessions=6)
    assert usage.spent_micros <= budget
