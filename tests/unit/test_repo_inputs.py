"""detect_inputs follows repo2docker's config-dir rules and refuses what it cannot build."""

from __future__ import annotations

from pathlib import Path

import pytest

from skybinder.adapters.local.repo_inputs import (
    UNSUPPORTED,
    detect_inputs,
    parse_runtime,
    refers_to_repo_files,
)
from skybinder.domain.errors import BuildError


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_root_requirements(tmp_path: Path) -> None:
    inputs = detect_inputs(write(tmp_path, {"requirements.txt": "six\n", "README.md": "hi"}))
    assert inputs.config_dir == Path(".")
    assert inputs.requirements == Path("requirements.txt")
    assert inputs.runtime is None and inputs.python_version is None
    assert not inputs.install_repo and not inputs.uses_repo_files
    assert inputs.post_build is None and inputs.start is None


def test_empty_repository_uses_base_packages_only(tmp_path: Path) -> None:
    inputs = detect_inputs(tmp_path)
    assert inputs.requirements is None and not inputs.install_repo


@pytest.mark.parametrize("config", ["binder", ".binder"])
def test_binder_dir_is_used_exclusively(tmp_path: Path, config: str) -> None:
    # The root's environment.yml and setup.py would decide the build without a binder dir.
    write(
        tmp_path,
        {
            "environment.yml": "dependencies: [numpy]\n",
            "setup.py": "",
            "requirements.txt": "ignored\n",
            "postBuild": "echo ignored\n",
            f"{config}/requirements.txt": "six\n",
            f"{config}/postBuild": "echo hi\n",
            f"{config}/start": '#!/bin/bash\nexec "$@"\n',
        },
    )
    inputs = detect_inputs(tmp_path)
    assert inputs.config_dir == Path(config)
    assert inputs.requirements == Path(config, "requirements.txt")
    assert inputs.post_build == Path(config, "postBuild")
    assert inputs.start == Path(config, "start")
    assert not inputs.install_repo


def test_both_binder_dirs_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "binder").mkdir()
    (tmp_path / ".binder").mkdir()
    with pytest.raises(BuildError, match=r"both binder/ and \.binder/"):
        detect_inputs(tmp_path)


@pytest.mark.parametrize("name", ["setup.py", "pyproject.toml"])
def test_repository_is_installed_from_root_package_files(tmp_path: Path, name: str) -> None:
    inputs = detect_inputs(write(tmp_path, {name: ""}))
    assert inputs.install_repo and inputs.uses_repo_files


@pytest.mark.parametrize(("name", "why"), UNSUPPORTED)
@pytest.mark.parametrize("config", [".", "binder"])
def test_unsupported_files_name_the_file(tmp_path: Path, name: str, why: str, config: str) -> None:
    write(tmp_path, {f"{config}/{name}": "x\n", f"{config}/requirements.txt": "six\n"})
    shown = name if config == "." else f"{config}/{name}"
    with pytest.raises(BuildError) as raised:
        detect_inputs(tmp_path)
    message = raised.value.message
    assert message.startswith(f"{shown} {why}, which the local builder does not support")
    assert "AWS" in message


def test_environment_yml_message(tmp_path: Path) -> None:
    with pytest.raises(BuildError) as raised:
        detect_inputs(write(tmp_path, {"environment.yml": "dependencies: []\n"}))
    assert raised.value.message == (
        "environment.yml needs conda, which the local builder does not support; use "
        "requirements.txt, or deploy skybinder to AWS where repo2docker builds it."
    )


def test_dockerfile_wins_over_python_files(tmp_path: Path) -> None:
    write(tmp_path, {"Dockerfile": "FROM x\n", "requirements.txt": "six\n", "Pipfile": ""})
    with pytest.raises(BuildError, match=r"^Dockerfile asks for a Docker build"):
        detect_inputs(tmp_path)


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("python-3.11", "3.11"),
        ("python-3.12.4\n", "3.12"),
        ("  python-3\n", "3"),
        ("", None),
    ],
)
def test_python_runtime(tmp_path: Path, text: str, version: str | None) -> None:
    path = write(tmp_path, {"runtime.txt": text}) / "runtime.txt"
    assert parse_runtime(path, Path("runtime.txt")) == version
    assert detect_inputs(tmp_path).python_version == version


