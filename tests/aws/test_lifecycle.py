"""Whole launches on moto, through the real build and reap handlers with EventBridge events:
cached, uncached, a failed build, a task that fails to start (its image deleted by hand)."""

from __future__ import annotations

import json

from skybinder.adapters.aws.ecr_registry import image_tag
from skybinder.domain.model import ImageState, SessionState
from skybinder.service.sessions import check_ready
from tests.aws.compute_fixtures import (
    IMAGE,
    PUBLIC_URL,
    REPOSITORY,
    Cloud,
    launch,
    stream,
    take,
)

S = SessionState


def phases(events: list[object]) -> list[str]:
    return [e.phase for e in events]  # type: ignore[attr-defined]


def assert_released(cloud: Cloud, *sessions: str) -> None:
    """Nothing of any session is left: no route through the proxy, no counted session."""
    assert all(cloud.routed(session_id) == "" for session_id in sessions)
    assert all(count == 0 for count in cloud.counters().values())


def test_cached_launch_runs_on_spot_and_is_ready_only_once_jupyter_answers(cloud: Cloud) -> None:
    cloud.push_image(IMAGE)
    session = launch(cloud)
    assert session.state == S.STARTING and session.task_id
    # RunTask: Spot by strategy (no launch type), awsvpc with a public IP (the default public
    # network: no NAT gateway), the session id on the task, and the command overridden (never
    # the entrypoint).
    (run,) = cloud.run_tasks
    assert run["capacityProviderStrategy"] == [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]
    assert "launchType" not in run
    assert run["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"] == "ENABLED"
    assert (run["startedBy"], run["group"]) == (session.id, f"skybinder:{session.id}")
    (override,) = run["overrides"]["containerOverrides"]
    assert set(override) == {"name", "command", "environment"}
    assert override["command"][:2] == ["jupyter", "server"]
    assert f"--ServerApp.base_url=/s/{session.id}/" in override["command"]
    assert "--ServerApp.ip=0.0.0.0" in override["command"]
    env = {e["name"]: e["value"] for e in override["environment"]}
    assert env["JUPYTER_TOKEN"] == session.token
    assert env["BINDER_REPO_URL"] == "https://github.com/binder-examples/requirements"
    # The proxy was woken for it; it routes nothing until the task runs, so nothing answers.
    assert cloud.proxy_tasks() == 2
    assert cloud.routed(session.id) == ""
    assert check_ready(cloud.binder, session.id).state == S.STARTING  # type: ignore[union-attr]

    running = cloud.task_event("ecs-task-running", session.task_id)
    assert cloud.send_reap(running) == {"session": session.id, "status": "running"}
    ip = running["detail"]["attachments"][0]["details"][-1]["value"]
    assert cloud.routed(session.id) == f"{ip}:8888"  # its address is its route
    events = stream(cloud.binder, session.id)
    assert phases(events)[-1] == "ready"
    assert events[-1].extra["url"] == f"{PUBLIC_URL}/s/{session.id}/"
    assert events[-1].extra["token"] == session.token
    assert cloud.session(session.id).state == S.READY

    cloud.task_stops(session.task_id)
    cloud.send_reap(cloud.task_event("ecs-task-stopped-exited", session.task_id))
    ended = cloud.session(session.id)
    assert ended.state == S.STOPPED and ended.reason.startswith("idle:")
    assert_released(cloud, session.id)


