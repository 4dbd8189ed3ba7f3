"""Events through the service layer, against fakes: creation, admission, settlement, limits."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from skybinder.domain.errors import (
    AccessCodeError,
    BudgetExhaustedError,
    EventExistsError,
    QuotaExceededError,
    ResolveError,
)
from skybinder.domain.event import EventRequest
from skybinder.domain.model import CapacityPolicy, Limits, Session, SessionState, TaskStatus
from skybinder.service.events import (
    close_event,
    create_event,
    event_sessions,
    event_status,
    request_event_launch,
)
from skybinder.service.launch import on_build_finished, request_launch
from skybinder.service.reap import reap
from skybinder.service.sessions import check_ready, on_task_state
from tests.fake_ports import FakeRunner
from tests.unit.conftest import SHA, World, make_world

S = SessionState
IMAGE = f"skybinder-gh-u-r:{SHA}"
HOUR = 3600.0


def at(world: World, seconds: float) -> datetime:
    """A moment `seconds` after the fake clock's now, as the admin API receives it."""
    return datetime.fromtimestamp(world.clock.now() + seconds, UTC)


def request(world: World, **fields: Any) -> EventRequest:
    values: dict[str, Any] = {
        "slug": "swc-2026",
        "title": "Software Carpentry",
        "provider": "gh",
        "spec": "u/r/main",
        "starts_at": at(world, 0),
        "ends_at": at(world, 3 * HOUR),
        "seats": 3,
        "budget_usd": 5.0,
        "capacity": CapacityPolicy.SPOT_FALLBACK,
        "cpu": 1,
        "memory_gb": 2,
        "max_minutes": 90,
    }
    return EventRequest(**{**values, **fields})


def attend(world: World, code: str | None = None, spec: str = "u/r/main") -> Session:
    return request_event_launch(world.binder, "gh", spec, slug="swc-2026", code=code)


def run(world: World, session: Session, capacity: str = "spot") -> Session:
    """The platform starts the session's task (on `capacity`) and Jupyter answers."""
    got = world.store.get(session.id)
    assert got is not None and got.task_id
    on_task_state(
        world.binder, got.id, got.task_id, TaskStatus.RUNNING, address="h:1", capacity=capacity
    )
    world.prober.up.add(f"https://binder.test/s/{got.id}/")
    ready = check_ready(world.binder, got.id)
    assert ready is not None and ready.state == S.READY
    return ready


def stopped(world: World, session: Session, reason: str = "idle") -> Session:
    got = world.store.get(session.id)
    assert got is not None
    world.runner.alive.discard(got.task_id)
    on_task_state(world.binder, got.id, got.task_id, TaskStatus.STOPPED, reason=reason)
    final = world.store.get(session.id)
    assert final is not None
    return final


def test_creating_an_event_pins_the_ref_prices_it_and_prebuilds(world: World) -> None:
    status = create_event(world.binder, request(world, access_code="tea"))
    event = status.event
    assert (event.ref, event.resolved_spec, event.image_name) == (SHA, f"u/r/{SHA}", IMAGE)
    assert (event.spot_hourly_micros, event.on_demand_hourly_micros) == (19_760, 49_370)
    assert event.reserve_micros == 80_638  # 98 minutes on-demand: fallback may land there
    assert event.access_code_hash and "tea" not in event.model_dump_json()
    [job] = world.builder.jobs.values()  # the prebuild
    assert job.image_name == IMAGE
    assert status.prebuild == "building"
    with pytest.raises(EventExistsError):
        create_event(world.binder, request(world))


def test_an_event_whose_repository_does_not_resolve_is_not_created(world: World) -> None:
    with pytest.raises(ResolveError):
        create_event(world.binder, request(world, spec="u/r/nope"))
    assert world.store.list_events() == []


def test_a_budget_below_one_session_is_refused_with_the_figures(world: World) -> None:
    with pytest.raises(BudgetExhaustedError, match=r"\$0.0806"):
        create_event(world.binder, request(world, budget_usd=0.05))


