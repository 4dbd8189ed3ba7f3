"""The session proxy's service on moto, scaled to and from zero by the functions as their roles:
a launch wakes it (and, once it is marked awake in the table, the next asks nothing), the
reaper puts it to sleep once nothing has happened for its idle time and wakes it while servers
run, a wake never lowers a count autoscaling has grown, and a launch that races the sleep is
served. While it sleeps the load balancer has no target: nothing is ready."""

from __future__ import annotations

from typing import Any

import httpx

from skybinder.domain.model import SessionState
from tests.aws.compute_fixtures import (
    IMAGE,
    PROXY_SERVICE,
    PUBLIC_URL,
    Cloud,
    launch,
    load_event,
    stream,
)
from tests.aws.conftest import before_call

S = SessionState
IDLE = 900.0  # the deployment's default proxyIdleMinutes


def scheduled(cloud: Cloud) -> dict[str, int]:
    result: dict[str, dict[str, int]] = cloud.send_reap(load_event("scheduled"))
    return result["reaped"]


def ready(cloud: Cloud) -> str:
    session = launch(cloud)
    cloud.send_reap(cloud.task_event("ecs-task-running", session.task_id))
    assert stream(cloud.binder, session.id)[-1].phase == "ready"
    return session.id


def stop(cloud: Cloud, session_id: str) -> None:
    task = cloud.session(session_id).task_id
    cloud.task_stops(task)
    cloud.send_reap(cloud.task_event("ecs-task-stopped-exited", task))
    assert cloud.session(session_id).state == S.STOPPED


def test_asleep_until_a_launch_wakes_it_and_asleep_again_after_the_idle_time(
    cloud: Cloud,
) -> None:
    cloud.push_image(IMAGE)
    assert (cloud.proxy_tasks(), cloud.proxy_range()) == (0, (0, 0))  # as deployed
    assert scheduled(cloud) == {}  # nothing ran: nothing to put to sleep
    session_id = ready(cloud)  # woken by the launch function, as its role
    assert (cloud.proxy_tasks(), cloud.proxy_range()) == (2, (2, 10))
    (wake,) = cloud.guard.allowed("launch", "application-autoscaling:RegisterScalableTarget")
    assert wake.request.resource.startswith("arn:aws:application-autoscaling:")
    stop(cloud, session_id)

    cloud.clock.sleep(IDLE - 60)
    assert scheduled(cloud) == {}  # the last session ended 14 minutes ago: it stays
    cloud.clock.sleep(61)
    assert scheduled(cloud) == {"proxy-slept": 1}  # as the reap function's role
    assert (cloud.proxy_tasks(), cloud.proxy_range()) == (0, (0, 0))
    registered = len(cloud.guard.allowed("reap", "application-autoscaling:RegisterScalableTarget"))
    assert scheduled(cloud) == {}  # asleep: looked at, not touched
    assert len(cloud.guard.allowed("reap", "application-autoscaling:RegisterScalableTarget")) == (
        registered
    )

    again = ready(cloud)  # admitted only once it is marked awake again: woken again
    assert cloud.proxy_tasks() == 2
    stop(cloud, again)
    wakes = len(cloud.guard.allowed("launch", "application-autoscaling:RegisterScalableTarget"))
    ready(cloud)  # marked awake: the admission saw it, nothing more is asked
    assert len(cloud.guard.allowed("launch", "application-autoscaling:RegisterScalableTarget")) == (
        wakes
    )
    assert not cloud.guard.allowed("launch", "application-autoscaling:DescribeScalableTargets")


