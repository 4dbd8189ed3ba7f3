"""The session proxy's fleet: woken before a server starts, put to sleep by the reaper once
nothing has happened for `proxy_idle`, and woken again when a launch races the sleep."""

from __future__ import annotations

import dataclasses

import pytest

from skybinder.domain.model import SessionState, TaskStatus
from skybinder.service.launch import request_launch
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


def test_a_launch_wakes_the_proxy_before_its_server_starts(fleet_world: World) -> None:
    session = request_launch(fleet_world.binder, "gh", "u/r/HEAD")
    assert session.state == S.STARTING
    assert fleet(fleet_world).tasks == 2 and fleet(fleet_world).calls == ["wake"]


def test_a_build_only_launch_or_a_refused_one_leaves_the_proxy_asleep(fleet_world: World) -> None:
    request_launch(fleet_world.binder, "gh", "u/r/HEAD", build_only=True)
    request_launch(fleet_world.binder, "gh", "no/such/repo")
    assert fleet(fleet_world).tasks == 0


def test_the_proxy_sleeps_only_after_the_idle_time_without_sessions(fleet_world: World) -> None:
    world = fleet_world
    session = request_launch(world.binder, "gh", "u/r/HEAD")
    world.clock.sleep(IDLE * 2)
    reap(world.binder)  # a server is starting (its task is alive): the proxy stays
    assert fleet(world).tasks == 2
    on_task_state(world.binder, session.id, session.task_id, TaskStatus.STOPPED, reason="exit")
    world.clock.sleep(IDLE - 1)
    assert "proxy-slept" not in reap(world.binder)
    assert fleet(world).tasks == 2
    world.clock.sleep(2)
    assert reap(world.binder)["proxy-slept"] == 1
    assert fleet(world).tasks == 0
    calls = len(fleet(world).calls)
    reap(world.binder)  # asleep: only looked at
    assert fleet(world).calls[calls:] == ["awake"]


def test_sessions_waiting_for_a_build_keep_the_proxy_as_it_is(fleet_world: World) -> None:
    world = fleet_world
    request_launch(world.binder, "gh", "u/r/old")  # its image is not built: it waits
    world.clock.sleep(IDLE * 2)
    reap(world.binder)
    assert fleet(world).calls == []


def test_the_reaper_wakes_the_proxy_while_servers_run(fleet_world: World) -> None:
    world = fleet_world
    session = request_launch(world.binder, "gh", "u/r/HEAD")
    on_task_state(world.binder, session.id, session.task_id, TaskStatus.RUNNING, address="h:1")
    fleet(world).tasks = 0  # the wake failed, or an operator scaled it in
    assert reap(world.binder)["proxy-woken"] == 1
    assert fleet(world).tasks == 2


def test_a_launch_admitted_while_the_proxy_is_put_to_sleep_wakes_it_again(
    fleet_world: World,
) -> None:
    world = fleet_world
    session = request_launch(world.binder, "gh", "u/r/HEAD")
    stop_session(world.binder, session.id, "done")
    on_task_state(world.binder, session.id, session.task_id, TaskStatus.STOPPED, reason="exit")
    world.clock.sleep(IDLE + 1)

    class Racing(FakeProxyFleet):
        """A launch lands between the reaper's decision and its sleep."""

        def sleep(self) -> None:
            world.binder.proxy = FakeProxyFleet(floor=2)
            world.binder.proxy.tasks = 2
            request_launch(world.binder, "gh", "u/r/HEAD")  # its own wake sees the proxy up
            world.binder.proxy = self
            super().sleep()

    racing = Racing()
    racing.tasks = 2
    world.binder.proxy = racing
    assert reap(world.binder)["proxy-woken"] == 1
    assert racing.tasks == 2 and racing.calls[-2:] == ["sleep", "wake"]
