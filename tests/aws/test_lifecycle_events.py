"""Events and Spot relaunches on moto, through the real reap handler: an attendee's session
runs at the event's size, is priced where it lands and settled in DynamoDB when it stops; a
server lost to a Spot interruption before it was ready is started again on-demand."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from skybinder.domain.event import EventRequest
from skybinder.domain.model import SessionState
from skybinder.service.events import create_event, request_event_launch
from tests.aws.compute_fixtures import CLUSTER, IMAGE, SPEC, Cloud, launch, stream

S = SessionState


def providers(cloud: Cloud) -> list[str]:
    return [run["capacityProviderStrategy"][0]["capacityProvider"] for run in cloud.run_tasks]


def test_a_spot_interruption_before_ready_relaunches_on_demand(cloud: Cloud) -> None:
    cloud.push_image(IMAGE)
    session = launch(cloud)
    first = session.task_id
    cloud.task_stops(first)
    stopped = cloud.task_event("ecs-task-stopped-spot", first)
    cloud.send_reap(stopped)
    again = cloud.session(session.id)
    assert again.state == S.STARTING and again.task_id not in {"", first}
    assert again.interruptions == 1
    assert providers(cloud) == ["FARGATE_SPOT", "FARGATE"]
    cloud.send_reap(stopped)  # delivered twice: nothing more starts
    assert len(cloud.run_tasks) == 2
    cloud.send_reap(cloud.task_event("ecs-task-running", again.task_id))
    assert stream(cloud.binder, session.id)[-1].phase == "ready"
    ready = cloud.session(session.id)
    assert ready.capacity == "on-demand"
    assert cloud.counters()["global"] == 1


def workshop(cloud: Cloud, **fields: Any) -> EventRequest:
    now = cloud.clock.now()
    values: dict[str, Any] = {
        "slug": "scipy-tutorial",
        "title": "SciPy tutorial",
        "provider": "gh",
        "spec": SPEC,
        "starts_at": datetime.fromtimestamp(now - 60, UTC),
        "ends_at": datetime.fromtimestamp(now + 4 * 3600, UTC),
        "seats": 1,
        "budget_usd": 1.0,
        "cpu": 2,
        "memory_gb": 4,
        "max_minutes": 60,
    }
    return EventRequest(**{**values, **fields})


def test_an_event_session_runs_at_its_size_and_is_settled_where_it_ran(cloud: Cloud) -> None:
    cloud.push_image(IMAGE)
    status = create_event(cloud.binder, workshop(cloud))
    assert status.prebuild == "stopped"  # the image was there: nothing to build
    session = request_event_launch(cloud.binder, "gh", SPEC, slug="scipy-tutorial", code=None)
    assert session.state == S.STARTING
    overrides = cloud.run_tasks[-1]["overrides"]
    assert (overrides["cpu"], overrides["memory"]) == ("2048", "4096")
    refused = request_event_launch(cloud.binder, "gh", SPEC, slug="scipy-tutorial", code=None)
    assert refused.state == S.FAILED and "1 of 1 seats in use" in refused.reason
    cloud.send_reap(cloud.task_event("ecs-task-running", session.task_id))
    assert stream(cloud.binder, session.id)[-1].phase == "ready"
    ready = cloud.session(session.id)
    event = status.event
    assert (ready.capacity, ready.hourly_micros) == ("spot", event.spot_hourly_micros)
    cloud.clock.sleep(1800)
    cloud.task_stops(session.task_id)
    cloud.send_reap(cloud.task_event("ecs-task-stopped-exited", session.task_id))
    ended = cloud.session(session.id)
    assert ended.state == S.STOPPED
    assert ended.cost_micros == event.spot_hourly_micros // 2  # half an hour on Spot
    usage = cloud.binder.store.event_usage("scipy-tutorial")
    assert (usage.seats_in_use, usage.reserved_micros) == (0, 0)
    assert usage.spent_micros == ended.cost_micros
    assert all(count == 0 for count in cloud.counters().values())
    assert cloud.ecs.list_tasks(cluster=CLUSTER, desiredStatus="RUNNING")["taskArns"] == []
