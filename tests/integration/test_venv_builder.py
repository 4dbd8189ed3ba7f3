"""VenvBuilder builds real git repositories with real uv; base packages are tiny to keep it fast."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from skybinder.adapters.local.images import ImageLayout, LocalImage, LocalImageRegistry
from skybinder.adapters.local.processes import Scope, run_streamed
from skybinder.adapters.local.venv_builder import VenvBuilder
from skybinder.domain.errors import BuildError
from skybinder.service.ports import BuildJob
from tests.containment import containment

BASE = ["six"]
TIMEOUT = 300.0
GIT = [
    "git",
    "-c", "user.name=Skybinder Test",
    "-c", "user.email=test@example.org",
    "-c", "init.defaultBranch=main",
    "-c", "commit.gpgsign=false",
]  # fmt: skip


class Finished:
    """Records on_finished calls; `wait` blocks until the named image's build has reported."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bool, str]] = []
        self._cond = threading.Condition()

    def __call__(self, image_name: str, ok: bool, reason: str, build_id: str = "") -> None:
        with self._cond:
            self.calls.append((image_name, ok, reason))
            self._cond.notify_all()

    def wait(self, image_name: str) -> tuple[bool, str]:
        with self._cond:
            done = self._cond.wait_for(
                lambda: any(name == image_name for name, _, _ in self.calls), timeout=TIMEOUT
            )
            assert done, f"the build of {image_name} did not finish within {TIMEOUT} s"
            [result] = [(ok, reason) for name, ok, reason in self.calls if name == image_name]
            return result


def commit(repo: Path, files: dict[str, str], executable: tuple[str, ...] = ()) -> str:
    """Write `files` into `repo` (creating it), commit them, and return the commit sha."""
    if not (repo / ".git").exists():
        repo.mkdir(parents=True, exist_ok=True)
        subprocess.run([*GIT, "init", "--quiet", str(repo)], check=True)
    for name, text in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if name in executable:
            path.chmod(0o755)
    subprocess.run([*GIT, "-C", str(repo), "add", "--all"], check=True)
    subprocess.run([*GIT, "-C", str(repo), "commit", "--quiet", "-m", "change"], check=True)
    sha = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    )
    return sha.stdout.strip()


@pytest.fixture
def finished() -> Finished:
    return Finished()


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def builder(data: Path, finished: Finished) -> VenvBuilder:
    return VenvBuilder(data, finished, base_packages=BASE, containment=containment())


def build(
    builder: VenvBuilder, finished: Finished, repo: Path | str, ref: str, name: str = ""
) -> tuple[bool, str, str]:
    """Build `repo` at `ref`; return ok, reason and the build id."""
    image_name = name or f"skybinder-test-{Path(str(repo)).name}:{ref}"
    job = BuildJob(image_name=image_name, repo_url=str(repo), ref=ref, provider="git")
    build_id = builder.start(job)
    ok, reason = finished.wait(image_name)
    return ok, reason, build_id


def log_records(builder: VenvBuilder, build_id: str) -> list[dict[str, str]]:
    return [json.loads(line) for line in builder.logs(build_id).lines]


def messages(builder: VenvBuilder, build_id: str) -> str:
    return "".join(record["message"] for record in log_records(builder, build_id))


def run_python(image: LocalImage, code: str) -> str:
    answer = subprocess.run([image.python, "-c", code], check=True, capture_output=True, text=True)
    return answer.stdout.strip()


def complete_envs(data: Path) -> list[Path]:
    return sorted(path.parent for path in (data / "envs").glob("*/.complete"))


def env_dirs(data: Path) -> list[Path]:
    return sorted(path for path in (data / "envs").iterdir() if path.is_dir())


