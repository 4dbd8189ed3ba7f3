"""CodeBuildBuilder on moto: checked inputs as environment overrides, a refusal for want of
builders queued (not failed) until the reaper starts the build, clear errors otherwise, and
build logs read as a tail and then as what follows."""

from __future__ import annotations

import json

import pytest

from skybinder.adapters.aws.client_errors import error_code
from skybinder.adapters.aws.codebuild_builder import check_job
from skybinder.domain.errors import BuilderBusyError, BuildError
from skybinder.domain.model import ImageState, SessionState
from skybinder.service.ports import BuildJob
from skybinder.service.watch import watch
from tests.aws.compute_events import build_event
from tests.aws.compute_fixtures import IMAGE, PROJECT, Cloud, launch, load_event, take
from tests.aws.conftest import fail_calls

GOOD = {
    "image_name": IMAGE,
    "repo_url": "https://github.com/a/b",
    "ref": "a" * 40,
    "provider": "gh",
}


def job(**fields: str) -> BuildJob:
    return BuildJob(**{**GOOD, **fields})


@pytest.mark.parametrize(
    "fields",
    [
        {"repo_url": "file:///etc/passwd"},
        {"repo_url": "ssh://-oProxyCommand=touch%20x@github.com/a/b"},
        {"repo_url": "ssh://git@-oProxyCommand=x/a/b"},
        {"repo_url": "git://-evil.example.org/a"},
        {"repo_url": "10.5281/zenodo.1 --help"},
        {"repo_url": "10.5281/$(id)"},
        {"repo_url": "https://github.com/a/b x"},
        {"repo_url": "https://github.com/a/b\n--config=x"},
        {"repo_url": "-https://github.com/a/b"},
        {"repo_url": "https://" + "a" * 2100},
        {"ref": "--upload-pack=touch /tmp/x"},
        {"ref": "main; rm -rf /"},
        {"ref": "$(id)"},
        {"ref": "`id`"},
        {"ref": "a b"},
        {"ref": "../../etc"},
        {"ref": ""},
        {"image_name": "Skybinder:latest"},
        {"image_name": "skybinder-a-b"},
        {"image_name": "skybinder-a-b:$(id)"},
    ],
)
def test_inputs_that_do_not_have_the_expected_shape_are_refused(fields: dict[str, str]) -> None:
    with pytest.raises(BuildError):
        check_job(job(**fields))


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"repo_url": "https://gist.github.com/u/0a1b2c3d.git"},
        {"repo_url": "https://gitlab.com/group/sub/project.git", "ref": "v1.2.0"},
        {"repo_url": "10.5281/zenodo.3242074", "ref": "3242074"},
        {"repo_url": "10.7910/DVN/TJCLKP", "ref": "3035124.v3.0"},
        {"repo_url": "https://www.hydroshare.org/resource/b8f6eae9d", "ref": "b8f6eae9d.v1695"},
        {"repo_url": "ssh://git@github.com/a/b"},
        {"repo_url": "git://git.example.org:9418/a/b.git"},
    ],
)
def test_what_the_providers_resolve_to_is_accepted(fields: dict[str, str]) -> None:
    check_job(job(**fields))


def test_a_build_starts_with_its_inputs_as_overrides_only(cloud: Cloud) -> None:
    build_id = cloud.binder.builder.start(job())
    assert build_id.startswith(f"{PROJECT}:")
    (start,) = cloud.starts
    assert set(start) == {"projectName", "environmentVariablesOverride", "_id"}
    assert {v["type"] for v in start["environmentVariablesOverride"]} == {"PLAINTEXT"}


# moto's CodeBuild starts every build it is asked for. Real CodeBuild refuses StartBuild when
# the account's limit of concurrent builds ("Cannot have more than N builds in queue for the
# account") or the project's concurrentBuildLimit is reached, with AccountLimitExceededException,
# the only limit error StartBuild's model has. `refuse_builds` has botocore answer StartBuild
# with that error, as AWS sends it, before the request reaches moto: the adapter meets the very
# ClientError subclass boto3 raises, and every other call still goes to moto.
ACCOUNT_LIMIT = "Cannot have more than 1 builds in queue for the account"


def refuse_builds(
    cloud: Cloud, times: int = 1, code: str = "AccountLimitExceededException"
) -> None:
    error = {"Code": code, "Message": ACCOUNT_LIMIT}
    cloud.fail("codebuild", "StartBuild", code, times=times, Error=error)