@pytest.mark.parametrize("text", ["r-2024-01-01", "r-4.3-2023-06-15", "r-4.3.1-2023-06-15"])
def test_r_runtime_is_unsupported(tmp_path: Path, text: str) -> None:
    write(tmp_path, {"binder/runtime.txt": text + "\n"})
    with pytest.raises(BuildError, match=rf"^binder/runtime.txt asks for R \({text}\)"):
        detect_inputs(tmp_path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("python-2.7", "supports Python 3 only"),
        ("node-18", "not a runtime repo2docker knows"),
        ("python-3.x", "not a runtime repo2docker knows"),
    ],
)
def test_other_runtimes_are_refused(tmp_path: Path, text: str, expected: str) -> None:
    write(tmp_path, {"runtime.txt": text})
    with pytest.raises(BuildError, match=expected):
        detect_inputs(tmp_path)


@pytest.mark.parametrize(
    ("line", "local"),
    [
        ("-e .", True),
        ("--editable=./sub", True),
        (".", True),
        ("./pkg", True),
        ("/abs/pkg", True),
        ("file:///tmp/pkg", True),
        ("-r other.txt", True),
        ("--requirement other.txt", True),
        ("-c constraints.txt", True),
        ("six==1.17", False),
        ("-e git+https://github.com/a/b#egg=b", False),
        ("--require-hashes", False),
        ("# -e .", False),
    ],
)
def test_requirements_referring_to_repo_files(line: str, local: bool) -> None:
    assert refers_to_repo_files(f"numpy\n{line}\n") is local


def test_local_requirements_make_the_env_depend_on_the_repo(tmp_path: Path) -> None:
    inputs = detect_inputs(write(tmp_path, {"requirements.txt": "-e .\n"}))
    assert inputs.requirements_local and inputs.uses_repo_files


def test_post_build_makes_the_env_depend_on_the_repo(tmp_path: Path) -> None:
    inputs = detect_inputs(write(tmp_path, {"postBuild": "echo hi\n"}))
    assert inputs.post_build == Path("postBuild") and inputs.uses_repo_files


def test_directories_named_like_inputs_are_ignored(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").mkdir()
    (tmp_path / "start").mkdir()
    inputs = detect_inputs(tmp_path)
    assert inputs.requirements is None and inputs.start is None


@pytest.mark.parametrize(
    "files",
    [
        {"install.R": "install.packages('x')\n", "requirements.txt": "six\n"},
        {"binder/install.R": "install.packages('x')\n", "binder/requirements.txt": "six\n"},
        {"requirements.R": "x\n", "requirements.txt": "six\n"},
        # With a binder folder, repo2docker does not look for DESCRIPTION at all.
        {"DESCRIPTION": "Package: x\n", "binder/requirements.txt": "six\n"},
        {"binder/DESCRIPTION": "Package: x\n", "binder/requirements.txt": "six\n"},
    ],
)
def test_r_files_without_an_r_runtime_or_root_description_build_as_python(
    tmp_path: Path, files: dict[str, str]
) -> None:
    inputs = detect_inputs(write(tmp_path, files))
    assert inputs.requirements is not None and inputs.requirements.name == "requirements.txt"


def test_a_root_description_makes_an_r_repository(tmp_path: Path) -> None:
    write(tmp_path, {"DESCRIPTION": "Package: x\n", "requirements.txt": "six\n"})
    with pytest.raises(BuildError, match=r"^DESCRIPTION makes it an R package \(it needs R\)"):
        detect_inputs(tmp_path)


@pytest.mark.parametrize(
    ("files", "decides"),
    [
        # repo2docker's order: Nix before R before conda.
        ({"runtime.txt": "r-2024-01-01\n", "environment.yml": "x\n"}, "runtime.txt asks for R"),
        ({"DESCRIPTION": "Package: x\n", "environment.yml": "x\n"}, "DESCRIPTION makes it"),
        ({"default.nix": "x\n", "runtime.txt": "r-2024-01-01\n"}, "default.nix needs Nix"),
    ],
)
def test_r_is_decided_in_repo2dockers_order(
    tmp_path: Path, files: dict[str, str], decides: str
) -> None:
    with pytest.raises(BuildError, match=f"^{decides}"):
        detect_inputs(write(tmp_path, files))