@pytest.mark.parametrize(
    ("change", "code", "spec", "message"),
    [
        ({"starts_at_in": HOUR}, None, "u/r/main", "has not started yet"),
        ({"starts_at_in": -5 * HOUR, "ends_at_in": -HOUR}, None, "u/r/main", "has ended"),
        ({}, None, "u/other/HEAD", "not the repository of Software Carpentry"),
    ],
)
def test_refusals_before_admission(
    world: World, change: dict[str, Any], code: str | None, spec: str, message: str
) -> None:
    fields = {k: v for k, v in change.items() if not k.endswith("_in")}
    if "starts_at_in" in change:
        fields["starts_at"] = at(world, change["starts_at_in"])
        fields["ends_at"] = at(world, change.get("ends_at_in", 3 * HOUR))
    create_event(world.binder, request(world, **fields))
    refused = attend(world, code=code, spec=spec)
    assert refused.state == S.FAILED and message in refused.reason
    assert refused.status_code in {400, 403}
    assert world.store.event_usage("swc-2026").seats_in_use == 0
    assert world.runner.tasks == {}


@pytest.mark.parametrize(
    ("code", "message"), [(None, "needs an access code"), ("coffee", "access code is not right")]
)
def test_a_missing_or_wrong_code_is_refused_and_writes_nothing(
    world: World, code: str | None, message: str
) -> None:
    create_event(world.binder, request(world, access_code="tea"))
    before = world.store.list()
    with pytest.raises(AccessCodeError, match=message) as caught:
        attend(world, code=code)
    assert caught.value.status_code == 403
    assert world.store.list() == before  # no session record for a refused guess
    assert world.runner.tasks == {}


def test_an_unknown_event_is_a_404(world: World) -> None:
    refused = attend(world)
    assert (refused.state, refused.status_code) == (S.FAILED, 404)


def test_seats_fill_and_free_again(world: World) -> None:
    create_event(world.binder, request(world, seats=2))
    world.registry.images.add(IMAGE)
    first, second = attend(world), attend(world)
    assert {first.state, second.state} == {S.STARTING}
    full = attend(world)
    assert full.state == S.FAILED and full.status_code == 429
    assert full.reason == (
        "This workshop is full — 2 of 2 seats in use. Try again in a few minutes."
    )
    stopped(world, run(world, first))
    assert attend(world).state == S.STARTING


def test_launch_uses_the_event_size_and_capacity_policy(world: World) -> None:
    create_event(world.binder, request(world, capacity=CapacityPolicy.SPOT, cpu=2, memory_gb=8))
    world.registry.images.add(IMAGE)
    session = attend(world)
    sent = world.runner.tasks[session.task_id]
    assert (sent.capacity, sent.cpu, sent.memory_gb) == (CapacityPolicy.SPOT, 2, 8)
    assert sent.env["BINDER_PERSISTENT_REQUEST"] == f"v2/gh/u/r/{SHA}"


def test_settlement_charges_where_the_task_ran_and_frees_the_rest(world: World) -> None:
    create_event(world.binder, request(world))
    world.registry.images.add(IMAGE)
    session = attend(world)
    assert session.hourly_micros == 49_370  # worst case until the platform says where it runs
    ready = run(world, session, capacity="spot")
    assert ready.hourly_micros == 19_760
    usage = world.store.event_usage("swc-2026")
    assert (usage.seats_in_use, usage.reserved_micros, usage.spent_micros) == (1, 80_638, 0)
    world.clock.sleep(30 * 60)
    final = stopped(world, ready)
    assert final.cost_micros == 9_880  # 30 minutes at $0.01976 per hour
    usage = world.store.event_usage("swc-2026")
    assert (usage.seats_in_use, usage.reserved_micros, usage.spent_micros) == (0, 0, 9_880)
    # A duplicate STOPPED changes nothing: the session was settled once.
    stopped(world, final)
    assert world.store.event_usage("swc-2026").spent_micros == 9_880


def test_the_budget_refuses_what_it_cannot_cover(world: World) -> None:
    # $0.20 covers two worst cases of $0.080638, not three.
    create_event(world.binder, request(world, seats=10, budget_usd=0.20))
    world.registry.images.add(IMAGE)
    first, second = attend(world), attend(world)
    assert first.state == second.state == S.STARTING
    refused = attend(world)
    assert refused.status_code == 429 and "at its budget limit" in refused.reason
    assert refused.reserved_micros == 0
    # Both run their 90 minutes on-demand: $0.148 spent, too little left for anyone else.
    running = [run(world, first, "on-demand"), run(world, second, "on-demand")]
    world.clock.sleep(90 * 60)
    for session in running:
        stopped(world, session)
    assert world.store.event_usage("swc-2026").spent_micros == 2 * 74_055
    final = attend(world)
    assert final.status_code == 429 and "has used the budget" in final.reason


