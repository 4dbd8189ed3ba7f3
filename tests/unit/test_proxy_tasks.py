"""The session proxy's fleet: a cached launch is admitted only while the proxy is marked awake
(and wakes it when it is not), a launch after a build checks the mark, the reaper puts it to
sleep once nothing has happened for `proxy_idle` and wakes it while servers run, and a launch
that races the sleep is served."""

from __future__ import annotations

import dataclasses

import pytest

from skybinder.domain.model import SessionState, TaskStatus
from skybinder.service.launch import on_build_finished, request_launch
from skybinder.service.reap import reap
from skybinder.service.sessions import on_task_state, stop_session
from tests.fake_ports import FakeProxyFleet
from tests.unit.conftest import SHA, World, make_world

S = SessionState
IMAGE = f"skybinder-gh-u-r:{SHA}"
IDLE = 900.0


@pytest.fixture
def fleet_world() -> World:
    world = make_world()
    world.binder.proxy = FakeProxyFleet()
    world.binder.config = dataclasses.replace(world.binder.config, proxy_idle=IDLE)
    world.registry.images.add(IMAGE)
    return world


def fleet(world: World) -> FakeProxyFleet:
    assert isinstance(world.binder.proxy, FakeProxyFleet)
    return world.binder.proxy


def test_a_launch_while_the_proxy_sleeps_marks_and_wakes_it(fleet_world: World) -> None:
    session = request_launch(fleet_world.binder, "gh", "u/r/HEAD")
    assert session.state == S.STARTING
    assert fleet(fleet_world).tasks == 2 and fleet(fleet_world).calls == ["wake"]
    assert fleet_world.store.proxy_awake()


def test_a_launch_while_it_is_awake_asks_the_fleet_nothing(fleet_world: World) -> None:
    request_launch(fleet_world.binder, "gh", "u/r/HEAD")
    calls = list(fleet(fleet_world).calls)
    again = request_launch(fleet_world.binder, "gh", "u/r/HEAD")
    assert again.state == S.STARTING and fleet(fleet_world).calls == calls


def test_a_build_only_launch_or_a_refused_one_leaves_the_proxy_asleep(fleet_world: World) -> None:
    request_launch(fleet_world.binder, "gh", "u/r/HEAD", build_only=True)
    request_launch(fleet_world.binder, "gh", "no/such/repo")
    assert fleet(fleet_world).tasks == 0 and not fleet_world.store.proxy_awake()


def test_a_session_that_waited_for_its_build_wakes_the_proxy_when_it_starts(
    fleet_world: World,
) -> None:
    world = fleet_world
    session = request_launch(world.binder, "gh", "u/r/old")  # not built: it waits
    assert session.state == S.BUILDING and fleet(world).tasks == 0
    ((build_id, _),) = world.builder.jobs.items()
    on_build_finished(world.binder, world.builder.succeed(build_id), ok=True)
    assert world.store.get(session.id).state == S.STARTING  # type: ignore[union-attr]
    assert fleet(world).tasks == 2 and world.store.proxy_awake()


def test_the_proxy_sleeps_only_after_the_idle_time_without_sessions(fleet_world: World) -> None:
    world = fleet_world
    session = request_launch(world.binder, "gh", "u/r/HEAD")
    reap(world.binder)  # a server is starting: the proxy stays
    assert fleet(world).tasks == 2
    on_task_state(world.binder, session.id, session.task_id, TaskStatus.STOPPED, reason="exit")
    world.clock.sleep(IDLE - 1)
    assert "proxy-slept" not in reap(world.binder)
    assert fleet(world).tasks == 2
    world.clock.sleep(2)
    assert reap(world.binder)["proxy-slept"] == 1
    assert fleet(world).tasks == 0 and not world.store.proxy_awake()
    calls = len(fleet(world).calls)
    assert "proxy-slept" not in reap(world.binder)  # asleep: looked at, not touched
    assert fleet(world).calls[calls:] == ["awake"]


def test_sessions_waiting_for_a_build_keep_the_proxy_as_it_is(fleet_world: World) -> None:
    world = fleet_world
    ended = request_launch(world.binder, "gh", "u/r/HEAD")
    on_task_state(world.binder, ended.id, ended.task_id, TaskStatus.STOPPED, reason="exit")
    request_launch(world.binder, "gh", "u/r/old")  # its image is not built: it waits
    world.clock.sleep(IDLE * 2)
    reap(world.binder)
    assert fleet(world).tasks == 2  # awake, as the waiting session will need it


def test_the_reaper_wakes_the_proxy_while_servers_run(fleet_world: World) -> None:
    world = fleet_world
    session = request_launch(world.binder, "gh", "u/r/HEAD")
    on_task_state(world.binder, session.id, session.task_id, TaskStatus.RUNNING, address="h:1")
    fleet(world).tasks = 0  # its tasks were stopped by hand, or the wake failed
    assert reap(world.binder)["proxy-woken"] == 1
    assert fleet(world).tasks == 2
    assert "proxy-woken" not in reap(world.binder)  # running: nothing to do


def test_a_launch_that_marks_it_awake_while_the_reaper_sleeps_it_is_served(
    fleet_world: World,
) -> None:
    world = fleet_world
    session = request_launch(world.binder, "gh", "u/r/HEAD")
    stop_session(world.binder, session.id, "done")
    on_task_state(world.binder, session.id, session.task_id, TaskStatus.STOPPED, reason="exit")
    world.clock.sleep(IDLE + 1)
    late = []

    class Racing(FakeProxyFleet):
        """A launch lands between the reaper's mark and its call to stop the tasks: it finds
        the proxy marked asleep, marks it awake and wakes it, before the tasks are stopped."""

        def sleep(self) -> None:
            late.append(request_launch(world.binder, "gh", "u/r/HEAD"))
            super().sleep()

    racing = Racing()
    racing.tasks = 2
    world.binder.proxy = racing
    assert reap(world.binder)["proxy-woken"] == 1
    assert racing.tasks == 2 and racing.calls[-3:] == ["wake", "sleep", "wake"]
    assert late[0].state == S.STARTING


def test_tasks_started_by_hand_while_it_sleeps_are_stopped(fleet_world: World) -> None:
    world = fleet_world
    fleet(world).tasks = 3  # an operator scaled it, or a wake outlived its launch's failure
    assert reap(world.binder)["proxy-slept"] == 1
    assert fleet(world).tasks == 0
    assert "proxy-slept" not in reap(world.binder)  # asleep, and seen so
