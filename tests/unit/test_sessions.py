"""Task events, stopping and reaping, against fakes."""

from __future__ import annotations

from skybinder.domain.model import Session, SessionState, TaskStatus
from skybinder.service.launch import request_launch
from skybinder.service.reap import reap
from skybinder.service.sessions import check_ready, on_task_state, stop_session
from tests.unit.conftest import SHA, World

S = SessionState


def ready_session(world: World) -> Session:
    world.registry.images.add(f"skybinder-gh-u-r:{SHA}")
    session = request_launch(world.binder, "gh", "u/r/HEAD")
    on_task_state(world.binder, session.id, session.task_id, TaskStatus.RUNNING, address="h:1")
    world.prober.up.add(f"https://binder.test/s/{session.id}/")
    ready = check_ready(world.binder, session.id)
    assert ready is not None and ready.state == S.READY
    return ready


def test_task_exit_stops_a_ready_session_with_its_reason(world: World) -> None:
    session = ready_session(world)
    world.runner.alive.discard(session.task_id)
    on_task_state(
        world.binder,
        session.id,
        session.task_id,
        TaskStatus.STOPPED,
        reason="Jupyter killed by signal 9",
    )
    got = world.store.get(session.id)
    assert got is not None and got.state == S.STOPPED
    assert got.reason == "Jupyter killed by signal 9" and got.ended_at is not None
    assert world.routes() == {}


def test_duplicate_and_reordered_task_events_are_harmless(world: World) -> None:
    world.registry.images.add(f"skybinder-gh-u-r:{SHA}")
    session = request_launch(world.binder, "gh", "u/r/HEAD")
    on_task_state(world.binder, session.id, session.task_id, TaskStatus.STOPPED, reason="crash")
    on_task_state(world.binder, session.id, session.task_id, TaskStatus.RUNNING, address="h:1")
    on_task_state(world.binder, session.id, session.task_id, TaskStatus.STOPPED, reason="again")
    got = world.store.get(session.id)
    assert got is not None and got.state == S.FAILED
    assert "before it was ready: crash" in got.reason
    assert world.routes() == {}  # the late RUNNING did not leave a route behind
    assert session.task_id in world.runner.stopped


def test_stop_keeps_its_reason_when_the_task_confirms(world: World) -> None:
    session = ready_session(world)
    stopping = stop_session(world.binder, session.id, "asked by the operator")
    assert stopping is not None and stopping.state == S.STOPPING
    assert session.task_id in world.runner.stopped
    on_task_state(world.binder, session.id, session.task_id, TaskStatus.STOPPED, reason="exit 0")
    got = world.store.get(session.id)
    assert got is not None and (got.state, got.reason) == (S.STOPPED, "asked by the operator")


def test_stop_before_a_server_exists_fails_the_session(world: World) -> None:
    session = request_launch(world.binder, "gh", "u/r/HEAD")
    assert session.state == S.BUILDING
    got = stop_session(world.binder, session.id, "cancelled")
    assert got is not None and got.state == S.FAILED and got.reason == "cancelled"


def test_reap_ends_old_lost_and_stuck_sessions(world: World) -> None:
    old = ready_session(world)
    world.clock.sleep(3601)
    lost = ready_session(world)
    world.runner.alive.discard(lost.task_id)
    stuck = request_launch(world.binder, "gh", "u/r/HEAD")  # starting, never answers
    done = reap(world.binder)
    assert done["max-age"] == 1 and done["lost"] == 1
    assert world.store.get(old.id).state == S.STOPPING  # type: ignore[union-attr]
    assert world.store.get(lost.id).state == S.STOPPED  # type: ignore[union-attr]
    world.clock.sleep(121)
    assert reap(world.binder)["start-timeout"] == 1
    got = world.store.get(stuck.id)
    assert got is not None and got.state == S.FAILED and "did not start" in got.reason
    assert stuck.task_id in world.runner.stopped


def test_reap_fails_builds_that_never_end(world: World) -> None:
    session = request_launch(world.binder, "gh", "u/r/HEAD")
    assert reap(world.binder) == {}
    world.clock.sleep(1801)
    assert reap(world.binder)["build-timeout"] == 1
    assert world.store.get(session.id).state == S.FAILED  # type: ignore[union-attr]