def test_reaper_warns_then_stops_at_max_minutes(world: World) -> None:
    create_event(world.binder, request(world, max_minutes=30))
    world.registry.images.add(IMAGE)
    ready = run(world, attend(world))
    world.clock.sleep(26 * 60)  # inside the five-minute warning
    reap(world.binder)
    warned = world.store.get(ready.id)
    assert warned is not None and warned.state == S.READY
    assert any(n.startswith("This session ends at ") for n in warned.notices)
    world.clock.sleep(4 * 60 + 1)
    reap(world.binder)
    got = world.store.get(ready.id)
    assert got is not None and got.state == S.STOPPING and got.reason.startswith("max-minutes")
    assert ready.task_id in world.runner.stopped
    final = stopped(world, got, reason="stopped")
    assert final.reason.startswith("max-minutes")


def test_reaper_ends_every_session_when_the_event_ends(world: World) -> None:
    create_event(world.binder, request(world, ends_at=at(world, HOUR)))
    world.registry.images.add(IMAGE)
    ready = run(world, attend(world))
    world.clock.sleep(HOUR)
    reap(world.binder)
    got = world.store.get(ready.id)
    assert got is not None and got.state == S.STOPPING and "has ended" in got.reason


def test_closing_stops_sessions_and_refuses_newcomers(world: World) -> None:
    create_event(world.binder, request(world))
    world.registry.images.add(IMAGE)
    ready = run(world, attend(world))
    status = close_event(world.binder, "swc-2026")
    assert status.phase(world.clock.now()) == "closed"
    got = world.store.get(ready.id)
    assert got is not None and got.state == S.STOPPING
    refused = attend(world)
    assert refused.state == S.FAILED and "closed by its organisers" in refused.reason


def test_warm_pool_fills_before_the_start_and_hands_out_instantly(world: World) -> None:
    create_event(world.binder, request(world, starts_at=at(world, 300), warm_pool=2))
    world.registry.images.add(IMAGE)
    reap(world.binder)  # 5 minutes before the start: inside the lead, so the pool fills
    warm = [s for s in event_sessions(world.binder, "swc-2026") if s.warm]
    assert len(warm) == 2
    assert all(world.runner.tasks[s.task_id].idle_timeout > 600 for s in warm)
    for session in warm:
        run(world, session)
    assert world.store.event_usage("swc-2026").warm_idle == 2
    world.clock.sleep(300)
    handed = attend(world)
    assert handed.state == S.READY and not handed.warm and handed.id in {s.id for s in warm}
    reap(world.binder)  # the pool is refilled, within the seats (3): one more warm session
    usage = world.store.event_usage("swc-2026")
    assert usage.seats_in_use == 3


def test_spot_interruption_before_ready_relaunches_on_demand(world: World) -> None:
    create_event(world.binder, request(world))
    world.registry.images.add(IMAGE)
    session = attend(world)
    first_task = session.task_id
    reason = "spot-interruption: AWS reclaimed the Spot capacity."
    on_task_state(world.binder, session.id, first_task, TaskStatus.STOPPED, reason=reason)
    again = world.store.get(session.id)
    assert again is not None and again.state == S.STARTING and again.task_id != first_task
    assert again.interruptions == 1 and again.launched_at == session.launched_at
    assert world.runner.tasks[again.task_id].capacity == CapacityPolicy.ON_DEMAND
    # The duplicate of the first STOPPED does nothing more.
    on_task_state(world.binder, session.id, first_task, TaskStatus.STOPPED, reason=reason)
    assert len(world.runner.tasks) == 2
    ready = run(world, again, capacity="on-demand")
    assert ready.hourly_micros == 49_370
    assert world.store.event_usage("swc-2026").interruptions == 0  # counted when it ends
    stopped(world, ready)
    assert world.store.event_usage("swc-2026").interruptions == 1


def test_spot_only_sessions_relaunch_on_spot_and_give_up_after_the_limit(world: World) -> None:
    create_event(world.binder, request(world, capacity=CapacityPolicy.SPOT))
    world.registry.images.add(IMAGE)
    session = attend(world)
    reason = "spot-interruption: AWS reclaimed the Spot capacity."
    for _ in range(world.binder.config.max_relaunches):
        current = world.store.get(session.id)
        assert current is not None and current.state == S.STARTING
        assert world.runner.tasks[current.task_id].capacity == CapacityPolicy.SPOT
        on_task_state(world.binder, session.id, current.task_id, TaskStatus.STOPPED, reason=reason)
    last = world.store.get(session.id)
    assert last is not None
    on_task_state(world.binder, session.id, last.task_id, TaskStatus.STOPPED, reason=reason)
    final = world.store.get(session.id)
    assert final is not None and final.state == S.FAILED and "before it was ready" in final.reason
    assert world.store.event_usage("swc-2026").seats_in_use == 0


