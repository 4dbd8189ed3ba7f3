"""The local runner knows its servers' state directly: `describe` while one runs and after it
ended, and one server per launch attempt however often it is asked (real processes; a stand-in
for Jupyter that only waits, so no environment has to be built)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from skybinder.adapters.local.images import ImageLayout, LocalImage
from skybinder.adapters.local.process_runner import ProcessRunner
from skybinder.domain.model import TaskStatus
from skybinder.service.ports import LaunchRequest, TaskInfo

IMAGE = "skybinder-test-waits:1"


class Told:
    """What the runner reported, as the service's on_task_state would get it."""

    def __init__(self) -> None:
        self.infos: list[TaskInfo] = []
        self.stopped = threading.Event()

    def __call__(self, info: TaskInfo) -> None:
        self.infos.append(info)
        if info.status == TaskStatus.STOPPED:
            self.stopped.set()


def waiting_image(root: Path) -> None:
    """An image whose "python" is a script that waits (where Jupyter would serve)."""
    env = root / "env"
    (env / "bin").mkdir(parents=True)
    python = env / "bin" / "python"
    python.write_text("#!/bin/sh\nexec sleep 60\n")
    python.chmod(0o755)
    source = root / "source"
    source.mkdir()
    image = LocalImage(
        name=IMAGE,
        repo_url="file:///x",
        ref="1",
        env=str(env),
        python=str(python),
        source=str(source),
    )
    ImageLayout(root).save(image)


def request(attempt: int = 0) -> LaunchRequest:
    return LaunchRequest(
        session_id="s1", image_name=IMAGE, base_url="/s/s1/", token="t", env={}, attempt=attempt
    )


def test_a_server_is_described_while_it_runs_and_forgotten_once_it_ended(tmp_path: Path) -> None:
    waiting_image(tmp_path)
    told = Told()
    runner = ProcessRunner(tmp_path, told)
    task = runner.start(request())
    assert runner.start(request()) == task  # asked again: the same server
    described = runner.describe(task)
    assert described is not None and described.status == TaskStatus.RUNNING
    assert (described.session_id, described.attempt) == ("s1", 0)
    assert described.address.startswith("127.0.0.1:")
    assert runner.describe("local-nothing-0") is None
    runner.stop(task)
    assert told.stopped.wait(10)
    deadline = time.monotonic() + 10
    while runner.describe(task) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert runner.describe(task) is None
    assert [info.status for info in told.infos] == [TaskStatus.RUNNING, TaskStatus.STOPPED]
    assert told.infos[-1].reason == "stopped by skybinder"