def test_while_the_proxy_sleeps_the_load_balancer_has_no_target(cloud: Cloud) -> None:
    cloud.push_image(IMAGE)
    cloud.fail("application-autoscaling", "RegisterScalableTarget", "ThrottlingException")
    session = launch(cloud)  # its wake was throttled: the launch goes on all the same
    assert session.state == S.STARTING and cloud.proxy_tasks() == 0
    cloud.send_reap(cloud.task_event("ecs-task-running", session.task_id))
    url = f"{PUBLIC_URL}/s/{session.id}/api"
    assert httpx.Client(transport=httpx.MockTransport(cloud.internet)).get(url).status_code == 503
    assert cloud.session(session.id).state == S.STARTING  # not ready: the user could not reach it
    assert scheduled(cloud) == {"proxy-woken": 1}  # the reaper's minute wakes it
    assert cloud.proxy_tasks() == 2
    assert stream(cloud.binder, session.id)[-1].phase == "ready"  # reached through it now


def test_a_wake_never_lowers_what_autoscaling_has_grown(cloud: Cloud) -> None:
    cloud.push_image(IMAGE)
    ready(cloud)
    _, cluster, service = PROXY_SERVICE.split("/")
    cloud.ecs.update_service(cluster=cluster, service=service, desiredCount=7)  # a busy hour
    cloud.function("build").proxy.wake()  # what any wake asks: at least 2, at most 10
    assert cloud.proxy_tasks() == 7
    assert scheduled(cloud) == {}  # the reaper's look while servers run changes nothing
    assert cloud.proxy_tasks() == 7


def test_a_launch_admitted_while_the_reaper_puts_the_proxy_to_sleep_is_served(
    cloud: Cloud,
) -> None:
    cloud.push_image(IMAGE)
    stop(cloud, ready(cloud))
    cloud.clock.sleep(IDLE + 1)
    late: list[Any] = []

    def launch_now() -> None:  # between the reaper's decision and its call
        late.append(launch(cloud))

    before_call(cloud.function("reap").proxy.client, "RegisterScalableTarget", launch_now)
    assert scheduled(cloud) == {"proxy-woken": 1}  # slept, saw the launch, woke it again
    assert cloud.proxy_tasks() == 2 and cloud.proxy_range() == (2, 10)
    (session,) = late
    cloud.send_reap(cloud.task_event("ecs-task-running", session.task_id))
    assert stream(cloud.binder, session.id)[-1].phase == "ready"


def test_a_session_without_traffic_through_the_proxy_ends_though_its_kernel_runs(
    cloud: Cloud,
) -> None:
    """The proxy notes traffic as its task role; the reaper, as its own, ends a ready session
    that has had none for idleTimeout (600 s) — its task still runs: Jupyter's culling spares a
    busy kernel — and the proxy sleeps once nothing has happened for its idle time."""
    cloud.push_image(IMAGE)
    session_id = ready(cloud)
    cloud.clock.sleep(500)
    assert cloud.proxy_store.record_activity(session_id, cloud.clock.now())  # a request
    cloud.clock.sleep(599)
    assert scheduled(cloud) == {}  # 1,099 s since ready, 599 s since its last request
    assert cloud.session(session_id).state == S.READY
    cloud.clock.sleep(2)
    assert scheduled(cloud) == {"idle": 1}
    ending = cloud.session(session_id)
    assert (ending.state, ending.reason) == (S.STOPPING, "idle: no activity for 10 minutes")
    (stop_call,) = cloud.guard.allowed("reap", "ecs:StopTask")
    assert stop_call.request.resource == ending.task_id
    assert cloud.routed(session_id) != ""  # still routed while its server stops

    cloud.task_stops(ending.task_id)
    cloud.send_reap(cloud.task_event("ecs-task-stopped-exited", ending.task_id))
    ended = cloud.session(session_id)
    assert (ended.state, ended.reason) == (S.STOPPED, "idle: no activity for 10 minutes")
    assert cloud.routed(session_id) == ""  # the proxy routes it no more
    cloud.clock.sleep(IDLE + 1)
    assert scheduled(cloud) == {"proxy-slept": 1}
    assert cloud.proxy_tasks() == 0
    assert not cloud.guard.problems
