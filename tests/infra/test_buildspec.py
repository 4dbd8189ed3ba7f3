"""The buildspec's build phase, run by bash here with a recording repo2docker: input stays inert."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from infra.builder import BUILDSPEC
from infra.names import BUILD_IMAGE_NAME, BUILD_REF, BUILD_REPO_URL

REPOSITORY = "123456789012.dkr.ecr.us-east-1.amazonaws.com/sb-dev-images"
CACHE_REF = "123456789012.dkr.ecr.us-east-1.amazonaws.com/sb-dev-cache:repo2docker"
GOOD = {
    BUILD_REPO_URL: "https://github.com/binder-examples/requirements",
    BUILD_REF: "9a1d4b6bc1b2e4a8bf2d3b5c8f7e6d5c4b3a2918",
    BUILD_IMAGE_NAME: f"{REPOSITORY}:r2d-9a1d4b6",
}
# Records each call: its arguments NUL-terminated, then a record separator.
RECORDER = """#!/bin/bash
for argument in "$@"; do printf '%s\\0' "$argument"; done >> "$RECORD"
printf '\\036' >> "$RECORD"
"""


def _calls(record: Path) -> list[list[str]]:
    if not record.exists():
        return []
    calls = record.read_bytes().split(b"\x1e")[:-1]
    return [[arg.decode() for arg in call.split(b"\0")[:-1]] for call in calls]


def _build_script(relaxed: bool = False) -> str:
    spec = yaml.safe_load(BUILDSPEC.read_text(encoding="utf-8"))
    script = "\n".join(spec["phases"]["build"]["commands"])
    if relaxed:
        # Without the validation, only the quoting stands between a value and the shell.
        validation = 'fail() { echo "skybinder-build: $1" >&2; exit 64; }'
        assert validation in script
        script = script.replace(validation, "fail() { :; }")
    return script


def _run(tmp_path: Path, values: dict[str, str], relaxed: bool = False):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    recorder = bin_dir / "repo2docker"
    recorder.write_text(RECORDER, encoding="utf-8")
    recorder.chmod(0o755)
    record = tmp_path / "record.bin"
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "RECORD": str(record),
        "IMAGE_REPOSITORY": REPOSITORY,
        "CACHE_REF": CACHE_REF,
        **values,
    }
    result = subprocess.run(
        ["bash", "-c", _build_script(relaxed)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return result, _calls(record)


def _expected_argv(url: str, ref: str, image: str) -> list[str]:
    argv = [
        "--config",
        "/tmp/repo2docker_cache.py",
        "--json-logs",
        "--no-run",
        "--push",
        "--user-name",
        "jovyan",
        "--user-id",
        "1000",
        "--image-name",
        image,
        "--cache-from",
        f"type=registry,ref={CACHE_REF}",
    ]
    if ref:
        argv.append(f"--ref={ref}")
    return [*argv, url]


def test_a_valid_build_calls_repo2docker_with_exactly_these_arguments(tmp_path: Path) -> None:
    result, calls = _run(tmp_path, GOOD)
    assert result.returncode == 0, result.stderr
    assert calls == [_expected_argv(*GOOD.values())]


@pytest.mark.parametrize(
    ("url", "ref"),
    [
        ("https://gitlab.com/group/sub/project.git", "feature/x-1.2"),
        ("https://doi.org/10.5281/zenodo.3242074", ""),
        ("https://dataverse.harvard.edu/citation?persistentId=doi:10.7910/DVN/TJCLKP", ""),
        ("https://git.example.org:8443/~me/repo", "v1.0_rc"),
    ],
)
def test_the_urls_and_refs_binder_users_have_pass(tmp_path: Path, url: str, ref: str) -> None:
    values = {**GOOD, BUILD_REPO_URL: url, BUILD_REF: ref}
    result, calls = _run(tmp_path, values)
    assert result.returncode == 0, result.stderr
    assert calls == [_expected_argv(url, ref, GOOD[BUILD_IMAGE_NAME])]


HOSTILE = [
    "$(touch {marker})",
    "`touch {marker}`",
    "x; touch {marker}",
    "; rm -rf {marker}-dir",
    "x\ntouch {marker}",
    "x' ; touch {marker} ; '",
    'x" ; touch {marker} ; "',
    "x && touch {marker}",
    "x | touch {marker}",
    "${{IFS}}touch${{IFS}}{marker}",
]
# Harmless inside a value, but an option if a whole value could start with them.
OPTION_LIKE = ["--help", "-x", "--engine=evil"]


def _hostile(tmp_path: Path) -> list[tuple[str, str]]:
    marker = tmp_path / "pwned"
    values = []
    for template in HOSTILE:
        payload = template.format(marker=marker)
        values += [
            (BUILD_REPO_URL, f"https://github.com/a/b{payload}"),
            (BUILD_REPO_URL, payload),
            (BUILD_REF, payload),
            (BUILD_REF, f"main{payload}"),
            (BUILD_IMAGE_NAME, f"{REPOSITORY}:{payload}"),
            (BUILD_IMAGE_NAME, f"{REPOSITORY}:tag{payload}"),
        ]
    for option in OPTION_LIKE:
        values += [(BUILD_REPO_URL, option), (BUILD_REF, option), (BUILD_IMAGE_NAME, option)]
    return values


def test_hostile_values_are_refused_before_anything_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    for variable, value in _hostile(tmp_path):
        result, calls = _run(tmp_path, {**GOOD, variable: value})
        assert result.returncode == 64, (variable, value, result.stderr)
        assert f"skybinder-build: {variable}" in result.stderr
        assert calls == [], (variable, value)
        assert not marker.exists(), (variable, value)


def test_without_validation_hostile_values_still_arrive_as_single_arguments(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    for variable, value in _hostile(tmp_path):
        values = {**GOOD, variable: value}
        result, calls = _run(tmp_path, values, relaxed=True)
        (tmp_path / "record.bin").unlink(missing_ok=True)
        assert result.returncode == 0, (variable, value, result.stderr)
        assert calls == [_expected_argv(*values.values())], (variable, value)
        assert not marker.exists(), (variable, value)


def test_images_go_only_to_the_deployments_repository(tmp_path: Path) -> None:
    for image in (
        "evil.example.org/stolen:tag",
        f"{REPOSITORY}-other:tag",
        f"{REPOSITORY}",
        f"{REPOSITORY}:",
    ):
        result, calls = _run(tmp_path, {**GOOD, BUILD_IMAGE_NAME: image})
        assert result.returncode == 64, image
        assert calls == []


def test_an_empty_ref_means_no_ref_argument(tmp_path: Path) -> None:
    values = {**GOOD, BUILD_REF: ""}
    result, calls = _run(tmp_path, values)
    assert result.returncode == 0, result.stderr
    assert not any(arg.startswith("--ref") for arg in calls[0])


def test_repo2docker_is_pinned_and_run_as_the_jovyan_user() -> None:
    spec = yaml.safe_load(BUILDSPEC.read_text(encoding="utf-8"))
    assert spec["env"]["variables"]["REPO2DOCKER_VERSION"].count(".") == 2
    install = " ".join(spec["phases"]["install"]["commands"])
    assert '"jupyter-repo2docker==${REPO2DOCKER_VERSION}"' in install
    login = " ".join(spec["phases"]["pre_build"]["commands"])
    assert "aws ecr get-login-password" in login and "--password-stdin" in login


def test_the_image_key_only_rides_along() -> None:
    spec = yaml.safe_load(BUILDSPEC.read_text(encoding="utf-8"))
    assert "IMAGE_KEY" in spec["env"]["variables"]
    assert "IMAGE_KEY" not in json.dumps(spec["phases"])  # never expanded by any command


def test_every_image_gets_the_session_launcher_through_the_appendix(tmp_path: Path) -> None:
    from infra.builder import SESSION_LAUNCHER, launcher_b64

    result, calls = _run(tmp_path, {**GOOD, "SESSION_LAUNCHER_B64": launcher_b64()})
    assert result.returncode == 0, result.stderr
    (argv,) = calls
    appendix = argv[argv.index("--appendix") + 1]
    assert argv[-1] == GOOD[BUILD_REPO_URL]  # the repository stays the last, lone argument
    user, run, back = appendix.split("\n")
    assert (user, back) == ("USER root", "USER ${NB_USER}")  # the image's user comes back
    # Docker runs a RUN line with /bin/sh -c: do the same, into a scratch path.
    target = tmp_path / "skybinder-launch"
    command = run.removeprefix("RUN ").replace("/usr/local/bin/skybinder-launch", str(target))
    subprocess.run(["sh", "-c", command], check=True)
    assert target.read_bytes() == SESSION_LAUNCHER.read_bytes()
    assert target.stat().st_mode & 0o777 == 0o755


def test_a_launcher_that_is_not_base64_is_refused(tmp_path: Path) -> None:
    result, calls = _run(tmp_path, {**GOOD, "SESSION_LAUNCHER_B64": "x; touch pwned"})
    assert result.returncode == 64 and calls == []
    assert not (tmp_path / "pwned").exists()