def test_requirements_repo_builds(
    tmp_path: Path, data: Path, builder: VenvBuilder, finished: Finished
) -> None:
    repo = tmp_path / "repo"
    sha = commit(repo, {"requirements.txt": "iniconfig\n", "notebook.ipynb": "{}"})
    ok, reason, build_id = build(builder, finished, f"file://{repo}", sha, "skybinder-gh-a-b-1:x")

    assert (ok, reason) == (True, "")
    assert LocalImageRegistry(data).has("skybinder-gh-a-b-1:x")
    assert (data / "images" / "skybinder-gh-a-b-1+3ax" / "image.json").is_file()
    image = ImageLayout(data).load("skybinder-gh-a-b-1:x")
    assert image is not None
    assert (image.repo_url, image.ref, image.start) == (f"file://{repo}", sha, None)
    assert Path(image.python) == Path(image.env) / "bin" / "python"
    assert (Path(image.source) / "notebook.ipynb").is_file()
    assert run_python(image, "import iniconfig, six, sys; print(sys.prefix)") == image.env
    records = log_records(builder, build_id)
    assert {record["phase"] for record in records} == {"fetching", "building"}
    assert all(record["message"].endswith("\n") for record in records)
    assert records[-1]["message"] == "Built environment for skybinder-gh-a-b-1:x\n"
    assert finished.calls == [("skybinder-gh-a-b-1:x", True, "")]


def test_same_requirements_reuse_the_environment(
    tmp_path: Path, data: Path, builder: VenvBuilder, finished: Finished
) -> None:
    repo = tmp_path / "repo"
    first = commit(repo, {"requirements.txt": "iniconfig\n", "README.md": "one"})
    second = commit(repo, {"README.md": "two"})
    assert build(builder, finished, repo, first)[:2] == (True, "")
    [env] = env_dirs(data)
    before = env.stat()

    ok, _, build_id = build(builder, finished, repo, second)

    assert ok
    assert f"Reusing the environment built for {repo}@{first[:12]}" in messages(builder, build_id)
    assert env_dirs(data) == [env]
    after = env.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    layout = ImageLayout(data)
    one = layout.load(f"skybinder-test-repo:{first}")
    two = layout.load(f"skybinder-test-repo:{second}")
    assert one is not None and two is not None
    assert one.env == two.env and one.source != two.source
    assert (Path(two.source) / "README.md").read_text() == "two"


def test_concurrent_builds_of_one_environment_share_it(
    tmp_path: Path, data: Path, builder: VenvBuilder, finished: Finished
) -> None:
    repo = tmp_path / "repo"
    first = commit(repo, {"requirements.txt": "iniconfig\n"})
    second = commit(repo, {"README.md": "two"})
    jobs = [
        BuildJob(image_name=f"img:{ref}", repo_url=str(repo), ref=ref, provider="git")
        for ref in (first, second)
    ]
    build_ids = [builder.start(job) for job in jobs]
    assert [finished.wait(job.image_name) for job in jobs] == [(True, ""), (True, "")]

    logs = [messages(builder, build_id) for build_id in build_ids]
    assert sum("Reusing the environment built for" in text for text in logs) == 1
    assert len(complete_envs(data)) == 1


def test_missing_requirement_fails_and_leaves_nothing(
    tmp_path: Path, data: Path, builder: VenvBuilder, finished: Finished
) -> None:
    repo = tmp_path / "repo"
    sha = commit(repo, {"requirements.txt": "this-package-does-not-exist-skybinder==1\n"})

    ok, reason, build_id = build(builder, finished, repo, sha)

    assert not ok
    assert reason.startswith("Installing packages failed: ")
    assert "'this-package-does-not-exist-skybinder'" in reason
    assert reason.endswith("Check requirements.txt.")
    assert not LocalImageRegistry(data).has(f"skybinder-test-repo:{sha}")
    assert not list((data / "images").glob("*/image.json"))
    assert env_dirs(data) == []
    assert log_records(builder, build_id)[-1] == {"phase": "failed", "message": reason + "\n"}


def test_unknown_ref_fails_clearly(
    tmp_path: Path, builder: VenvBuilder, finished: Finished
) -> None:
    repo = tmp_path / "repo"
    commit(repo, {"requirements.txt": "iniconfig\n"})

    ok, reason, _ = build(builder, finished, repo, "0" * 40)

    assert not ok
    assert reason.startswith(f"Could not check out '{'0' * 40}' in {repo}")
    assert "Check that the branch, tag or commit exists there." in reason


