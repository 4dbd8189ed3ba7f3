"""Fargate Spot on moto: no Spot capacity (fall back, or say so), and interruptions, whose
warning and end may arrive in either order, each possibly twice."""

from __future__ import annotations

import pytest

from skybinder.adapters.aws.ecs_stops import SPOT_INTERRUPTION
from skybinder.domain.model import SessionState
from tests.aws.compute_fixtures import CLUSTER, IMAGE, Cloud, deploy, launch, make_cloud, stream
from tests.aws.conftest import mocked_aws

S = SessionState


def providers(cloud: Cloud) -> list[str]:
    return [run["capacityProviderStrategy"][0]["capacityProvider"] for run in cloud.run_tasks]


def test_no_spot_capacity_falls_back_to_on_demand(cloud: Cloud) -> None:
    cloud.push_image(IMAGE)
    cloud.spot_unavailable()
    session = launch(cloud)
    assert session.state == S.STARTING
    assert providers(cloud) == ["FARGATE_SPOT", "FARGATE"]
    (task,) = cloud.ecs.describe_tasks(cluster=CLUSTER, tasks=[session.task_id])["tasks"]
    assert task["capacityProviderName"] == "FARGATE"
    # Spot has capacity again: the next session runs on it.
    assert launch(cloud).state == S.STARTING
    assert providers(cloud)[-1] == "FARGATE_SPOT"


def test_spot_only_without_capacity_fails_with_a_clear_message() -> None:
    with mocked_aws():
        cloud = make_cloud(deploy(capacity="spot"))
        cloud.push_image(IMAGE)
        cloud.spot_unavailable()
        session = launch(cloud)
        assert providers(cloud) == ["FARGATE_SPOT"]
        assert session.state == S.FAILED
        assert session.reason == (
            "Could not start the server: Fargate Spot has no capacity for a new server right "
            "now. Please try again in a few minutes."
        )
        assert stream(cloud.binder, session.id)[-1].phase == "failed"
        assert cloud.routed(session.id) == ""
        assert cloud.running_tasks() == []


def ready_session(cloud: Cloud) -> str:
    cloud.push_image(IMAGE)
    session = launch(cloud)
    cloud.send_reap(cloud.task_event("ecs-task-running", session.task_id))
    assert stream(cloud.binder, session.id)[-1].phase == "ready"
    return session.id


@pytest.mark.parametrize("order", ["warning first", "stopped first"])
def test_a_spot_interruption_ends_the_session_once(cloud: Cloud, order: str) -> None:
    session_id = ready_session(cloud)
    task = cloud.session(session_id).task_id
    warning = cloud.task_event("ecs-task-spot-warning", task)
    stopped = cloud.task_event("ecs-task-stopped-spot", task)
    if order == "warning first":
        assert cloud.send_reap(warning)["status"] == "stopping"
        stopping = cloud.session(session_id)
        assert stopping.state == S.STOPPING and stopping.reason == SPOT_INTERRUPTION
        # Two minutes left: the route stays, so the user can still save their work.
        assert cloud.routed(session_id)
        events = [warning, stopped, stopped, warning]
    else:
        events = [stopped, warning, stopped, warning]
    cloud.task_stops(task)
    ends: list[float | None] = []
    for event in events:
        cloud.clock.sleep(10)  # a rewrite of the end would show as a later ended_at
        cloud.send_reap(event)
        ends.append(cloud.session(session_id).ended_at)
    ended = cloud.session(session_id)
    assert ended.state == S.STOPPED and ended.reason == SPOT_INTERRUPTION
    assert len({end for end in ends if end is not None}) == 1  # ended once, never rewritten
    assert cloud.routed(session_id) == ""
    assert all(count == 0 for count in cloud.counters().values())
    failed = stream(cloud.binder, session_id)[-1]
    assert failed.phase == "failed" and "spot-interruption" in failed.message
