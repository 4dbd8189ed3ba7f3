"""The reap function on its one-minute schedule (old and stuck sessions, orphans, counters,
missed build news) and with task events it must not act on, on moto."""

from __future__ import annotations

from skybinder.adapters.aws import names as n
from skybinder.domain.model import Image, ImageState, SessionState
from skybinder.service.ports import LaunchRequest
from tests.aws.compute_fixtures import (
    CLUSTER,
    IMAGE,
    TABLE,
    TARGET_GROUP_PREFIX,
    Cloud,
    launch,
    load_event,
    stream,
)
from tests.aws.conftest import client

S = SessionState
LOST = "0123456789abcdef"  # a session id no store has


def scheduled(cloud: Cloud) -> dict[str, int]:
    result: dict[str, dict[str, int]] = cloud.send_reap(load_event("scheduled"))
    return result["reaped"]


def ready(cloud: Cloud) -> str:
    cloud.push_image(IMAGE)
    session = launch(cloud)
    cloud.send_reap(cloud.task_event("ecs-task-running", session.task_id))
    assert stream(cloud.binder, session.id)[-1].phase == "ready"
    return session.id


def test_sessions_past_their_max_age_are_stopped_with_that_reason(cloud: Cloud) -> None:
    session_id = ready(cloud)
    task = cloud.session(session_id).task_id
    assert scheduled(cloud) == {}
    cloud.clock.sleep(6 * 3600 + 1)
    assert scheduled(cloud) == {"max-age": 1}
    stopping = cloud.session(session_id)
    assert stopping.state == S.STOPPING and stopping.reason.startswith("max-age:")
    (stopped_task,) = cloud.ecs.describe_tasks(cluster=CLUSTER, tasks=[task])["tasks"]
    assert stopped_task["desiredStatus"] == "STOPPED"  # StopTask was asked
    cloud.send_reap(cloud.task_event("ecs-task-stopped-user", task))
    ended = cloud.session(session_id)
    assert ended.state == S.STOPPED and ended.reason.startswith("max-age:")
    assert cloud.target_groups() == []


def test_a_server_that_never_answers_fails_and_its_route_goes(cloud: Cloud) -> None:
    cloud.push_image(IMAGE)
    session = launch(cloud)  # its RUNNING event never comes
    cloud.clock.sleep(599)
    assert scheduled(cloud) == {}  # a large image may take minutes to pull
    cloud.clock.sleep(2)
    assert scheduled(cloud) == {"start-timeout": 1}
    failed = cloud.session(session.id)
    assert failed.state == S.FAILED and "did not start within" in failed.reason
    assert cloud.target_groups() == [] and cloud.running_tasks() == []


def test_routes_and_tasks_no_live_session_owns_are_released(cloud: Cloud) -> None:
    live = ready(cloud)
    # What a crash between two steps leaves: a route and a task of a session that does not
    # exist, and a route that outlived its session.
    cloud.binder.router.reserve(LOST)
    stray = cloud.binder.runner.start(
        LaunchRequest(session_id=LOST, image_name=IMAGE, base_url=f"/s/{LOST}/", token="t", env={})
    )
    ended = launch(cloud)
    cloud.task_stops(ended.task_id)
    cloud.send_reap(cloud.task_event("ecs-task-stopped-exited", ended.task_id))
    cloud.binder.router.reserve(ended.id)
    assert len(cloud.target_groups()) == 3

    assert scheduled(cloud) == {"orphan-route": 2, "orphan-task": 1}
    assert cloud.target_groups() == [f"{TARGET_GROUP_PREFIX}{live}"]
    assert cloud.running_tasks() == [cloud.session(live).task_id]
    assert stray not in cloud.running_tasks()
    assert cloud.session(live).state == S.READY
    assert scheduled(cloud) == {}  # nothing left to do


def test_counters_that_drifted_are_repaired(cloud: Cloud) -> None:
    ready(cloud)
    dynamodb = client("dynamodb")
    dynamodb.update_item(
        TableName=TABLE,
        Key={n.PARTITION_KEY: {"S": n.COUNTER_PARTITION}, n.SORT_KEY: {"S": n.COUNTER_GLOBAL}},
        UpdateExpression="SET #c = :c",
        ExpressionAttributeNames={"#c": n.COUNT_ATTRIBUTE},
        ExpressionAttributeValues={":c": {"N": "7"}},
    )
    assert scheduled(cloud) == {"counter-repair": 1}
    assert cloud.counters()["global"] == 1


def test_a_session_the_build_news_missed_is_launched(cloud: Cloud) -> None:
    session = launch(cloud)
    build_id = cloud.build_id(IMAGE)
    cloud.push_image(IMAGE)
    # The image was marked built while this session's move to `building` was not yet
    # visible to the query that finds the sessions waiting for it.
    cloud.binder.store.update_image(IMAGE, {ImageState.BUILDING}, ImageState.BUILT)
    assert cloud.session(session.id).state == S.BUILDING
    assert scheduled(cloud) == {"settled": 1}
    assert cloud.session(session.id).state == S.STARTING
    image = cloud.binder.store.get_image(IMAGE)
    assert isinstance(image, Image) and image.build_id == build_id


def test_task_events_that_are_not_ours_change_nothing(cloud: Cloud) -> None:
    cloud.push_image(IMAGE)
    session = launch(cloud)
    provisioning = cloud.task_event("ecs-task-provisioning", session.task_id)
    assert cloud.send_reap(provisioning) == {"ignored": "PROVISIONING"}
    other_cluster = cloud.task_event("ecs-task-stopped-exited", session.task_id)
    other_cluster["detail"]["clusterArn"] = other_cluster["detail"]["clusterArn"] + "-other"
    assert cloud.send_reap(other_cluster) == {"ignored": "STOPPED"}
    not_ours = cloud.task_event("ecs-task-stopped-exited", session.task_id)
    not_ours["detail"]["group"] = "family:someone-elses-service"
    assert cloud.send_reap(not_ours) == {"ignored": "STOPPED"}
    assert cloud.session(session.id).state == S.STARTING
    assert cloud.target_groups() == [f"{TARGET_GROUP_PREFIX}{session.id}"]
