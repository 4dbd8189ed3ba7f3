"""The reap function on its one-minute schedule (old and stuck sessions, orphans, counters,
missed build news) and with task events it must not act on, on moto."""

from __future__ import annotations

from skybinder.adapters.aws import names as n
from skybinder.domain.model import Image, ImageState, SessionState
from skybinder.service.ports import LaunchRequest
from tests.aws.compute_fixtures import (
    CLUSTER,
    IMAGE,
    PROXY_SERVICE,
    TABLE,
    Cloud,
    launch,
    load_event,
    stream,
)
from tests.aws.conftest import ApiCalls, client

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
    assert cloud.routed(session_id) == ""


def test_a_server_that_never_answers_fails_and_its_task_goes(cloud: Cloud) -> None:
    cloud.push_image(IMAGE)
    session = launch(cloud)  # its RUNNING event never comes
    cloud.clock.sleep(599)
    assert scheduled(cloud) == {}  # a large image may take minutes to pull
    cloud.clock.sleep(2)
    assert scheduled(cloud) == {"start-timeout": 1}
    failed = cloud.session(session.id)
    assert failed.state == S.FAILED and "did not start within" in failed.reason
    assert cloud.running_tasks() == []


def test_tasks_no_live_session_owns_are_released_and_the_proxys_are_not(cloud: Cloud) -> None:
    live = ready(cloud)
    # What a crash between two steps leaves: a task of a session that does not exist. The
    # session proxy's own tasks run in the same cluster: they are no session's, and stay.
    stray = cloud.binder.runner.start(
        LaunchRequest(session_id=LOST, image_name=IMAGE, base_url=f"/s/{LOST}/", token="t", env={})
    )
    _, cluster, service = PROXY_SERVICE.split("/")
    proxy = cloud.ecs.run_task(
        cluster=cluster,
        taskDefinition=cloud.ecs.describe_services(cluster=cluster, services=[service])["services"][
            0
        ]["taskDefinition"],
        group=f"service:{service}",
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": cloud.aws.settings.subnets,
                "securityGroups": cloud.aws.settings.security_groups,
            }
        },
    )["tasks"][0]["taskArn"]

    assert scheduled(cloud) == {"orphan-task": 1}
    assert sorted(cloud.running_tasks()) == sorted([cloud.session(live).task_id, proxy])
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
    proxy_task = cloud.task_event("ecs-task-stopped-exited", session.task_id)
    proxy_task["detail"]["group"] = f"service:{PROXY_SERVICE.rsplit('/', 1)[1]}"
    assert cloud.send_reap(proxy_task) == {"ignored": "STOPPED"}  # the proxy's: not a session
    assert cloud.session(session.id).state == S.STARTING


def test_one_look_at_every_sessions_task_per_pass(cloud: Cloud) -> None:
    """ECS's reads are throttled (20 a second): the pass looks at its sessions' tasks 100 a
    call, and finds the one that stopped unannounced by that look alone."""
    cloud.throttle("ecs", "DescribeTasks", rate=20, burst=100)
    sessions = [ready(cloud) for _ in range(3)]
    lost = cloud.session(sessions[0]).task_id
    cloud.task_stops(lost)  # its STOPPED event never came
    calls = ApiCalls(cloud.function("reap").runner.client)
    assert scheduled(cloud) == {"lost": 1}
    assert calls.names.count("DescribeTasks") == 2  # the survey, and the orphan sweep's
    assert cloud.session(sessions[0]).state == S.STOPPED
    assert [cloud.session(s).state for s in sessions[1:]] == [S.READY, S.READY]