def test_unknown_repository_fails_clearly(
    tmp_path: Path, builder: VenvBuilder, finished: Finished
) -> None:
    ok, reason, build_id = build(builder, finished, tmp_path / "nowhere", "main")

    assert not ok
    assert reason.startswith(f"Could not fetch the repository {tmp_path / 'nowhere'} (")
    assert log_records(builder, build_id)[0]["phase"] == "fetching"


def test_environment_yml_is_refused(
    tmp_path: Path, builder: VenvBuilder, finished: Finished
) -> None:
    repo = tmp_path / "repo"
    sha = commit(repo, {"binder/environment.yml": "dependencies: [numpy]\n"})

    ok, reason, _ = build(builder, finished, repo, sha)

    assert not ok
    assert reason.startswith("binder/environment.yml needs conda")


def test_post_build_runs_in_the_environment(
    tmp_path: Path, data: Path, builder: VenvBuilder, finished: Finished
) -> None:
    repo = tmp_path / "repo"
    post_build = "#!/bin/sh\nset -e\npython -c 'import six, sys; print(sys.prefix)' > built.txt\n"
    sha = commit(
        repo, {"binder/postBuild": post_build, "binder/start": "#!/bin/sh\n"}, ("binder/postBuild",)
    )

    ok, reason, build_id = build(builder, finished, repo, sha)

    assert (ok, reason) == (True, "")
    image = ImageLayout(data).load(f"skybinder-test-repo:{sha}")
    assert image is not None
    assert (Path(image.source) / "built.txt").read_text().strip() == image.env
    assert image.start == str(Path(image.source) / "binder" / "start")
    assert os.access(image.start, os.X_OK)  # committed without the executable bit
    assert "Running binder/postBuild" in messages(builder, build_id)


def test_post_build_without_shebang_runs_with_bash(
    tmp_path: Path, data: Path, builder: VenvBuilder, finished: Finished
) -> None:
    repo = tmp_path / "repo"
    sha = commit(repo, {"postBuild": 'echo "$BASH_VERSION" > built.txt\n'})

    assert build(builder, finished, repo, sha)[:2] == (True, "")
    image = ImageLayout(data).load(f"skybinder-test-repo:{sha}")
    assert image is not None
    assert (Path(image.source) / "built.txt").read_text().strip()


def test_failing_post_build_fails_the_build(
    tmp_path: Path, data: Path, builder: VenvBuilder, finished: Finished
) -> None:
    repo = tmp_path / "repo"
    sha = commit(repo, {"postBuild": "#!/bin/bash\necho about to fail\nexit 3\n"}, ("postBuild",))

    ok, reason, build_id = build(builder, finished, repo, sha)

    assert not ok
    assert reason.startswith("postBuild failed with exit code 3")
    assert "about to fail" in messages(builder, build_id)
    assert not LocalImageRegistry(data).has(f"skybinder-test-repo:{sha}")
    assert env_dirs(data) == []


def test_runtime_txt_picks_an_installed_python(
    tmp_path: Path, data: Path, builder: VenvBuilder, finished: Finished
) -> None:
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    repo = tmp_path / "repo"
    sha = commit(repo, {"runtime.txt": f"python-{version}\n"})

    assert build(builder, finished, repo, sha)[:2] == (True, "")
    image = ImageLayout(data).load(f"skybinder-test-repo:{sha}")
    assert image is not None
    assert run_python(image, "import sys; print(sys.version)").startswith(version)


def test_runtime_txt_asking_for_a_missing_python_fails(
    tmp_path: Path, builder: VenvBuilder, finished: Finished
) -> None:
    repo = tmp_path / "repo"
    sha = commit(repo, {"runtime.txt": "python-3.1\n"})

    ok, reason, _ = build(builder, finished, repo, sha)

    assert not ok
    assert reason.startswith(
        "runtime.txt asks for Python 3.1, which is not installed on this machine."
    )