def test_a_crash_between_run_task_and_the_write_is_settled_by_the_reaper(world: World) -> None:
    create_event(world.binder, request(world))
    world.registry.images.add(IMAGE)
    session = attend(world)
    # As if the launch died after RunTask: the session never learnt its task.
    world.store.sessions[session.id] = world.store.sessions[session.id].model_copy(
        update={"state": S.LAUNCHING, "task_id": ""}
    )
    world.clock.sleep(world.binder.config.start_timeout + 1)
    reap(world.binder)
    final = world.store.get(session.id)
    assert final is not None and final.state == S.FAILED
    usage = world.store.event_usage("swc-2026")
    assert usage.seats_in_use == 0 and usage.reserved_micros == 0
    assert usage.spent_micros == final.cost_micros > 0  # billed from the launch, as AWS would


def test_status_payload_shows_money_in_dollars(world: World) -> None:
    create_event(world.binder, request(world))
    payload = event_status(world.binder, "swc-2026").payload(world.clock.now())
    assert payload["budget_usd"] == 5.0 and payload["remaining_usd"] == 5.0
    assert payload["phase"] == "open" and payload["seats_left"] == 3
    assert "access_code_hash" not in payload


class ReasonRunner(FakeRunner):
    """A runner that, like ECS, remembers why a task stopped."""

    def __init__(self) -> None:
        super().__init__()
        self.reasons: dict[str, str] = {}

    def stop_reason(self, task_id: str) -> str:
        return self.reasons.get(task_id, "")


def test_a_spot_loss_the_reaper_sees_first_still_relaunches(world: World) -> None:
    runner = ReasonRunner()
    world.binder.runner = runner
    create_event(world.binder, request(world))
    world.registry.images.add(IMAGE)
    session = attend(world)
    # Spot took the server; the reaper runs before the platform's STOPPED event arrives.
    runner.alive.discard(session.task_id)
    runner.reasons[session.task_id] = "spot-interruption: AWS reclaimed the Spot capacity."
    assert reap(world.binder)["lost"] == 1
    again = world.store.get(session.id)
    assert again is not None and again.state == S.STARTING and again.interruptions == 1
    assert runner.tasks[again.task_id].capacity == CapacityPolicy.ON_DEMAND
    # Without a reason the platform keeps, the session fails as before.
    runner.alive.discard(again.task_id)
    reap(world.binder)
    final = world.store.get(session.id)
    assert final is not None and final.state == S.FAILED and "the server is gone" in final.reason


def test_the_warm_pool_is_refilled_only_around_the_start(world: World) -> None:
    create_event(world.binder, request(world, starts_at=at(world, 0), seats=3, warm_pool=1))
    world.registry.images.add(IMAGE)
    reap(world.binder)
    (warm,) = [s for s in event_sessions(world.binder, "swc-2026") if s.warm]
    run(world, warm)
    world.clock.sleep(world.binder.config.warm_lead + 1)  # the start's rush is over
    assert attend(world).id == warm.id  # handed out
    reap(world.binder)
    assert not [s for s in event_sessions(world.binder, "swc-2026") if s.warm]


class FlakyRunner(FakeRunner):
    """A runner whose StopTask is throttled for one task."""

    def __init__(self) -> None:
        super().__init__()
        self.throttled: set[str] = set()

    def stop(self, task_id: str) -> None:
        if task_id in self.throttled:
            raise RuntimeError("ThrottlingException: Rate exceeded")
        super().stop(task_id)


def test_one_failing_stop_does_not_keep_the_reaper_from_the_others(world: World) -> None:
    runner = FlakyRunner()
    world.binder.runner = runner
    create_event(world.binder, request(world, max_minutes=30))
    world.registry.images.add(IMAGE)
    first, second = run(world, attend(world)), run(world, attend(world))
    runner.throttled.add(first.task_id)
    world.clock.sleep(31 * 60)
    done = reap(world.binder)
    assert done["error"] == 1 and done["event-max-minutes"] == 1
    later = world.store.get(second.id)
    assert later is not None and later.state == S.STOPPING
    assert second.task_id in runner.stopped