def test_uncached_launch_builds_registers_a_task_definition_and_launches(cloud: Cloud) -> None:
    session = launch(cloud)
    assert session.state == S.BUILDING
    (start,) = cloud.starts
    overrides = {v["name"]: v["value"] for v in start["environmentVariablesOverride"]}
    uri = f"{cloud.deployment.repository_uri}:{image_tag(IMAGE)}"
    assert overrides == {
        "REPO_URL": "https://github.com/binder-examples/requirements",
        "REF": session.ref,
        "IMAGE_NAME": uri,
        "IMAGE_KEY": IMAGE,
    }
    build_id = cloud.build_id(IMAGE)
    watching = stream_of(cloud, session.id)
    assert phases(take(watching)) == ["waiting"]  # CodeBuild is still provisioning
    cloud.write_build_log(
        build_id,
        "[Container] 2026/11/26 09:39:11.402 Running command repo2docker ...\n",
        json.dumps({"phase": "fetching", "message": "Cloning into '/tmp/repo2docker'...\n"}),
        json.dumps({"phase": "building", "message": "Step 1/52 : FROM buildpack-deps:jammy\n"}),
    )
    assert phases(take(watching)) == ["building", "fetching", "building"]
    assert cloud.send_build(cloud.build_event("codebuild-in-progress", build_id)) == {
        "ignored": "IN_PROGRESS"
    }

    cloud.push_image(IMAGE)
    assert cloud.send_build(cloud.build_event("codebuild-succeeded", build_id)) == {
        "image": IMAGE,
        "ok": True,
    }
    image = cloud.binder.store.get_image(IMAGE)
    assert image.state == ImageState.BUILT and image.task_definition
    definition = cloud.ecs.describe_task_definition(taskDefinition=image.task_definition)
    definition = definition["taskDefinition"]
    assert definition["containerDefinitions"][0]["image"] == uri
    assert "taskRoleArn" not in definition
    (run,) = cloud.run_tasks
    assert run["taskDefinition"] == image.task_definition
    started = cloud.session(session.id)
    assert started.state == S.STARTING

    cloud.send_reap(cloud.task_event("ecs-task-running", started.task_id))
    assert phases(take(watching)) == ["built", "launching", "ready"]
    cloud.binder.runner.stop(started.task_id)  # what a stop of the session asks ECS
    cloud.send_reap(cloud.task_event("ecs-task-stopped-user", started.task_id))
    assert cloud.session(session.id).state == S.STOPPED
    assert_released(cloud, session.id)


def stream_of(cloud: Cloud, session_id: str):  # type: ignore[no-untyped-def]
    from skybinder.service.watch import watch

    return watch(cloud.binder, session_id)


def test_a_failed_build_fails_its_sessions_with_the_end_of_the_log(cloud: Cloud) -> None:
    first, second = launch(cloud), launch(cloud)
    build_id = cloud.build_id(IMAGE)
    cloud.write_build_log(
        build_id,
        json.dumps({"phase": "building", "message": "Collecting numpy==0.0.1\n"}),
        json.dumps(
            {"phase": "failure", "message": "ERROR: No matching distribution for numpy==0.0.1\n"}
        ),
    )
    assert cloud.send_build(cloud.build_event("codebuild-failed", build_id))["ok"] is False
    for session in (first, second):
        failed = cloud.session(session.id)
        assert failed.state == S.FAILED
        assert failed.reason.startswith("The build of this repository failed: the build failed")
        assert "in its BUILD phase" in failed.reason
        assert "COMMAND_EXECUTION_ERROR" in failed.reason
        assert failed.reason.endswith("No matching distribution for numpy==0.0.1")
    assert phases(stream(cloud.binder, first.id))[-1] == "failed"
    assert cloud.binder.store.get_image(IMAGE).state == ImageState.FAILED
    assert cloud.run_tasks == []
    assert cloud.proxy_tasks() == 0  # no server started: the proxy was never woken
    assert_released(cloud, first.id, second.id)


def test_an_image_deleted_by_hand_fails_its_launch_and_is_built_again(cloud: Cloud) -> None:
    first = launch(cloud)  # built by CodeBuild: the image's record says when
    cloud.push_image(IMAGE)
    cloud.send_build(cloud.build_event("codebuild-succeeded", cloud.build_id(IMAGE)))
    assert cloud.session(first.id).state == S.STARTING
    tag = image_tag(IMAGE)
    cloud.ecr.batch_delete_image(repositoryName=REPOSITORY, imageIds=[{"imageTag": tag}])
    # A fresh record is trusted (ECR expires images only after days): the server starts...
    session = launch(cloud)
    assert session.state == S.STARTING
    cloud.task_stops(session.task_id)
    # ... and cannot pull its image.
    cloud.send_reap(cloud.task_event("ecs-task-stopped-failed-to-start", session.task_id))
    failed = cloud.session(session.id)
    assert failed.state == S.FAILED
    assert failed.reason.startswith(
        "The server stopped before it was ready: image-missing: the session's image is no "
        "longer in the registry"
    )
    assert stream(cloud.binder, session.id)[-1].extra["status_code"] == 500
    assert cloud.binder.store.get_image(IMAGE).state == ImageState.FAILED  # type: ignore[union-attr]
    again = launch(cloud)
    assert again.state == S.BUILDING and len(cloud.starts) == 2  # built anew
    assert cloud.routed(session.id) == ""
