"""The session launcher (images/session/skybinder-launch) run for real: bash, git, and local
repositories served over git's smart HTTP, as a session task would fetch from GitHub."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from skybinder.adapters.aws import names
from tests.git_http import commit_files, git, git_http_server

LAUNCHER = Path(__file__).resolve().parents[2] / "images" / "session" / "skybinder-launch"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path, list[str]]]:
    """(base URL, folder of bare repositories, request log) of a local git server."""
    root = tmp_path / "srv"
    root.mkdir()
    with git_http_server(root) as (url, log):
        yield url, root, log


def publish(work: Path, root: Path, name: str) -> None:
    """Make the bare repository `name` under `root` a copy of `work`'s branches."""
    bare = root / name
    if not bare.exists():
        git("init", "-q", "--bare", bare)
    git("push", "-q", "--force", str(bare), "HEAD:refs/heads/main", cwd=work)


def repo(tmp_path: Path, name: str, files: dict[str, str]) -> tuple[Path, str]:
    work = tmp_path / name
    git("init", "-q", "-b", "main", work)
    return work, commit_files(work, files, "first")


def image_home(tmp_path: Path, source: Path) -> Path:
    """A home directory as repo2docker leaves it: a clone of the built commit, plus files the
    environment put there (never tracked) and the entrypoint's log."""
    home = tmp_path / "home"
    git("clone", "-q", str(source), home)
    (home / ".local" / "share").mkdir(parents=True)
    (home / ".local" / "share" / "kernel.json").write_text("{}")
    (home / ".jupyter-server-log.txt").write_text("log\n")
    return home


def launch(home: Path, url: str, commit: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "SKYBINDER_GIT_PROTOCOLS": "http:https:git",
    }
    command = ["sh", "-c", 'echo "$@" > started', "sh", *extra, "jupyter-was-here"]
    return subprocess.run(
        ["bash", str(LAUNCHER), url, commit, "--", *command],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def files(home: Path) -> set[str]:
    return {
        p.relative_to(home).as_posix()
        for p in home.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(home).parts
    }


def test_a_content_only_commit_replaces_the_images_files(
    tmp_path: Path, served: tuple[str, Path, list[str]]
) -> None:
    url, root, _ = served
    work, first = repo(
        tmp_path, "x", {"requirements.txt": "numpy\n", "a.ipynb": "A", "old.py": "1"}
    )
    second = commit_files(work, {"a.ipynb": "B", "old.py": "", "new.py": "2"})
    publish(work, root, "x.git")
    home = image_home(tmp_path, work)
    git("checkout", "-q", first, cwd=home)  # the image holds the first commit
    done = launch(home, f"{url}/x.git", second)
    assert done.returncode == 0, done.stderr
    assert (home / "a.ipynb").read_text() == "B" and (home / "new.py").read_text() == "2"
    assert not (home / "old.py").exists()
    assert files(home) == {
        "requirements.txt", "a.ipynb", "new.py", "started",
        ".local/share/kernel.json", ".jupyter-server-log.txt",
    }  # fmt: skip
    assert git("rev-parse", "HEAD", cwd=home) == second
    assert (home / "started").read_text() == "jupyter-was-here\n"


def test_a_fork_gets_its_own_files_and_none_of_the_image_repositorys(
    tmp_path: Path, served: tuple[str, Path, list[str]]
) -> None:
    url, root, _ = served
    template, _ = repo(tmp_path, "template", {"requirements.txt": "numpy\n", "lesson.ipynb": "T"})
    fork, forked = repo(tmp_path, "fork", {"requirements.txt": "numpy\n", "mine.ipynb": "F"})
    publish(fork, root, "fork.git")
    home = image_home(tmp_path, template)
    done = launch(home, f"{url}/fork.git", forked, "--lab")
    assert done.returncode == 0, done.stderr
    assert "lesson.ipynb" not in files(home)
    assert (home / "mine.ipynb").read_text() == "F"
    assert (home / "started").read_text() == "--lab jupyter-was-here\n"


def test_a_home_without_git_gets_the_commit(
    tmp_path: Path, served: tuple[str, Path, list[str]]
) -> None:
    url, root, _ = served
    work, commit = repo(tmp_path, "x", {"a.txt": "a", "sub/b.txt": "b"})
    publish(work, root, "x.git")
    home = tmp_path / "empty-home"
    home.mkdir()
    done = launch(home, f"{url}/x.git", commit)
    assert done.returncode == 0, done.stderr
    assert files(home) == {"a.txt", "sub/b.txt", "started"}


def test_the_images_own_commit_is_not_fetched_again(
    tmp_path: Path, served: tuple[str, Path, list[str]]
) -> None:
    url, root, log = served
    work, commit = repo(tmp_path, "x", {"a.txt": "a"})
    publish(work, root, "x.git")
    home = image_home(tmp_path, work)
    done = launch(home, f"{url}/x.git", commit)
    assert done.returncode == 0, done.stderr
    assert log == [] and (home / "started").exists()


@pytest.mark.parametrize("case", ["unknown commit", "no such repository", "server down"])
def test_a_failed_fetch_ends_the_launch_before_jupyter(
    tmp_path: Path, served: tuple[str, Path, list[str]], case: str
) -> None:
    url, root, _ = served
    work, first = repo(tmp_path, "x", {"a.txt": "a"})
    publish(work, root, "x.git")
    home = image_home(tmp_path, work)
    target, commit = f"{url}/x.git", "f" * 40
    if case == "no such repository":
        commit = commit_files(work, {"a.txt": "b"})
        target = f"{url}/missing.git"
    elif case == "server down":
        commit = commit_files(work, {"a.txt": "b"})
        target = "http://127.0.0.1:9/x.git"
    done = launch(home, target, commit)
    assert done.returncode == names.FETCH_FAILED_EXIT
    assert done.stderr.startswith("skybinder-launch: ") and commit in done.stderr
    assert not (home / "started").exists()
    assert (home / "a.txt").read_text() == "a" and git("rev-parse", "HEAD", cwd=home) == first


@pytest.mark.parametrize(
    "args",
    [
        ["https://example.org/x.git", "main", "--", "true"],
        ["https://example.org/x.git", "a" * 40, "true"],
        ["--upload-pack=touch pwned", "a" * 40, "--", "true"],
    ],
)
def test_bad_arguments_are_refused(tmp_path: Path, args: list[str]) -> None:
    done = subprocess.run(
        ["bash", str(LAUNCHER), *args], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == names.FETCH_FAILED_EXIT
    assert not (tmp_path / "pwned").exists()