def test_a_session_left_built_by_a_crash_is_started_by_the_reaper(world: World) -> None:
    create_event(world.binder, request(world))
    world.registry.images.add(IMAGE)
    session = attend(world)
    # A crash in a relaunch: moved back to `built`, never started again.
    world.store.sessions[session.id] = world.store.sessions[session.id].model_copy(
        update={"state": S.BUILT, "task_id": "", "interruptions": 1}
    )
    world.clock.sleep(61)
    assert reap(world.binder)["resumed"] == 1
    again = world.store.get(session.id)
    assert again is not None and again.state == S.STARTING and again.task_id
    assert again.launched_at == session.launched_at  # its deadline still counts from there


def test_a_stop_with_no_task_to_wait_for_ends_stopped(world: World) -> None:
    create_event(world.binder, request(world))
    world.registry.images.add(IMAGE)
    session = attend(world)
    world.store.sessions[session.id] = world.store.sessions[session.id].model_copy(
        update={"state": S.STOPPING, "task_id": "", "reason": "stopped by an operator"}
    )
    world.clock.sleep(world.binder.config.stop_timeout + 1)
    assert reap(world.binder)["stopped"] == 1
    final = world.store.get(session.id)
    assert final is not None and final.state == S.STOPPED
    assert world.store.event_usage("swc-2026").seats_in_use == 0


def test_a_duplicate_stop_of_a_lost_server_does_not_undo_its_relaunch(world: World) -> None:
    create_event(world.binder, request(world))
    world.registry.images.add(IMAGE)
    session = attend(world)
    # The relaunch is under way (built/launching, no task yet) when the news comes again.
    world.store.sessions[session.id] = world.store.sessions[session.id].model_copy(
        update={"state": S.LAUNCHING, "task_id": "", "interruptions": 1}
    )
    reason = "spot-interruption: AWS reclaimed the Spot capacity."
    on_task_state(world.binder, session.id, session.task_id, TaskStatus.STOPPED, reason=reason)
    got = world.store.get(session.id)
    assert got is not None and got.state == S.LAUNCHING


def test_a_session_left_built_after_its_event_ended_is_ended_not_started(world: World) -> None:
    create_event(world.binder, request(world, ends_at=at(world, 600)))
    world.registry.images.add(IMAGE)
    session = attend(world)
    world.store.sessions[session.id] = world.store.sessions[session.id].model_copy(
        update={"state": S.BUILT, "task_id": ""}
    )
    world.clock.sleep(601)
    before = len(world.runner.tasks)
    reap(world.binder)
    final = world.store.get(session.id)
    assert final is not None and (final.state, final.status_code) == (S.FAILED, 403)
    assert len(world.runner.tasks) == before


def test_a_warm_session_stalled_in_launching_is_not_handed_out(world: World) -> None:
    create_event(world.binder, request(world, warm_pool=2))
    world.registry.images.add(IMAGE)
    reap(world.binder)
    stalled, starting = [s for s in event_sessions(world.binder, "swc-2026") if s.warm]
    world.store.sessions[stalled.id] = world.store.sessions[stalled.id].model_copy(
        update={"state": S.LAUNCHING, "task_id": ""}  # its start died with its caller
    )
    world.clock.sleep(61)
    assert attend(world).id == starting.id  # the one really starting, not the stalled one
    assert attend(world).id not in {stalled.id, starting.id}  # a fresh session instead


def test_attendees_count_toward_the_binders_session_limit() -> None:
    world = make_world(Limits(max_sessions=2, max_sessions_per_repo=1))
    create_event(world.binder, request(world, seats=2))
    built = world.store.list()[0]  # the prebuild: a build-only session, counted while it builds
    (build_id,) = world.builder.jobs
    on_build_finished(world.binder, world.builder.succeed(build_id), ok=True)
    assert world.store.get(built.id).state == S.STOPPED  # type: ignore[union-attr]
    outsider = request_launch(world.binder, "gh", "u/other/HEAD")
    assert outsider.state != S.FAILED
    first = attend(world)  # the per-repository limit (1) does not bound an event's seats
    assert first.reserved_micros > 0 and first.state != S.FAILED
    second = attend(world)
    assert (second.state, second.status_code) == (S.FAILED, 429)
    assert "Too many users on this BinderHub" in second.reason
    assert world.store.event_usage("swc-2026").seats_in_use == 1


def test_an_event_larger_than_the_binder_is_refused_when_declared() -> None:
    world = make_world(Limits(max_sessions=2))
    with pytest.raises(QuotaExceededError, match="event of 3 seats does not fit") as caught:
        create_event(world.binder, request(world, seats=3))
    assert caught.value.status_code == 400 and world.store.list_events() == []