def scheduled(cloud: Cloud) -> dict[str, int]:
    """What one run of the reap function on its one-minute schedule did."""
    result: dict[str, dict[str, int]] = cloud.send_reap(load_event("scheduled"))
    return result["reaped"]


@pytest.mark.parametrize("code", ["AccountLimitExceededException", "ThrottlingException"])
def test_a_refusal_for_want_of_free_builders_is_busy_not_a_failure(cloud: Cloud, code: str) -> None:
    refuse_builds(cloud, code=code)
    with pytest.raises(BuilderBusyError) as refused:
        cloud.binder.builder.start(job())
    assert error_code(refused.value.__cause__) == code  # type: ignore[arg-type]
    assert ACCOUNT_LIMIT in refused.value.message
    if code == "AccountLimitExceededException":  # the modeled error class, as boto3 raises it
        modeled = cloud.binder.builder.client.exceptions.AccountLimitExceededException
        assert isinstance(refused.value.__cause__, modeled)
    assert cloud.binder.builder.start(job()).startswith(f"{PROJECT}:")  # refused once only


def test_a_missing_project_is_a_build_error_for_the_operator(cloud: Cloud) -> None:
    fail_calls(cloud.binder.builder.client, "StartBuild", "ResourceNotFoundException")
    with pytest.raises(BuildError, match=f"The build project {PROJECT} does not exist"):
        cloud.binder.builder.start(job())


def test_a_launch_the_builder_has_no_room_for_waits_and_the_reaper_starts_its_build(
    cloud: Cloud,
) -> None:
    refuse_builds(cloud)
    session = launch(cloud)
    assert session.state == SessionState.BUILDING  # queued, not failed
    image = cloud.binder.store.get_image(IMAGE)
    assert (image.state, image.build_id, image.reason) == (ImageState.BUILDING, "", "queued")
    watching = watch(cloud.binder, session.id)
    assert [(e.phase, e.message) for e in take(watching)] == [
        ("waiting", "Waiting for a free builder: the build service is busy with other builds.\n"),
        ("waiting", "Waiting for build to start...\n"),
    ]

    refuse_builds(cloud)
    assert scheduled(cloud) == {}  # still no free builder: the build stays queued
    assert cloud.binder.store.get_image(IMAGE).reason == "queued"
    assert scheduled(cloud) == {"queued-build-started": 1}
    build_id = cloud.build_id(IMAGE)
    assert [start.get("_id") for start in cloud.starts] == [None, None, build_id]
    cloud.write_build_log(build_id, json.dumps({"phase": "fetching", "message": "Cloning\n"}))
    assert [e.message for e in take(watching)] == ["Cloning\n"]
    assert scheduled(cloud) == {}  # a started build is not started again
    assert len(cloud.starts) == 3

    cloud.push_image(IMAGE)
    # Cloud.build_event expects every StartBuild to have started a build; the refused did not.
    overrides = cloud.starts[-1]["environmentVariablesOverride"]
    assert cloud.send_build(build_event("codebuild-succeeded", build_id, overrides))["ok"] is True
    launched = cloud.session(session.id)
    assert launched.state == SessionState.STARTING and launched.task_id
    assert [e.phase for e in take(watching)] == ["built", "launching", "launching"]


def test_a_reader_gets_the_tail_of_the_log_then_only_new_lines(cloud: Cloud) -> None:
    logs = cloud.binder.builder.build_logs
    logs.tail = 5
    build_id = f"{PROJECT}:0c2d8f6e-1a3b-4c5d-8e9f-0a1b2c3d4e5f"
    first = cloud.binder.builder.logs(build_id)
    assert (first.lines, first.cursor) == ([], None)  # the stream does not exist yet
    cloud.write_build_log(build_id, *[f"line {i}" for i in range(12)])
    tail = cloud.binder.builder.logs(build_id)
    assert tail.lines == [f"line {i}" for i in range(7, 12)]
    quiet = cloud.binder.builder.logs(build_id, tail.cursor)
    assert quiet.lines == [] and quiet.cursor
    cloud.write_build_log(build_id, "line 12", "line 13")
    assert cloud.binder.builder.logs(build_id, quiet.cursor).lines == ["line 12", "line 13"]