def test_pyproject_repository_is_installed(
    tmp_path: Path, data: Path, builder: VenvBuilder, finished: Finished
) -> None:
    pyproject = (
        '[project]\nname = "skybinder-demo"\nversion = "0.1"\n'
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
    )
    repo = tmp_path / "repo"
    sha = commit(repo, {"pyproject.toml": pyproject, "skybinder_demo.py": "ANSWER = 42\n"})

    assert build(builder, finished, repo, sha)[:2] == (True, "")
    image = ImageLayout(data).load(f"skybinder-test-repo:{sha}")
    assert image is not None
    assert run_python(image, "import skybinder_demo; print(skybinder_demo.ANSWER)") == "42"


def test_logs_use_byte_cursors_and_hold_back_partial_lines(
    tmp_path: Path, data: Path, builder: VenvBuilder, finished: Finished
) -> None:
    repo = tmp_path / "repo"
    sha = commit(repo, {"requirements.txt": "iniconfig\n"})
    job = BuildJob(image_name="img:1", repo_url=str(repo), ref=sha, provider="git")
    build_id = builder.start(job)
    streamed: list[str] = []
    cursor: str | None = None
    while not finished.calls:  # read while the build writes
        chunk = builder.logs(build_id, cursor)
        streamed += chunk.lines
        cursor = chunk.cursor
        time.sleep(0.01)
    assert finished.wait("img:1") == (True, "")
    rest = builder.logs(build_id, cursor)
    streamed += rest.lines
    assert streamed == builder.logs(build_id).lines
    assert builder.logs(build_id, rest.cursor).lines == []

    log_file = data / "builds" / f"{build_id}.log"
    size = str(log_file.stat().st_size)
    assert rest.cursor == size
    with log_file.open("a") as file:
        file.write('{"phase": "building", "mess')
    assert builder.logs(build_id, size).model_dump() == {"lines": [], "cursor": size}
    with log_file.open("a") as file:
        file.write('age": "late\\n"}\n')
    late = builder.logs(build_id, size)
    assert late.lines == ['{"phase": "building", "message": "late\\n"}']
    assert late.cursor == str(log_file.stat().st_size)


@pytest.mark.parametrize("build_id", ["0123456789abcdef", "../../etc/passwd", ""])
def test_logs_of_unknown_builds_are_empty(builder: VenvBuilder, build_id: str) -> None:
    assert builder.logs(build_id, "12").model_dump() == {"lines": [], "cursor": "12"}
    assert builder.logs(build_id).model_dump() == {"lines": [], "cursor": None}


def test_info_names_uv(builder: VenvBuilder) -> None:
    info = builder.info()
    assert info["builder"] == "skybinder-venv"
    assert str(info["build_image"]).startswith("uv 0.")


def test_an_interrupted_environment_is_rebuilt(
    tmp_path: Path, data: Path, builder: VenvBuilder, finished: Finished
) -> None:
    repo = tmp_path / "repo"
    sha = commit(repo, {"requirements.txt": "iniconfig\n"})
    assert build(builder, finished, repo, sha, "img:1")[:2] == (True, "")
    [env] = env_dirs(data)
    (env / ".complete").unlink()  # as if the build had died before finishing it
    assert not LocalImageRegistry(data).has("img:2")

    ok, _, build_id = build(builder, finished, repo, sha, "img:2")

    assert ok
    assert "Removing an incomplete or broken environment" in messages(builder, build_id)
    assert complete_envs(data) == [env]


def test_streamed_process_times_out_with_its_children(tmp_path: Path) -> None:
    lines: list[str] = []
    started = time.monotonic()
    # The background sleep keeps the pipe open after bash exits; the timeout must end it too.
    done = run_streamed(
        ["bash", "-c", "echo started; sleep 60 & echo waiting; sleep 60"],
        on_line=lines.append,
        timeout=1,
        scope=Scope(containment(), "test/timeout"),
    )
    assert time.monotonic() - started < 30
    assert done.timed_out and not done.ok
    assert lines == ["started", "waiting"] == done.tail


def test_streamed_process_that_cannot_start() -> None:
    with pytest.raises(BuildError, match="Could not run no-such-program-skybinder"):
        run_streamed(
            ["no-such-program-skybinder"],
            on_line=print,
            timeout=5,
            scope=Scope(containment(), "test/missing"),
        )
