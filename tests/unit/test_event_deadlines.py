"""An attendee who waits for a build still gets the event's whole max minutes of server time:
the reaper counts them from the launch, not from the request."""

from __future__ import annotations

from datetime import UTC, datetime

from skybinder.domain.event import EventRequest
from skybinder.domain.model import CapacityPolicy, SessionState, TaskStatus
from skybinder.service.events import create_event, request_event_launch
from skybinder.service.launch import on_build_finished
from skybinder.service.reap import reap
from skybinder.service.sessions import check_ready, on_task_state
from tests.unit.conftest import World

S = SessionState
MINUTE = 60.0


def test_a_long_build_does_not_shorten_the_attendees_session(world: World) -> None:
    now = world.clock.now()
    create_event(
        world.binder,
        EventRequest(
            slug="ws", title="Workshop", provider="gh", spec="u/r/main",
            starts_at=datetime.fromtimestamp(now, UTC),
            ends_at=datetime.fromtimestamp(now + 8 * 3600, UTC), seats=5, budget_usd=5.0,
            capacity=CapacityPolicy.SPOT, max_minutes=30,
        ),
    )  # fmt: skip
    [build_id] = world.builder.jobs  # the prebuild, still running
    session = request_event_launch(world.binder, "gh", "u/r/main", slug="ws", code=None)
    assert session.state == S.BUILDING and session.launched_at is None
    world.clock.sleep(25 * MINUTE)  # the build takes 25 minutes
    on_build_finished(world.binder, world.builder.succeed(build_id), ok=True, build_id=build_id)
    launched = world.store.get(session.id)
    assert launched is not None and launched.launched_at == now + 25 * MINUTE
    on_task_state(world.binder, session.id, launched.task_id, TaskStatus.RUNNING, address="h:1")
    world.prober.up.add(f"https://binder.test/s/{session.id}/")
    assert check_ready(world.binder, session.id).state == S.READY  # type: ignore[union-attr]
    world.clock.sleep(10 * MINUTE)  # 35 minutes after the request, 10 after the launch
    reap(world.binder)
    running = world.store.get(session.id)
    assert running is not None and running.state == S.READY and running.notices == []
    world.clock.sleep(20 * MINUTE + 1)  # 30 minutes after the launch
    reap(world.binder)
    ended = world.store.get(session.id)
    assert ended is not None and ended.state == S.STOPPING
    assert ended.reason == "max-minutes: Workshop sessions last 30 min."
