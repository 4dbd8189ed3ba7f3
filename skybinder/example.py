"""The example repository that ships with skybinder, made into a local git repository."""

from __future__ import annotations

import os
import shutil
import subprocess
from importlib.resources import as_file, files
from pathlib import Path
from urllib.parse import quote

# A fixed identity and date make the commit, and so the image, the same on every start:
# the second `skybinder serve` launches the example without building it again.
_GIT_ENV = {
    "GIT_AUTHOR_NAME": "skybinder",
    "GIT_AUTHOR_EMAIL": "skybinder@localhost",
    "GIT_COMMITTER_NAME": "skybinder",
    "GIT_COMMITTER_EMAIL": "skybinder@localhost",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
}


def _git(repo: Path, *args: str) -> None:
    env = {**os.environ, **_GIT_ENV}
    subprocess.run(["git", "-C", str(repo), *args], check=True, env=env, capture_output=True)


def materialize_example(data_dir: Path) -> Path:
    """Write the example into `<data_dir>/example-repo` as a one-commit git repository."""
    repo = data_dir / "example-repo"
    shutil.rmtree(repo, ignore_errors=True)
    with as_file(files("skybinder") / "example_repo") as source:
        shutil.copytree(source, repo, ignore=shutil.ignore_patterns("__pycache__"))
    _git(repo, "init", "--quiet", "--initial-branch=main")
    _git(repo, "add", "--all")
    _git(repo, "commit", "--quiet", "--no-gpg-sign", "--message", "Example repository")
    return repo


def launch_path(repo: Path, ref: str = "HEAD") -> str:
    """The `/v2/git/...` path that launches a local repository."""
    return f"v2/git/{quote(repo.resolve().as_uri(), safe='')}/{ref}"
