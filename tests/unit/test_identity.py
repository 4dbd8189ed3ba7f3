"""Events act only on the session's current server and the image's current build, and the
reaper repairs what a lost event or a crash left behind (service layer, against fakes)."""

from __future__ import annotations

from typing import Any

import pytest

from skybinder.domain.model import ImageState, Session, SessionState, TaskStatus
from skybinder.service.build_queue import wait_for_builder
from skybinder.service.launch import on_build_finished, request_launch
from skybinder.service.reap import reap
from skybinder.service.sessions import check_ready, on_task_state
from tests.aws.faults.injection import Crash
from tests.unit.conftest import SHA, World

S = SessionState
IMAGE = f"skybinder-gh-u-r:{SHA}"
SPOT = "spot-interruption: AWS reclaimed the Spot capacity"


def launched(world: World) -> Session:
    world.registry.images.add(IMAGE)
    return request_launch(world.binder, "gh", "u/r/HEAD")


def task(world: World, session_id: str, task_id: str, status: TaskStatus, **kw: Any) -> None:
    on_task_state(world.binder, session_id, task_id, status, **kw)


def now(world: World, session_id: str) -> Session:
    found = world.store.get(session_id)
    assert found is not None
    return found


def routed(world: World, session_id: str) -> str:
    """Where the session proxy forwards the session ("" nowhere): its address in the store."""
    route = world.store.route(session_id)
    return route.address if route is not None and route.routable else ""


def test_a_late_running_of_a_replaced_server_changes_nothing_but_to_stop_it(
    world: World,
) -> None:
    session = launched(world)
    first = session.task_id
    task(world, session.id, first, TaskStatus.STOPPED, reason=SPOT)  # lost before ready
    second = now(world, session.id).task_id
    assert second not in {"", first}
    task(world, session.id, first, TaskStatus.RUNNING, address="old:1", attempt=0)
    after = now(world, session.id)
    assert (after.task_id, after.address, after.state) == (second, "", S.STARTING)
    assert first in world.runner.stopped and routed(world, session.id) == ""
    task(world, session.id, second, TaskStatus.RUNNING, address="new:1", attempt=1)
    assert routed(world, session.id) == "new:1"


def test_two_handlers_of_one_loss_from_one_stale_read_relaunch_once(world: World) -> None:
    session = launched(world)
    stale = now(world, session.id)
    real_get = world.store.get
    reads = [stale, stale]  # each handler's first read: the session before either acted

    def get(session_id: str) -> Session | None:
        return reads.pop(0) if reads else real_get(session_id)

    world.store.get = get  # type: ignore[method-assign]
    task(world, session.id, session.task_id, TaskStatus.STOPPED, reason=SPOT)
    relaunched = real_get(session.id)
    assert relaunched is not None
    task(world, session.id, session.task_id, TaskStatus.STOPPED, reason=SPOT)
    after = now(world, session.id)
    assert after.interruptions == 1 and after.task_id == relaunched.task_id
    assert len(world.runner.tasks) == 2  # the first server and one relaunch
    assert after == relaunched  # the loser changed nothing, and stopped no server of it
    assert relaunched.task_id not in world.runner.stopped


def test_a_lost_build_failure_is_settled_by_the_reaper(world: World) -> None:
    session = request_launch(world.binder, "gh", "u/r/HEAD")
    (build_id,) = world.builder.jobs
    world.builder.fail(build_id, "the build failed in its BUILD phase.")  # its event is lost
    assert reap(world.binder)["build-settled"] == 1
    failed = now(world, session.id)
    assert failed.state == S.FAILED and "BUILD phase" in failed.reason
    assert world.store.get_image(IMAGE).state == ImageState.FAILED  # type: ignore[union-attr]
    again = request_launch(world.binder, "gh", "u/r/HEAD")
    assert again.state == S.BUILDING and len(world.builder.jobs) == 2  # not the dead build


def test_a_lost_running_is_repaired_from_what_the_runner_says(world: World) -> None:
    session = launched(world)
    world.runner.addresses[session.task_id] = "h:1"  # it runs; its RUNNING event is lost
    world.prober.up.add(f"https://binder.test/s/{session.id}/")
    done = reap(world.binder)
    assert done["routed"] == 1
    ready = now(world, session.id)
    assert ready.state == S.READY and routed(world, session.id) == "h:1"


