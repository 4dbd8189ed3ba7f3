"""The buildspec, run by bash here with a recording repo2docker: what each of the nine providers
resolves to builds, hostile input stays inert, and public images come through ECR's caches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from infra.builder import BUILDSPEC
from skybinder.adapters.aws.codebuild_builder import check_job
from skybinder.adapters.aws.names import (
    BUILD_BUILDKIT_IMAGE,
    BUILD_ECR_PUBLIC_MIRROR,
    BUILD_IMAGE_NAME,
    BUILD_REF,
    BUILD_REPO_URL,
)
from skybinder.service.ports import BuildJob, ResolvedRepo
from tests.provider_fakes import Web, make_resolver

REPOSITORY = "123456789012.dkr.ecr.us-east-1.amazonaws.com/sb-dev-images"
CACHE_REF = "123456789012.dkr.ecr.us-east-1.amazonaws.com/sb-dev-cache:repo2docker"
MIRROR = "123456789012.dkr.ecr.us-east-1.amazonaws.com/sb-3671af/ecr-public"
BUILDKIT = "123456789012.dkr.ecr.us-east-1.amazonaws.com/sb-3671af/docker-hub/moby/buildkit:x"
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


def _run(
    tmp_path: Path, values: dict[str, str], relaxed: bool = False
) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    recorder = bin_dir / "repo2docker"
    recorder.write_text(RECORDER, encoding="utf-8")
    recorder.chmod(0o755)
    record = tmp_path / "record.bin"
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "RECORD": str(record),
        "IMAGE_REPOSITORY": REPOSITORY,
        "CACHE_REF": CACHE_REF,
        BUILD_BUILDKIT_IMAGE: "",
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


def _expected_argv(url: str, ref: str, image: str, *, cached: bool = False) -> list[str]:
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
    ]
    if cached:  # BuildKit from the Docker Hub cache: the layer cache in CACHE_REF is used
        argv += ["--cache-from", f"type=registry,ref={CACHE_REF}"]
    if ref:
        argv.append(f"--ref={ref}")
    return [*argv, url]


def test_a_valid_build_calls_repo2docker_with_exactly_these_arguments(tmp_path: Path) -> None:
    result, calls = _run(tmp_path, GOOD)
    assert result.returncode == 0, result.stderr
    assert calls == [_expected_argv(*GOOD.values())]
    result, calls = _run(tmp_path / "cached", {**GOOD, BUILD_BUILDKIT_IMAGE: BUILDKIT})
    assert result.returncode == 0, result.stderr
    assert calls == [_expected_argv(*GOOD.values(), cached=True)]


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


SHA = "9a1d4b6bc1b2e4a8bf2d3b5c8f7e6d5c4b3a2918"
# One spec of each of the nine providers (and each form a provider's URL may take), with the
# ref it resolves to: what the provider describes is what the builder gets.
SPECS = [
    ("gh", "binder-examples/requirements/HEAD", SHA),
    ("gist", "choldgraf/8b7b0bd63b3e0a7e3c55e5e7b3b0a1f2", SHA),
    ("gl", "gitlab-org%2Fcluster-integration%2Fgitlab-agent/master", SHA),
    ("git", "https%3A%2F%2Fgit.example.org%3A8443%2F~me%2Frepo.git/main", SHA),
    ("git", "git%3A%2F%2Fgit.example.org%2Frepo.git/" + SHA, SHA),
    ("git", "git%40git.example.org%3Ame%2Frepo.git/" + SHA, SHA),
    ("zenodo", "10.5281/zenodo.3242074", "3242074"),
    ("figshare", "10.6084/m9.figshare.9782777.v1", "9782777.v1"),
    ("dataverse", "10.7910/DVN/TJCLKP", "3035124.v3.0"),
    ("dataverse", "doi:10.1002/(SICI)1097-4636", "77.v1.0"),
    ("hydroshare", "b8f6eae9d89241cf8b5904033460af61", "b8f6eae9d89241cf8b5904033460af61.v1695"),
    ("ckan", "https%3A%2F%2Fdemo.ckan.org%2Fdataset%2Fsample-dataset-1", "sample-dataset-1.v169"),
    (
        "ckan",
        "https%3A%2F%2Fdata.example.org%2Fckan%2Fdataset%2Fx%3Factivity_id%3Dabc-1",
        "x.v169",
    ),
]


def _described(provider: str, spec: str, ref: str) -> ResolvedRepo:
    """The provider's own description of `spec` resolved to `ref` (no request is made)."""
    resolver = make_resolver(Web())
    (found,) = [p for p in resolver.providers if p.prefix == provider]
    return found.describe(spec, found.parse(spec), ref)


