"""At AWS's limits, each function with its own role: builds queued while CodeBuild is full are
started by whichever function sees a builder free, a server whose session ended while it was
being started is stopped by the function that started it, and a throttled RunTask is tried
again instead of failing the launch."""

from __future__ import annotations

from typing import Any

from skybinder.domain.model import ImageState, SessionState
from skybinder.domain.naming import image_name
from skybinder.service.sessions import stop_session
from tests.aws.compute_events import build_event
from tests.aws.compute_fixtures import (
    CLUSTER,
    IMAGE,
    SPEC,
    Cloud,
    deploy,
    launch,
    load_event,
    make_cloud,
    stream,
)
from tests.aws.conftest import mocked_aws

S = SessionState
OTHER_SPEC = "binder-examples/conda/HEAD"
OTHER_SHA = "d" * 40
OTHER_IMAGE = image_name("skybinder-", "gh-binder-examples-conda", OTHER_SHA)


def two_repositories() -> Cloud:
    return make_cloud(
        deploy(), refs={SPEC: "b8259dac9eb4aa5f2d65d8881f2da94a4952a195", OTHER_SPEC: OTHER_SHA}
    )


def succeeded(cloud: Cloud, image: str) -> dict[str, Any]:
    build_id = cloud.build_id(image)
    start = next(s for s in cloud.starts if s.get("_id") == build_id)
    return build_event("codebuild-succeeded", build_id, start["environmentVariablesOverride"])


def test_a_build_queued_for_want_of_builders_is_started_by_the_build_function() -> None:
    with mocked_aws():
        cloud = two_repositories()
        builders = cloud.builder_limit(1)
        first = launch(cloud)
        second = launch(cloud, OTHER_SPEC)
        assert builders.refused == 1 and first.state == second.state == S.BUILDING
        assert cloud.binder.store.get_image(OTHER_IMAGE).reason == "queued"
        cloud.push_image(IMAGE)
        cloud.send_build(succeeded(cloud, IMAGE))  # the first build's end frees the builder
        queued = cloud.binder.store.get_image(OTHER_IMAGE)
        assert queued.state == ImageState.BUILDING and queued.build_id and not queued.reason
        assert cloud.guard.allowed("build", "codebuild:StartBuild")
        assert cloud.session(first.id).state == S.STARTING


def test_a_build_queued_for_want_of_builders_is_started_by_the_reaper() -> None:
    with mocked_aws():
        cloud = two_repositories()
        builders = cloud.builder_limit(1)
        launch(cloud)
        second = launch(cloud, OTHER_SPEC)
        assert cloud.send_reap(load_event("scheduled"))["reaped"] == {}  # still no room
        builders.ended(cloud.build_id(IMAGE))  # its end's news is still on its way
        assert cloud.send_reap(load_event("scheduled"))["reaped"] == {"queued-build-started": 1}
        assert cloud.guard.allowed("reap", "codebuild:StartBuild")
        assert cloud.binder.store.get_image(OTHER_IMAGE).build_id
        assert stream(cloud.binder, second.id, polls=1)[0].phase == "waiting"


def test_a_session_stopped_while_the_build_function_starts_it_has_its_task_stopped(
    cloud: Cloud,
) -> None:
    session = launch(cloud)
    cloud.push_image(IMAGE)

    def operator_stops_it(**_: Any) -> None:  # right after RunTask answered
        stop_session(cloud.binder, session.id, "stopped by an operator")

    build = cloud.function("build").runner.client
    build.meta.events.register("after-call.ecs.RunTask", operator_stops_it)
    cloud.send_build(cloud.build_event("codebuild-succeeded", cloud.build_id(IMAGE)))
    (task_arn,) = [t for t in cloud.ecs.list_tasks(cluster=CLUSTER)["taskArns"]]
    (task,) = cloud.ecs.describe_tasks(cluster=CLUSTER, tasks=[task_arn])["tasks"]
    assert task["desiredStatus"] == "STOPPED"  # the build function stopped what it started
    assert cloud.guard.allowed("build", "ecs:StopTask")
    assert cloud.session(session.id).state == S.STOPPED


def test_a_throttled_run_task_is_started_again_by_the_reaper_not_failed(cloud: Cloud) -> None:
    cloud.push_image(IMAGE)
    throttle = cloud.throttle("ecs", "RunTask", rate=20, burst=2)  # AWS's: 20/s, burst 100
    sessions = [launch(cloud) for _ in range(3)]  # three at the same instant
    assert [s.state for s in sessions] == [S.STARTING, S.STARTING, S.BUILT]
    assert throttle.throttled == 1
    waiting = sessions[2]
    notice = "AWS is starting many servers at once right now; yours starts in a minute."
    assert notice in cloud.session(waiting.id).notices
    assert notice + "\n" in [e.message for e in stream(cloud.binder, waiting.id, polls=1)]
    cloud.clock.sleep(61)  # the bucket refills; the reaper finds the session left built
    assert cloud.send_reap(load_event("scheduled"))["reaped"] == {"resumed": 1}
    assert cloud.session(waiting.id).state == S.STARTING
    assert cloud.guard.allowed("reap", "ecs:RunTask")