class CrashingRunner:
    """Wraps a runner: the function dies right after RunTask, before writing the task down."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.armed = inner, True

    def start(self, request: Any) -> str:
        started = self.inner.start(request)
        if self.armed:
            self.armed = False
            raise Crash("died after RunTask")
        return str(started)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_launch_that_died_after_run_task_is_resumed_with_the_same_task(world: World) -> None:
    world.registry.images.add(IMAGE)
    world.binder.runner = CrashingRunner(world.runner)  # type: ignore[assignment]
    with pytest.raises(Crash):
        request_launch(world.binder, "gh", "u/r/HEAD")
    (session,) = world.store.list()
    assert session.state == S.LAUNCHING and not session.task_id
    assert reap(world.binder) == {}  # a minute's grace: the launch may still be under way
    world.clock.sleep(61)
    assert reap(world.binder)["resumed"] == 1
    resumed = now(world, session.id)
    assert resumed.state == S.STARTING and resumed.task_id in world.runner.tasks
    assert len(world.runner.tasks) == 1  # the runner's one task per launch attempt


def test_a_task_ecs_does_not_list_yet_is_not_taken_for_lost(world: World) -> None:
    world.registry.images.add(IMAGE)
    start = world.runner.start

    def crash(request: Any) -> str:
        raise Crash("died before RunTask")

    world.runner.start = crash  # type: ignore[method-assign]
    with pytest.raises(Crash):
        request_launch(world.binder, "gh", "u/r/HEAD")
    world.runner.start = start  # type: ignore[method-assign]
    world.clock.sleep(61)
    assert reap(world.binder)["resumed"] == 1  # a minute after the session was written
    (session,) = world.store.list()
    started = world.runner.tasks.pop(session.task_id)  # DescribeTasks lags RunTask
    world.clock.sleep(30)
    assert "lost" not in reap(world.binder)
    assert now(world, session.id).state == S.STARTING
    world.runner.tasks[session.task_id] = started  # listed now, and it runs
    world.runner.addresses[session.task_id] = "h:1"
    assert reap(world.binder)["routed"] == 1
    del world.runner.tasks[session.task_id]  # a task ECS no longer knows a minute on is gone
    world.clock.sleep(61)
    assert reap(world.binder)["lost"] == 1
    assert now(world, session.id).state == S.FAILED


def test_a_session_left_queued_by_a_crash_is_moved_on(world: World) -> None:
    original = world.builder.start

    def crash(job: Any) -> str:
        raise Crash("died between the claim and StartBuild")

    world.builder.start = crash  # type: ignore[method-assign]
    with pytest.raises(Crash):
        request_launch(world.binder, "gh", "u/r/HEAD")
    world.builder.start = original  # type: ignore[method-assign]
    (session,) = world.store.list()
    assert session.state == S.QUEUED and world.builder.jobs == {}
    world.clock.sleep(61)
    reap(world.binder)
    moved = now(world, session.id)
    assert moved.state == S.BUILDING and len(world.builder.jobs) == 1
    image = world.store.get_image(IMAGE)
    assert image is not None and image.build_id in world.builder.jobs


def test_old_build_news_is_not_taken_for_a_rebuild_without_a_build_id(world: World) -> None:
    request_launch(world.binder, "gh", "u/r/HEAD")
    (old,) = world.builder.jobs
    on_build_finished(world.binder, IMAGE, ok=False, reason="first", build_id=old)
    retry = request_launch(world.binder, "gh", "u/r/HEAD")  # claims the build again...
    wait_for_builder(world.binder, IMAGE)  # ...and waits for a builder: no build id yet
    on_build_finished(world.binder, IMAGE, ok=False, reason="first", build_id=old)  # again
    assert world.store.get_image(IMAGE).state == ImageState.BUILDING  # type: ignore[union-attr]
    assert now(world, retry.id).state == S.BUILDING


@pytest.mark.parametrize("warning_first", [True, False], ids=["warning first", "stop first"])
def test_a_spot_loss_after_ready_counts_once_whatever_the_order(
    world: World, warning_first: bool
) -> None:
    session = launched(world)
    task(world, session.id, session.task_id, TaskStatus.RUNNING, address="h:1")
    world.prober.up.add(f"https://binder.test/s/{session.id}/")
    check_ready(world.binder, session.id)
    world.clock.sleep(600)
    news = [TaskStatus.STOPPING, TaskStatus.STOPPED]
    for status in news if warning_first else reversed(news):
        task(world, session.id, session.task_id, status, reason=SPOT)
    ended = now(world, session.id)
    assert (ended.state, ended.interruptions, ended.reason) == (S.STOPPED, 1, SPOT)
