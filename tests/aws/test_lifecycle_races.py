"""Events delivered twice, late or out of order, and launches racing each other, on moto:
nothing is built, started or routed twice, and nothing is left behind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from skybinder.adapters.aws import names as n
from skybinder.domain.model import ImageState, Session, SessionState
from skybinder.service.sessions import check_ready
from tests.aws.compute_fixtures import IMAGE, Cloud, deploy, launch, make_cloud
from tests.aws.conftest import ApiCalls, mocked_aws
from tests.threads import each, race

S = SessionState


def at_once(count: int, action: Callable[[], Session]) -> list[Session]:
    """Run `action` in `count` threads released together; their results (a worker's error is
    raised here)."""
    return each(race(count, lambda _: action()))


def test_a_running_event_twice_routes_the_session_once_and_keeps_it_ready(
    cloud: Cloud,
) -> None:
    cloud.push_image(IMAGE)
    session = launch(cloud)
    running = cloud.task_event("ecs-task-running", session.task_id)
    cloud.send_reap(running)
    cloud.send_reap(running)
    address = cloud.routed(session.id)
    assert address.endswith(":8888")
    assert cloud.session(session.id).state == S.STARTING
    assert check_ready(cloud.binder, session.id).state == S.READY  # type: ignore[union-attr]
    cloud.send_reap(running)
    assert cloud.session(session.id).state == S.READY
    assert cloud.routed(session.id) == address


def test_a_running_event_after_the_end_makes_no_route_and_stops_the_task(cloud: Cloud) -> None:
    cloud.push_image(IMAGE)
    session = launch(cloud)
    running = cloud.task_event("ecs-task-running", session.task_id)
    stopped = cloud.task_event("ecs-task-stopped-exited", session.task_id)
    calls = ApiCalls(cloud.function("reap").runner.client)
    cloud.send_reap(stopped)  # delivered first, though it happened last
    assert cloud.session(session.id).state == S.FAILED
    cloud.send_reap(running)
    assert cloud.routed(session.id) == ""
    assert calls.names.count("StopTask") == 1  # the late RUNNING asks the task to stop
    assert cloud.session(session.id).state == S.FAILED


def test_a_build_event_twice_prepares_and_launches_once(cloud: Cloud) -> None:
    first, second = launch(cloud), launch(cloud)
    build_id = cloud.build_id(IMAGE)
    cloud.push_image(IMAGE)
    calls = ApiCalls(cloud.function("build").runner.client)
    succeeded = cloud.build_event("codebuild-succeeded", build_id)
    cloud.send_build(succeeded)
    cloud.send_build(succeeded)
    cloud.send_build(cloud.build_event("codebuild-in-progress", build_id))  # late and stale
    assert calls.names.count("RegisterTaskDefinition") == 1
    assert calls.names.count("RunTask") == 2
    tasks = {cloud.session(s.id).task_id for s in (first, second)}
    assert len(tasks) == 2 and all(tasks)


def test_a_late_failure_of_an_earlier_build_leaves_the_new_build_alone(cloud: Cloud) -> None:
    launch(cloud)
    old_build = cloud.build_id(IMAGE)
    failed = cloud.build_event("codebuild-failed", old_build)
    cloud.send_build(failed)
    assert cloud.binder.store.get_image(IMAGE).state == ImageState.FAILED
    retry = launch(cloud)  # a new launch builds again
    new_build = cloud.build_id(IMAGE)
    assert new_build != old_build and len(cloud.starts) == 2
    cloud.send_build(failed)  # the old build's news, delivered again
    assert cloud.binder.store.get_image(IMAGE).state == ImageState.BUILDING
    assert cloud.session(retry.id).state == S.BUILDING
    cloud.push_image(IMAGE)
    cloud.send_build(cloud.build_event("codebuild-succeeded", new_build))
    assert cloud.session(retry.id).state == S.STARTING


def test_two_launches_of_one_image_at_once_start_one_build(cloud: Cloud) -> None:
    sessions = at_once(2, lambda: launch(cloud))
    assert [s.state for s in sessions] == [S.BUILDING, S.BUILDING]
    assert len(cloud.starts) == 1
    cloud.push_image(IMAGE)
    cloud.send_build(cloud.build_event("codebuild-succeeded", cloud.build_id(IMAGE)))
    assert {cloud.session(s.id).state for s in sessions} == {S.STARTING}
    assert len(cloud.run_tasks) == 2


def test_launches_against_a_limit_admit_exactly_the_limit() -> None:
    limit, launches = 3, 8
    with mocked_aws():
        cloud = make_cloud(deploy(settings={n.ENV_MAX_SESSIONS: str(limit)}))
        cloud.push_image(IMAGE)
        sessions = at_once(launches, lambda: launch(cloud))
        admitted = [s for s in sessions if s.state == S.STARTING]
        refused = [s for s in sessions if s.state == S.FAILED]
        assert len(admitted) == limit and len(refused) == launches - limit
        assert {s.status_code for s in refused} == {429}
        assert len(cloud.run_tasks) == limit
        assert cloud.counters()["global"] == limit
        for session in admitted:
            task: Any = session.task_id
            cloud.task_stops(task)
            cloud.send_reap(cloud.task_event("ecs-task-stopped-exited", task))
        assert cloud.counters()["global"] == 0
        assert all(cloud.routed(s.id) == "" for s in admitted)