@pytest.mark.parametrize(("provider", "spec", "ref"), SPECS)
def test_what_every_provider_resolves_to_builds(
    tmp_path: Path, provider: str, spec: str, ref: str
) -> None:
    repo = _described(provider, spec, ref)
    image = f"{REPOSITORY}:r2d-{provider}"
    check_job(
        BuildJob(
            image_name="skybinder-x:1", repo_url=repo.repo_url, ref=repo.ref, provider=provider
        )
    )
    values = {BUILD_REPO_URL: repo.repo_url, BUILD_REF: repo.ref, BUILD_IMAGE_NAME: image}
    result, calls = _run(tmp_path, values)
    assert result.returncode == 0, (repo.repo_url, result.stderr)
    assert calls == [_expected_argv(repo.repo_url, repo.ref, image)]


def test_the_provider_urls_cover_every_shape(tmp_path: Path) -> None:
    urls = [_described(*case).repo_url for case in SPECS]
    assert {url.split("://")[0] for url in urls if "://" in url} == {"https", "git", "ssh"}
    assert sum(url.startswith("10.") for url in urls) == 4  # the DOIs, bare
    assert {case[0] for case in SPECS} == {
        "gh", "gist", "gl", "git", "zenodo", "figshare", "dataverse", "hydroshare", "ckan"
    }  # fmt: skip


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


# -- public images: through ECR's pull-through caches, never Docker Hub's anonymous quota --------

STAND_IN_R2D = """
class _Trait:
    default_value = {base!r}


class Repo2Docker:
    base_image = _Trait()
"""
READ_CONFIG = """
import json, sys


class Node:
    def __init__(self):
        self.__dict__["values"] = {}

    def __getattr__(self, name):
        return self.values.setdefault(name, Node())

    def __setattr__(self, name, value):
        self.values[name] = value


c = Node()
exec(open(sys.argv[1]).read(), {"c": c})
print(json.dumps({
    "base": c.Repo2Docker.values.get("base_image"),
    "buildx": c.DockerEngine.values.get("extra_buildx_build_args"),
}))
"""


def _pre_build(name: str) -> str:
    spec = yaml.safe_load(BUILDSPEC.read_text(encoding="utf-8"))
    (command,) = [c for c in spec["phases"]["pre_build"]["commands"] if name in c]
    return str(command)


def _config(tmp_path: Path, base: str, **environment: str) -> dict[str, object]:
    """The repo2docker config the build writes, as repo2docker would read it, with a stand-in
    repo2docker whose default base image is `base`."""
    package = tmp_path / "site" / "repo2docker"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / "app.py").write_text(STAND_IN_R2D.format(base=base))
    config = tmp_path / "config.py"
    script = _pre_build("repo2docker_cache.py").replace("/tmp/repo2docker_cache.py", str(config))
    subprocess.run(["bash", "-c", script], check=True, timeout=30)
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(tmp_path / "site"), "CACHE_REF": CACHE_REF}
    read = subprocess.run(
        [sys.executable, "-c", READ_CONFIG, str(config)],
        env={**env, **environment},
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(read.stdout))


@pytest.mark.parametrize(
    ("base", "mirrored"),
    [
        ("docker.io/library/buildpack-deps:noble", f"{MIRROR}/docker/library/buildpack-deps:noble"),
        ("buildpack-deps:24.04", f"{MIRROR}/docker/library/buildpack-deps:24.04"),
        ("docker.io/buildpack-deps:jammy", f"{MIRROR}/docker/library/buildpack-deps:jammy"),
        ("quay.io/someone/base:1", None),  # not Docker Hub's: left as it is
        ("someone/base:1", None),  # on Docker Hub, but not an official image ECR Public has
    ],
)
def test_repo2dockers_base_image_comes_from_the_cache_of_ecr_public(
    tmp_path: Path, base: str, mirrored: str | None
) -> None:
    config = _config(tmp_path, base, **{BUILD_ECR_PUBLIC_MIRROR: MIRROR})
    assert config["base"] == mirrored
    assert _config(tmp_path, base)["base"] is None  # no mirror: repo2docker's own default


def test_buildkit_and_its_layer_cache_only_through_the_docker_hub_cache(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(RECORDER, encoding="utf-8")
    docker.chmod(0o755)
    record = tmp_path / "record.bin"
    script = _pre_build("buildx create")
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "RECORD": str(record)}
    subprocess.run(["bash", "-c", script], env={**env, BUILD_BUILDKIT_IMAGE: ""}, check=True)
    assert _calls(record) == []  # Docker's own builder: nothing pulled from Docker Hub
    subprocess.run(["bash", "-c", script], env={**env, BUILD_BUILDKIT_IMAGE: BUILDKIT}, check=True)
    (call,) = _calls(record)
    assert call[:2] == ["buildx", "create"] and f"image={BUILDKIT}" in call
    cached = _config(tmp_path, "buildpack-deps:noble", **{BUILD_BUILDKIT_IMAGE: BUILDKIT})
    assert cached["buildx"] == [
        "--cache-to",
        f"type=registry,ref={CACHE_REF},mode=max,image-manifest=true,oci-mediatypes=true",
    ]
    assert _config(tmp_path, "buildpack-deps:noble")["buildx"] is None


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
