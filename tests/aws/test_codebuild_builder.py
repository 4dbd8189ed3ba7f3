"""CodeBuildBuilder on moto: checked inputs as environment overrides, clear errors when
CodeBuild refuses, and build logs read as a tail and then as what follows."""

from __future__ import annotations

import pytest

from skybinder.adapters.aws.codebuild_builder import check_job
from skybinder.domain.errors import BuildError
from skybinder.domain.model import SessionState
from skybinder.service.ports import BuildJob
from tests.aws.compute_fixtures import IMAGE, PROJECT, Cloud, launch
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
        {"repo_url": "ssh://git@github.com/a/b"},
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


def test_a_busy_builder_fails_the_launch_with_what_to_do(cloud: Cloud) -> None:
    fail_calls(cloud.binder.builder.client, "StartBuild", "AccountLimitExceededException")
    session = launch(cloud)
    assert session.state == SessionState.FAILED
    assert session.reason == (
        "The build of this repository failed: The builder is busy: the AWS account's limit of "
        "concurrent builds is reached. Please try again in a few minutes."
    )


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
