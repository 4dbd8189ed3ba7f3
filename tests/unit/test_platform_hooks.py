"""What the service does for platforms with more moving parts (AWS), against fakes: images
prepared once, routes reserved before a server starts, a stop announced before it happens,
build news that is stale, and orphans the reaper releases."""

from __future__ import annotations

from skybinder.domain.model import ImageState, Session, SessionState, TaskStatus
from skybinder.service.build_events import on_build_event
from skybinder.service.launch import on_build_finished, request_launch
from skybinder.service.reap import reap, sweep_orphans
from skybinder.service.sessions import check_ready, on_task_state
from tests.fake_ports import FakeRunner
from tests.unit.conftest import SHA, World

S = SessionState
IMAGE = f"skybinder-gh-u-r:{SHA}"


def ready(world: World) -> Session:
    world.registry.images.add(IMAGE)
    session = request_launch(world.binder, "gh", "u/r/HEAD")
    on_task_state(world.binder, session.id, session.task_id, TaskStatus.RUNNING, address="h:1")
    world.prober.up.add(f"https://binder.test/s/{session.id}/")
    found = check_ready(world.binder, session.id)
    assert found is not None and found.state == S.READY
    return found


def test_a_built_image_is_prepared_once_and_launched_from_what_that_gave(world: World) -> None:
    first = request_launch(world.binder, "gh", "u/r/HEAD")
    ((build_id, _),) = world.builder.jobs.items()
    world.builder.succeed(build_id)
    on_build_finished(world.binder, IMAGE, ok=True, build_id=build_id)
    on_build_finished(world.binder, IMAGE, ok=True, build_id=build_id)  # delivered twice
    second = request_launch(world.binder, "gh", "u/r/HEAD")
    assert world.runner.prepared == [IMAGE]
    image = world.store.get_image(IMAGE)
    assert image is not None and image.task_definition == f"taskdef:{IMAGE}"
    tasks = [world.store.get(s.id).task_id for s in (first, second)]  # type: ignore[union-attr]
    assert [world.runner.tasks[t].task_definition for t in tasks] == [image.task_definition] * 2


def test_news_of_an_earlier_build_changes_nothing(world: World) -> None:
    session = request_launch(world.binder, "gh", "u/r/HEAD")
    on_build_finished(world.binder, IMAGE, ok=False, reason="old", build_id="an-earlier-build")
    image = world.store.get_image(IMAGE)
    assert image is not None and image.state == ImageState.BUILDING
    assert world.store.get(session.id).state == S.BUILDING  # type: ignore[union-attr]


def test_a_failed_build_event_quotes_the_end_of_the_log(world: World) -> None:
    session = request_launch(world.binder, "gh", "u/r/HEAD")
    ((build_id, _),) = world.builder.jobs.items()
    lines = [f'{{"phase": "building", "message": "step {i}\\n"}}' for i in range(30)]
    world.builder.emit(build_id, *lines, "ERROR: could not install numpy")
    on_build_event(world.binder, IMAGE, build_id, ok=False, summary="the build failed.")
    failed = world.store.get(session.id)
    assert failed is not None and failed.state == S.FAILED
    reason = failed.reason.splitlines()
    assert reason[0] == "The build of this repository failed: the build failed."
    assert reason[1] == "The end of the build log:"
    assert reason[2:] == [f"step {i}" for i in range(11, 30)] + ["ERROR: could not install numpy"]


def test_a_stop_announced_ahead_keeps_the_route_until_the_task_has_stopped(world: World) -> None:
    session = ready(world)
    on_task_state(
        world.binder, session.id, session.task_id, TaskStatus.STOPPING, reason="spot-interruption"
    )
    stopping = world.store.get(session.id)
    assert stopping is not None and (stopping.state, stopping.reason) == (
        S.STOPPING,
        "spot-interruption",
    )
    assert session.id in world.routes()
    on_task_state(world.binder, session.id, session.task_id, TaskStatus.STOPPED, reason="exit")
    ended = world.store.get(session.id)
    assert ended is not None and (ended.state, ended.reason) == (S.STOPPED, "spot-interruption")
    assert world.routes() == {}


def test_a_stop_announced_before_ready_waits_for_the_stop_itself(world: World) -> None:
    world.registry.images.add(IMAGE)
    session = request_launch(world.binder, "gh", "u/r/HEAD")
    on_task_state(world.binder, session.id, session.task_id, TaskStatus.STOPPING, reason="spot")
    assert world.store.get(session.id).state == S.STARTING  # type: ignore[union-attr]


def test_a_task_running_for_an_ended_session_gets_no_route(world: World) -> None:
    session = ready(world)
    on_task_state(world.binder, session.id, session.task_id, TaskStatus.STOPPED, reason="exit")
    on_task_state(world.binder, session.id, session.task_id, TaskStatus.RUNNING, address="h:1")
    assert world.routes() == {} and world.runner.stopped == [session.task_id]


class HoldingRunner(FakeRunner):
    """A runner that can list its tasks, as the ECS runner can."""

    def held(self) -> dict[str, str]:
        return {
            task: request.session_id for task, request in self.tasks.items() if task in self.alive
        }

    def release(self, resource: str) -> None:
        self.stop(resource)


def test_the_reaper_releases_tasks_no_live_session_owns(world: World) -> None:
    runner = HoldingRunner()
    world.binder.runner = runner
    live = ready(world)
    ended = ready(world)
    on_task_state(world.binder, ended.id, ended.task_id, TaskStatus.STOPPED, reason="exit")
    runner.alive.add(ended.task_id)  # its stop never happened
    orphan = runner.start(runner.tasks[live.task_id].model_copy(update={"session_id": "gone"}))
    assert sweep_orphans(world.binder) == {"orphan-task": 2}
    assert set(runner.stopped) >= {ended.task_id, orphan}
    assert runner.held() == {live.task_id: live.id}


def test_the_reaper_launches_sessions_the_build_news_missed(world: World) -> None:
    session = request_launch(world.binder, "gh", "u/r/HEAD")
    ((build_id, _),) = world.builder.jobs.items()
    world.builder.succeed(build_id)
    world.store.update_image(IMAGE, {ImageState.BUILDING}, ImageState.BUILT)
    assert reap(world.binder) == {"settled": 1}
    assert world.store.get(session.id).state == S.STARTING  # type: ignore[union-attr]
