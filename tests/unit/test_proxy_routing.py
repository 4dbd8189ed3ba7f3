"""Sessions served by the session proxy: the store's address is the route, URLs are named on
the binder's own site, and the reaper ends sessions the proxy has seen no traffic for."""

from __future__ import annotations

import dataclasses

import pytest

from skybinder.adapters.proxy_router import ProxyRouter
from skybinder.domain.model import Session, SessionState, TaskStatus
from skybinder.service.launch import request_launch
from skybinder.service.reap import reap
from skybinder.service.sessions import check_ready, on_task_state
from tests.unit.conftest import SHA, World, make_world

S = SessionState
IMAGE = f"skybinder-gh-u-r:{SHA}"
IDLE = 600.0


@pytest.fixture
def proxied() -> World:
    world = make_world()
    world.binder.router = ProxyRouter(fallback="http://127.0.0.1:8585/")
    world.binder.config = dataclasses.replace(world.binder.config, idle_timeout=IDLE)
    return world


def launch_ready(world: World, launch_host: str = "http://10.1.2.3:8585/") -> Session:
    world.registry.images.add(IMAGE)
    session = request_launch(world.binder, "gh", "u/r/HEAD", launch_host=launch_host)
    on_task_state(
        world.binder, session.id, session.task_id, TaskStatus.RUNNING, address="127.0.0.1:4001"
    )
    world.prober.up.add(f"http://127.0.0.1:4001/s/{session.id}/")  # probed at the server
    found = check_ready(world.binder, session.id)
    assert found is not None and found.state == S.READY
    return found


def test_the_url_is_the_binders_as_the_launch_came_in_and_the_address_is_the_route(
    proxied: World,
) -> None:
    session = launch_ready(proxied)
    assert session.url == f"http://10.1.2.3:8585/s/{session.id}/"
    route = proxied.store.route(session.id)
    assert route is not None and route.routable and route.address == "127.0.0.1:4001"


def test_readiness_is_checked_through_the_public_url_where_the_server_is_out_of_reach() -> None:
    router = ProxyRouter("https://binder.example.org", probe_direct=False)
    session = Session(id="abc", provider="gh", spec="u/r/x", address="10.0.0.9:8888")
    assert router.probe_url(session) == "https://binder.example.org/s/abc/"
    direct = ProxyRouter("https://binder.example.org")
    assert direct.probe_url(session) == "http://10.0.0.9:8888/s/abc/"


def test_a_public_url_wins_over_the_request_and_no_host_name_is_guessed() -> None:
    router = ProxyRouter("https://binder.example.org/", fallback="http://127.0.0.1:1/")
    session = Session(id="abc", provider="gh", spec="u/r/x", launch_host="http://10.0.0.1/")
    assert router.url(session) == "https://binder.example.org/s/abc/"
    warm = session.model_copy(update={"launch_host": ""})
    assert ProxyRouter(fallback="http://127.0.0.1:8585/").url(warm) == (
        "http://127.0.0.1:8585/s/abc/"
    )


def test_an_ended_session_is_no_longer_routed(proxied: World) -> None:
    session = launch_ready(proxied)
    on_task_state(proxied.binder, session.id, session.task_id, TaskStatus.STOPPED, reason="x")
    route = proxied.store.route(session.id)
    assert route is not None and not route.routable


def test_a_session_without_traffic_for_the_idle_timeout_is_stopped(proxied: World) -> None:
    session = launch_ready(proxied)
    proxied.clock.t += IDLE - 1
    reap(proxied.binder)
    assert proxied.store.get(session.id).state == S.READY  # type: ignore[union-attr]
    proxied.clock.t += 2
    assert reap(proxied.binder)["idle"] == 1
    stopping = proxied.store.get(session.id)
    assert stopping is not None and stopping.state == S.STOPPING
    assert stopping.reason == "idle: no activity for 10 minutes"
    assert proxied.runner.stopped == [session.task_id]  # even if its kernel is busy


def test_traffic_recorded_by_the_proxy_keeps_a_session(proxied: World) -> None:
    session = launch_ready(proxied)
    proxied.clock.t += IDLE - 10
    proxied.store.record_activity(session.id, proxied.clock.t)
    proxied.clock.t += IDLE - 10
    reap(proxied.binder)
    assert proxied.store.get(session.id).state == S.READY  # type: ignore[union-attr]
    proxied.clock.t += 11
    assert reap(proxied.binder)["idle"] == 1


def test_without_an_idle_timeout_only_jupyter_culls(world: World) -> None:
    world.registry.images.add(IMAGE)
    session = request_launch(world.binder, "gh", "u/r/HEAD")
    on_task_state(world.binder, session.id, session.task_id, TaskStatus.RUNNING, address="h:1")
    world.prober.up.add(f"https://binder.test/s/{session.id}/")
    check_ready(world.binder, session.id)
    world.clock.t += 3000
    assert "idle" not in reap(world.binder)


def test_a_warm_session_waits_unreaped_and_gets_its_attendees_url_and_idle_clock(
    proxied: World,
) -> None:
    from skybinder.service.events import create_event, event_sessions, request_event_launch
    from tests.unit.test_events_service import at, request

    create_event(proxied.binder, request(proxied, starts_at=at(proxied, 300), warm_pool=1))
    proxied.registry.images.add(IMAGE)
    reap(proxied.binder)
    (warm,) = [s for s in event_sessions(proxied.binder, "swc-2026") if s.warm]
    on_task_state(proxied.binder, warm.id, warm.task_id, TaskStatus.RUNNING, address="h:2")
    proxied.prober.up.add(f"http://h:2/s/{warm.id}/")
    check_ready(proxied.binder, warm.id)
    waiting = proxied.store.get(warm.id)
    assert waiting is not None and waiting.url == f"http://127.0.0.1:8585/s/{warm.id}/"
    proxied.clock.t += IDLE + 60  # longer than the idle timeout, still waiting: kept
    assert "idle" not in reap(proxied.binder)
    handed = request_event_launch(
        proxied.binder,
        "gh",
        "u/r/main",
        slug="swc-2026",
        code=None,
        launch_host="https://room.example/",
    )
    assert handed.id == warm.id and handed.url == f"https://room.example/s/{warm.id}/"
    proxied.clock.t += IDLE - 1
    assert "idle" not in reap(proxied.binder)  # counted from the hand-over
