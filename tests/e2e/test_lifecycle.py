"""End to end: nothing a build or a session starts outlives it, whatever the binder goes
through (idle culling, a stop mid-build, Ctrl-C, kill -9 and a restart), for every process
container this machine has. What is left is counted by scanning /proc after each scenario."""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from skybinder.adapters.local.containment import MECHANISMS as CONTAINMENTS
from tests.containment import MECHANISMS, left_behind, processes_with, require
from tests.e2e.conftest import (
    Server,
    build_path,
    make_repo,
    session_processes,
    start_server,
    stop_server,
)
from tests.e2e.lifecycle_repos import (
    Gate,
    Stream,
    misbehaving_repo,
    stalling_package_repo,
    token,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
CULLED_WITHIN = 150  # s: Jupyter looks for inactivity once a minute


@pytest.fixture
def gate() -> Iterator[Gate]:
    opened = Gate()
    yield opened
    opened.close()


def admin_stop(server: Server, session_id: str) -> None:
    token = (server.data_dir / "admin-token").read_text().strip()
    reply = httpx.post(
        f"{server.url}/api/admin/sessions/{session_id}/stop",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert reply.status_code == 200, reply.text


def test_what_builds_and_sessions_start_ends_with_them(tmp_path: Path) -> None:
    """postBuild's `cmd &` ends with the build; start's background jobs and setsid daemons
    end when Jupyter culls the idle session — with each mechanism, all at once."""
    mechanisms = [m for m in MECHANISMS if _available(m)]
    servers = {m: start_server(tmp_path / f"data-{m}", "--containment", m) for m in mechanisms}
    tags = {m: (token(), token()) for m in mechanisms}
    try:
        ready: dict[str, dict[str, object]] = {}
        running: dict[str, int] = {}

        def launch(mechanism: str) -> None:
            build_tag, start_tag = tags[mechanism]
            repo = misbehaving_repo(
                tmp_path / f"repo-{mechanism}", build_tag=build_tag, start_tag=start_tag
            )
            ready[mechanism] = servers[mechanism].events(build_path(repo))[-1]
            # At once: Jupyter looks for inactivity a minute after it started, not before.
            running[mechanism] = len(processes_with(start_tag))

        threads = [threading.Thread(target=launch, args=(m,)) for m in mechanisms]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for mechanism in mechanisms:
            assert ready[mechanism]["phase"] == "ready", (mechanism, ready[mechanism])
            assert left_behind(tags[mechanism][0]) == [], mechanism
            assert running[mechanism] == 4, mechanism  # start's jobs do run in the session
        for mechanism in mechanisms:
            session_id = str(ready[mechanism]["session_id"])
            ended = servers[mechanism].wait_state(session_id, {"stopped"}, CULLED_WITHIN)
            assert "idle" in str(ended["reason"])
            assert left_behind(tags[mechanism][1]) == [], mechanism
    finally:
        for server in servers.values():
            stop_server(server)
    assert all(left_behind(tag) == [] for pair in tags.values() for tag in pair)


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_stopping_a_session_that_is_building_cancels_its_build(
    tmp_path: Path, gate: Gate, mechanism: str
) -> None:
    require(mechanism)
    build_tag, start_tag = token(), token()
    repo = misbehaving_repo(tmp_path / "repo", build_tag=build_tag, start_tag=start_tag, gate=gate)
    server = start_server(tmp_path / "data", "--containment", mechanism)
    try:
        shows_its_containment(server, CONTAINMENTS[mechanism])
        stream = Stream(server, build_path(repo))
        session_id = str(stream.wait_for(lambda e: "session_id" in e)["session_id"])
        stream.wait_message("postbuild-started")
        admin_stop(server, session_id)
        last = stream.end()[-1]
        assert last["phase"] == "failed" and "stopped by an operator" in str(last["message"])
        assert left_behind(build_tag) == []
        # The build's thread writes its last word once its step is gone.
        cancelled = "The build was cancelled: no launch waits for it any more."
        assert eventually(lambda: cancelled in build_logs(server)), build_logs(server)
        assert not list((server.data_dir / "images").glob("*/image.json"))
    finally:
        stop_server(server)


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_kill_9_mid_build_then_a_restart_relaunches_the_same_commit(
    tmp_path: Path, gate: Gate, mechanism: str
) -> None:
    require(mechanism)
    build_tag, start_tag = token(), token()
    repo = misbehaving_repo(tmp_path / "repo", build_tag=build_tag, start_tag=start_tag, gate=gate)
    data = tmp_path / "data"
    first = start_server(data, "--containment", mechanism)
    stream = Stream(first, build_path(repo))
    old_session = str(stream.wait_for(lambda e: "session_id" in e)["session_id"])
    stream.wait_message("postbuild-started")
    first.process.send_signal(signal.SIGKILL)
    first.process.wait()
    stream.end()
    gate.open = True  # the build that runs again passes

    again = start_server(data, "--containment", mechanism)
    try:
        # Whatever the mechanism left running, the restart ended it before serving.
        assert left_behind(build_tag) == []
        ended = again.session(old_session)
        assert (ended["state"], ended["status_code"]) == ("failed", 503)
        assert "restarted" in str(ended["reason"])
        ready = again.events(build_path(repo))[-1]
        assert ready["phase"] == "ready", ready
        assert left_behind(build_tag) == []
    finally:
        stop_server(again)
    assert left_behind(start_tag) == []


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_kill_9_while_uv_builds_a_package_leaves_neither_uv_nor_its_workers(
    tmp_path: Path, gate: Gate, mechanism: str
) -> None:
    require(mechanism)
    tag = token()
    repo = stalling_package_repo(tmp_path / "repo", tag=tag, gate=gate)
    data = tmp_path / "data"
    first = start_server(data, "--containment", mechanism)
    stream = Stream(first, build_path(repo))
    assert gate.reached.wait(300), stream.events[-5:]
    assert processes_with(tag) and uv_processes(data)  # the backend's daemons, uv itself
    first.process.send_signal(signal.SIGKILL)
    first.process.wait()
    stream.end()

    again = start_server(data, "--containment", mechanism)
    try:
        assert left_behind(tag) == []
        assert uv_processes(data) == []
    finally:
        stop_server(again)


def uv_processes(data: Path) -> list[int]:
    """uv processes working in the data directory `data`."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if Path(argv[0]).name == "uv" and any(str(data) in arg for arg in argv):
            found.append(int(proc.name))
    return found


def test_ctrl_c_with_an_open_stream_exits_within_10_s_leaving_nothing(
    tmp_path: Path, gate: Gate
) -> None:
    build_tag, start_tag, other_tag = token(), token(), token()
    running = misbehaving_repo(tmp_path / "running", build_tag=build_tag, start_tag=start_tag)
    building = misbehaving_repo(
        tmp_path / "building", build_tag=other_tag, start_tag=token(), gate=gate
    )
    server = start_server(tmp_path / "data")
    ready = server.events(build_path(running))[-1]
    assert ready["phase"] == "ready"
    stream = Stream(server, build_path(building))
    stream.wait_message("postbuild-started")

    # Ctrl-C, and again and again as an impatient user would, through every phase of the
    # shutdown: none is needed, and none cuts the cleanup short.
    deadline = time.monotonic() + 10
    while server.process.poll() is None:
        assert time.monotonic() < deadline, "serve did not exit within 10 s"
        server.process.send_signal(signal.SIGINT)
        time.sleep(0.25)

    last = stream.end(timeout=30)[-1]
    assert (last["phase"], last["status_code"]) == ("failed", 503)
    assert "shutting down" in str(last["message"])
    assert session_processes(str(ready["session_id"])) == []
    for tag in (build_tag, start_tag, other_tag):
        assert left_behind(tag) == []
    log = (server.data_dir / "serve.log").read_text()
    assert "Traceback" not in log and "closed database" not in log, log
    assert server.process.returncode == 0 and "Aborted" not in log, log
    # The database says what happened: nothing is left `ready` (or on its way).
    with contextlib.closing(sqlite3.connect(server.data_dir / "skybinder.sqlite")) as db:
        states = dict(db.execute("SELECT id, state FROM sessions").fetchall())
    assert states.pop(str(ready["session_id"])) == "stopped"
    assert set(states.values()) == {"failed"}


def shows_its_containment(server: Server, name: str) -> None:
    """serve says how it contains builds and sessions as it starts, and /health says it."""
    assert httpx.get(f"{server.url}/health", timeout=10).json()["containment"] == name
    log = (server.data_dir / "serve.log").read_text()
    assert f"Builds and sessions are contained by {name}." in log, log


def build_logs(server: Server) -> str:
    return "".join(path.read_text() for path in (server.data_dir / "builds").iterdir())


def eventually(check: Callable[[], bool], timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _available(mechanism: str) -> bool:
    try:
        require(mechanism)
    except pytest.skip.Exception:
        return False
    return True


def test_a_100_mb_line_and_endless_output_keep_serve_small_and_its_log_capped(
    tmp_path: Path,
) -> None:
    post_build = (
        "#!/bin/bash\n"
        "head -c 100000000 /dev/zero | tr '\\0' a\n"  # 100 MB, and no newline
        "echo\n"
        "yes 'a line of output that a build prints again and again' | head -c 30000000\n"
        "echo postbuild-done\n"
    )
    repo = make_repo(tmp_path / "loud", {"requirements.txt": "", "postBuild": post_build})
    server = start_server(tmp_path / "data")
    try:
        events = server.events(build_path(repo))
        assert events[-1]["phase"] == "ready", events[-1]
        peak = peak_rss_mb(server.process.pid)
    finally:
        stop_server(server)
    assert peak < 300, f"serve peaked at {peak} MB"
    messages = [str(event.get("message", "")) for event in events]
    [cut] = [m for m in messages if m.startswith("aaaa")]
    assert cut.rstrip("\n").endswith("[... line cut: 99934464 more bytes]")
    assert len(cut) < 70_000
    [log] = (server.data_dir / "builds").iterdir()
    assert log.stat().st_size < 10.5 * 2**20  # 30 MB printed: head and tail kept
    text = log.read_text()
    assert "left out" in text and "postbuild-done" in text


def peak_rss_mb(pid: int) -> int:
    """The most memory the process has held resident (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    raise AssertionError("no VmHWM")
