"""ProcessRunner with a stand-in Jupyter: a real virtual environment whose `jupyter_server`
module records what it was started with and waits. Fast, and every process is real."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

import pytest
import uv

from skybinder.adapters.local.images import ImageLayout, LocalImage
from skybinder.adapters.local.process_runner import ProcessRunner
from skybinder.bootstrap import LocalEvents
from skybinder.domain.errors import LaunchError
from skybinder.domain.model import TaskStatus
from skybinder.service.ports import LaunchRequest
from tests.containment import containment
from tests.unit.conftest import make_world

STAND_IN = """
import json, os, sys, time
with open("server.json", "w") as out:
    json.dump({"argv": sys.argv, "env": dict(os.environ), "prefix": sys.prefix}, out)
print("stand-in server up", flush=True)
while True:
    time.sleep(1)
"""


class States:
    def __init__(self) -> None:
        self.seen: list[tuple[str, TaskStatus, str]] = []
        self._changed = threading.Condition()

    def __call__(self, sid: str, task: str, status: TaskStatus, address: str, why: str) -> None:
        with self._changed:
            self.seen.append((sid, status, why))
            self._changed.notify_all()

    def wait(self, sid: str, status: TaskStatus, timeout: float = 60) -> str:
        with self._changed:
            assert self._changed.wait_for(
                lambda: any(s == sid and st == status for s, st, _ in self.seen), timeout
            ), self.seen
        return next(why for s, st, why in self.seen if s == sid and st == status)


@pytest.fixture(scope="module")
def shared_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("envs") / "venv"
    subprocess.run([uv.find_uv_bin(), "venv", "--quiet", str(venv)], check=True)
    [site] = venv.glob("lib/python3*/site-packages")
    (site / "jupyter_server").mkdir()
    (site / "jupyter_server" / "__init__.py").write_text("")
    (site / "jupyter_server" / "__main__.py").write_text(STAND_IN)
    return venv


def image(root: Path, env: Path, name: str = "img:1") -> LocalImage:
    source = root / "images" / "src"
    source.mkdir(parents=True, exist_ok=True)
    (source / "notebook.ipynb").write_text("{}")
    made = LocalImage(
        name=name, repo_url="file:///r", ref="1", env=str(env), python="", source=str(source)
    )
    ImageLayout(root).save(made)
    return made


def request(session_id: str, name: str = "img:1") -> LaunchRequest:
    return LaunchRequest(
        session_id=session_id,
        image_name=name,
        base_url=f"/s/{session_id}/",
        token="t0ken",
        env={"BINDER_REQUEST": "v2/x"},
    )


def test_a_server_runs_in_its_layer_with_repo2dockers_home_and_is_stopped_whole(
    tmp_path: Path, shared_env: Path
) -> None:
    root, states = tmp_path / "data", States()
    runner = ProcessRunner(root, states, containment=containment())
    image(root, shared_env)
    runner.start(request("s1"))
    states.wait("s1", TaskStatus.RUNNING)
    seen = wait_json(root / "sessions" / "s1" / "work" / "server.json")
    work = str(root / "sessions" / "s1" / "work")
    assert seen["prefix"] == str(root / "sessions" / "s1" / "env")
    assert seen["env"]["HOME"] == seen["env"]["REPO_DIR"] == work
    assert seen["env"]["PATH"].startswith(f"{work}/.local/bin:{seen['prefix']}/bin:")
    assert "--ServerApp.base_url=/s/s1/" in seen["argv"]

    runner.stop_all(grace=5)
    # Reported before stop_all returned; nothing of the session is left on disk.
    assert states.wait("s1", TaskStatus.STOPPED, timeout=0) == "stopped by skybinder"
    assert not (root / "sessions" / "s1").exists()
    with pytest.raises(LaunchError, match="shutting down"):
        runner.start(request("s2"))
    assert not (root / "sessions" / "s2").exists()


def test_a_start_that_fails_leaves_no_session_folder(tmp_path: Path) -> None:
    root = tmp_path / "data"
    not_a_venv = tmp_path / "broken"
    not_a_venv.mkdir()
    image(root, not_a_venv)
    runner = ProcessRunner(root, States(), containment=containment())
    with pytest.raises(LaunchError, match="cannot be used"):
        runner.start(request("s3"))
    assert not (root / "sessions" / "s3").exists()


def test_events_after_the_binder_closed_reach_no_one() -> None:
    world = make_world()
    events = LocalEvents()
    events.binder = world.binder
    events.task_changed("nobody", "task-1", TaskStatus.RUNNING, "h:1", "")
    assert world.runner.stopped == ["task-1"]  # an unknown session's task is stopped
    events.close()
    events.task_changed("nobody", "task-2", TaskStatus.RUNNING, "h:1", "")
    events.build_finished("img", False, "late", "b1")
    assert world.runner.stopped == ["task-1"]  # the closed store is never touched


def wait_json(path: Path, timeout: float = 60) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            data: dict[str, object] = json.loads(path.read_text())
            return data
        except (OSError, ValueError):
            time.sleep(0.05)
    raise AssertionError(f"{path} was not written")
