"""Images shared by environment key, end to end on moto through the real functions: a commit
that changes only content, and a fork, launch without a build on the environment built for
another commit, and their task fetches their own commit; a dependency change builds."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from skybinder import bootstrap_aws
from skybinder.adapters.aws import names as n
from skybinder.adapters.aws.ecs_stops import FETCH_FAILED
from skybinder.domain.model import SessionState
from skybinder.service.images import image_reports
from skybinder.service.launch import request_launch
from tests.aws.compute_fixtures import Cloud, stream
from tests.aws.conftest import mocked_aws
from tests.aws.env_keys_fixtures import (
    SPEC_A,
    SPEC_B,
    SPEC_D,
    SPEC_FORK,
    A,
    B,
    C,
    recorded_github,
    run_to_ready,
    shared_cloud,
)

TEACHER, STUDENT = "https://github.com/teacher/course", "https://github.com/student/course"


@pytest.fixture
def cloud() -> Iterator[Cloud]:
    with mocked_aws():
        yield shared_cloud(recorded_github())
        bootstrap_aws.use(None)


def command(run_task: dict[str, Any]) -> list[str]:
    (container,) = run_task["overrides"]["containerOverrides"]
    return list(container["command"])


def fetches(run_task: dict[str, Any]) -> tuple[str, str]:
    """The repository and commit a task's command puts in place before Jupyter starts."""
    argv = command(run_task)
    assert argv[0] == n.SESSION_LAUNCHER and argv[3] == "--"
    assert argv[4:6] == ["jupyter", "server"]  # then Jupyter, as for any session
    return argv[1], argv[2]


def build_first(cloud: Cloud) -> str:
    """Launch commit A, whose environment is not built yet: it is built, then runs."""
    session = request_launch(cloud.binder, "gh", SPEC_A)
    assert session.state == SessionState.BUILDING and len(cloud.starts) == 1
    cloud.push_image(session.image_name)
    cloud.send_build(cloud.build_event("codebuild-succeeded", cloud.build_id(session.image_name)))
    assert run_to_ready(cloud, session.id)[-1].phase == "ready"
    return session.image_name


def test_content_only_commits_and_forks_launch_on_the_built_environment(
    cloud: Cloud, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="skybinder.launch_events")
    image = build_first(cloud)
    assert image.startswith("skybinder-env:")
    assert fetches(cloud.run_tasks[-1]) == (TEACHER, A)

    notebook_only = request_launch(cloud.binder, "gh", SPEC_B)
    assert len(cloud.starts) == 1  # no StartBuild
    assert notebook_only.image_name == image and notebook_only.state == SessionState.STARTING
    assert fetches(cloud.run_tasks[-1]) == (TEACHER, B)
    events = run_to_ready(cloud, notebook_only.id)
    said = [e.message for e in events if e.phase == "waiting"]
    assert f"Reusing the environment built for {TEACHER}@{A[:12]}\n" in said
    assert [e.phase for e in events][-3:] == ["built", "launching", "ready"] or events[
        -1
    ].phase == "ready"

    fork = request_launch(cloud.binder, "gh", SPEC_FORK)
    assert len(cloud.starts) == 1 and fork.image_name == image
    assert fetches(cloud.run_tasks[-1]) == (STUDENT, C)
    assert run_to_ready(cloud, fork.id)[-1].phase == "ready"

    changed = request_launch(cloud.binder, "gh", SPEC_D)
    assert len(cloud.starts) == 2 and changed.image_name != image  # requirements.txt changed
    assert changed.state == SessionState.BUILDING

    logged = [
        json.loads(r.getMessage()) for r in caplog.records if r.name == "skybinder.launch_events"
    ]
    reuses = [e["environment"]["reused_from"] for e in logged]
    assert reuses == ["", f"{TEACHER}@{A}", f"{TEACHER}@{A}"]
    (report,) = [r for r in image_reports(cloud.binder) if r.name == image]
    assert (report.repo_url, report.ref, report.state) == (TEACHER, A, "built")
    assert {(u.repo_url, u.ref) for u in report.used_by} == {
        (TEACHER, A),
        (TEACHER, B),
        (STUDENT, C),
    }


def test_a_fork_launched_during_the_build_joins_it_and_fetches_its_own_commit(
    cloud: Cloud,
) -> None:
    first = request_launch(cloud.binder, "gh", SPEC_A)
    fork = request_launch(cloud.binder, "gh", SPEC_FORK)
    assert len(cloud.starts) == 1 and fork.state == SessionState.BUILDING
    cloud.push_image(first.image_name)
    cloud.send_build(cloud.build_event("codebuild-succeeded", cloud.build_id(first.image_name)))
    launched = {fetches(task) for task in cloud.run_tasks}
    assert launched == {(TEACHER, A), (STUDENT, C)}


def test_a_failed_fetch_fails_the_launch_with_a_clear_reason(cloud: Cloud) -> None:
    build_first(cloud)
    session = request_launch(cloud.binder, "gh", SPEC_B)
    task = cloud.session(session.id).task_id
    cloud.task_stops(task)
    stopped = cloud.task_event("ecs-task-stopped-exited", task)
    for container in stopped["detail"]["containers"]:
        container["exitCode"] = n.FETCH_FAILED_EXIT
    cloud.send_reap(stopped)
    end = stream(cloud.binder, session.id)[-1]
    assert end.phase == "failed" and end.extra["status_code"] == 500
    assert FETCH_FAILED in end.message
    assert cloud.session(session.id).state == SessionState.FAILED
    assert cloud.routed(session.id) == ""  # the proxy routes it nowhere
    assert cloud.counters()["global"] == 1  # only the first commit's session still counts


def test_without_a_builder_version_images_stay_per_commit() -> None:
    with mocked_aws():
        cloud = shared_cloud(recorded_github(), **{n.ENV_BUILDER_VERSION: ""})
        session = request_launch(cloud.binder, "gh", SPEC_A)
        assert not session.env_key and session.image_name.endswith(f":{A}")
        other = request_launch(cloud.binder, "gh", SPEC_B)
        assert len(cloud.starts) == 2 and other.image_name != session.image_name
        bootstrap_aws.use(None)
