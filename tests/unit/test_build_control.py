"""Builds nobody waits for are cancelled; builds nobody runs are started again; a restart
ends what the previous run left. Against fakes, with a builder that has BuildControl."""

from __future__ import annotations

import pytest

from skybinder.domain.model import ImageState, SessionState, TaskStatus
from skybinder.service.build_control import CANCELLED, INTERRUPTED
from skybinder.service.launch import on_build_finished, request_launch
from skybinder.service.ports import BuildControl
from skybinder.service.reap import reap
from skybinder.service.restart import NOT_READY, RESTARTED, end_previous_run
from skybinder.service.sessions import on_task_state, stop_session
from tests.fake_ports import FakeControlledBuilder
from tests.unit.conftest import SHA, World, make_world

S = SessionState
IMAGE = f"skybinder-gh-u-r:{SHA}"


@pytest.fixture
def world() -> World:
    made = make_world()
    builder = FakeControlledBuilder(made.registry)
    made.binder.builder = made.builder = builder
    return made


def builder(world: World) -> FakeControlledBuilder:
    assert isinstance(world.builder, FakeControlledBuilder)
    return world.builder


def test_the_fake_has_the_capability() -> None:
    assert isinstance(FakeControlledBuilder(make_world().registry), BuildControl)


def test_stopping_the_only_session_waiting_for_a_build_cancels_it(world: World) -> None:
    session = request_launch(world.binder, "gh", "u/r/HEAD")
    (build_id,) = world.builder.jobs
    stop_session(world.binder, session.id, "stopped by an operator")
    assert builder(world).cancelled == {build_id: CANCELLED}
    image = world.store.get_image(IMAGE)
    assert image is not None and (image.state, image.reason) == (ImageState.FAILED, CANCELLED)
    # The cancelled build's late news changes nothing; a new launch builds anew.
    on_build_finished(world.binder, IMAGE, ok=False, reason=CANCELLED, build_id=build_id)
    again = request_launch(world.binder, "gh", "u/r/HEAD")
    assert again.state == S.BUILDING and len(world.builder.jobs) == 2


def test_a_build_another_session_waits_for_goes_on(world: World) -> None:
    first = request_launch(world.binder, "gh", "u/r/HEAD")
    second = request_launch(world.binder, "gh", "u/r/main")
    stop_session(world.binder, first.id, "stopped by an operator")
    assert builder(world).cancelled == {}
    (build_id,) = world.builder.jobs
    on_build_finished(world.binder, world.builder.succeed(build_id), ok=True, build_id=build_id)
    assert world.store.get(second.id).state == S.STARTING  # type: ignore[union-attr]


def test_a_build_that_times_out_for_its_last_session_is_cancelled(world: World) -> None:
    request_launch(world.binder, "gh", "u/r/HEAD")
    world.clock.t += world.binder.config.build_timeout + 1
    assert reap(world.binder)["build-timeout"] == 1
    assert list(builder(world).cancelled.values()) == [CANCELLED]


def test_a_build_nobody_runs_is_started_again_by_the_next_launch(world: World) -> None:
    stuck = request_launch(world.binder, "gh", "u/r/HEAD")
    (dead,) = world.builder.jobs
    builder(world).live.clear()  # the binder that ran it crashed
    again = request_launch(world.binder, "gh", "u/r/HEAD")
    assert len(world.builder.jobs) == 2 and again.state == S.BUILDING
    (new,) = set(world.builder.jobs) - {dead}
    assert world.store.get_image(IMAGE).build_id == new  # type: ignore[union-attr]
    on_build_finished(world.binder, world.builder.succeed(new), ok=True, build_id=new)
    for session in (stuck, again):  # the session of the dead build goes on with the new one
        assert world.store.get(session.id).state == S.STARTING  # type: ignore[union-attr]


def test_a_live_build_is_joined_not_restarted(world: World) -> None:
    request_launch(world.binder, "gh", "u/r/HEAD")
    request_launch(world.binder, "gh", "u/r/HEAD")
    assert len(world.builder.jobs) == 1


def test_a_restart_ends_every_session_of_the_previous_run_and_resets_its_builds(
    world: World,
) -> None:
    world.registry.images.add("skybinder-gh-u-other:" + SHA)
    ready = request_launch(world.binder, "gh", "u/other/HEAD")
    on_task_state(world.binder, ready.id, ready.task_id, TaskStatus.RUNNING, address="h:1")
    world.prober.up.add(world.store.get(ready.id).url)  # type: ignore[union-attr]
    reap(world.binder)
    assert world.store.get(ready.id).state == S.READY  # type: ignore[union-attr]
    building = request_launch(world.binder, "gh", "u/r/HEAD")
    builder(world).live.clear()  # the binder stopped: nothing of it runs any more

    done = end_previous_run(world.binder)

    assert done == {"build-reset": 1, "server-ended": 1, "launch-ended": 1}
    ended = world.store.get(ready.id)
    assert ended is not None and (ended.state, ended.reason) == (S.STOPPED, RESTARTED)
    failed = world.store.get(building.id)
    assert failed is not None and (failed.state, failed.reason) == (S.FAILED, NOT_READY)
    assert failed.status_code == 503
    image = world.store.get_image(IMAGE)
    assert image is not None and (image.state, image.reason) == (ImageState.FAILED, INTERRUPTED)
    relaunch = request_launch(world.binder, "gh", "u/r/HEAD")
    assert relaunch.state == S.BUILDING and len(world.builder.jobs) == 2
