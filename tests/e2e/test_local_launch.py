"""End to end: a real repository built, launched, used through a real kernel, and culled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Server, build_path, make_repo, session_processes
from tests.e2e.kernel import execute, start_kernel

pytestmark = pytest.mark.e2e

NOTEBOOK_CODE = "import tabulate, os; print(tabulate.__version__, os.environ['BINDER_REQUEST'])"


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("repos")
    return make_repo(root / "demo", {"requirements.txt": "tabulate==0.9.0\n", "data.txt": "42\n"})


def test_launch_run_code_relaunch_and_cull(server: Server, repo: Path) -> None:
    events = server.events(build_path(repo))
    phases = [e["phase"] for e in events]
    assert phases[-1] == "ready", events[-1]
    assert "building" in phases and phases.index("built") < phases.index("ready")
    ready = events[-1]
    url, token = str(ready["url"]), str(ready["token"])
    session_id = str(ready["session_id"])
    assert url.startswith("http://127.0.0.1:") and url.endswith(f"/s/{session_id}/")

    # The token works as a header (REST) and as ?token= (WebSocket); without it: refused.
    assert httpx.get(url + "api/status", timeout=10).status_code == 403
    kernel = start_kernel(url, token)
    output = execute(url, token, kernel, NOTEBOOK_CODE + "; print(open('data.txt').read())")
    assert output.split() == ["0.9.0", f"v2/git/{build_path(repo)[11:]}", "42"]

    # The same commit again: no build, straight to launch.
    builds = sorted((server.data_dir / "builds").iterdir())
    again = server.events(build_path(repo))
    phases = [e["phase"] for e in again]
    assert phases[0] == "built" and set(phases[1:-1]) == {"launching"} and phases[-1] == "ready"
    assert again[0]["message"] == "Found built image, launching...\n"
    assert sorted((server.data_dir / "builds").iterdir()) == builds
    second = str(again[-1]["session_id"])
    assert second != session_id and again[-1]["token"] != token

    # The operator's view: both sessions listed by `skybinder sessions list` (admin API).
    listing = subprocess.run(
        [
            sys.executable,
            "-m",
            "skybinder",
            "sessions",
            "list",
            "--binder",
            server.url,
            "--data-dir",
            str(server.data_dir),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert listing.returncode == 0, listing.stderr
    assert session_id in listing.stdout and second in listing.stdout

    # Left alone, both servers are culled by Jupyter and their sessions end `stopped`.
    httpx.delete(f"{url}api/kernels/{kernel}", headers={"Authorization": f"token {token}"})
    for sid in (session_id, second):
        ended = server.wait_state(sid, {"stopped", "failed"}, timeout=150)
        assert ended["state"] == "stopped" and "idle" in str(ended["reason"])
        assert session_processes(sid) == []
        assert not (server.data_dir / "sessions" / sid).exists()


def test_operator_stops_a_session_from_the_command_line(server: Server, repo: Path) -> None:
    ready = server.events(build_path(repo))[-1]
    session_id = str(ready["session_id"])
    stop = subprocess.run(
        [
            sys.executable,
            "-m",
            "skybinder",
            "sessions",
            "stop",
            session_id,
            "--binder",
            server.url,
            "--data-dir",
            str(server.data_dir),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert stop.returncode == 0, stop.stderr
    ended = server.wait_state(session_id, {"stopped", "failed"}, timeout=30)
    assert (ended["state"], ended["reason"]) == ("stopped", "stopped by an operator")
    assert session_processes(session_id) == []
    refused = subprocess.run(
        [
            sys.executable,
            "-m",
            "skybinder",
            "sessions",
            "list",
            "--binder",
            server.url,
            "--data-dir",
            str(server.data_dir / "elsewhere"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 1 and "No admin token" in refused.stdout


def test_killed_server_ends_stopped_with_a_reason(server: Server, repo: Path) -> None:
    ready = server.events(build_path(repo))[-1]
    session_id = str(ready["session_id"])
    pids = session_processes(session_id)
    assert len(pids) == 1
    os.kill(pids[0], signal.SIGKILL)
    ended = server.wait_state(session_id, {"stopped", "failed"}, timeout=30)
    assert ended["state"] == "stopped"
    assert "signal 9" in str(ended["reason"])
    time.sleep(0.5)
    assert session_processes(session_id) == []


def test_failing_build_and_missing_things_fail_clearly(server: Server, tmp_path: Path) -> None:
    bad = make_repo(tmp_path / "bad", {"requirements.txt": "this-package-does-not-exist-sb==1\n"})
    failed = server.events(build_path(bad))[-1]
    assert failed["phase"] == "failed" and failed["status_code"] == 500
    assert "this-package-does-not-exist-sb" in str(failed["message"])
    assert "requirements.txt" in str(failed["message"])
    assert server.session(str(failed["session_id"]))["state"] == "failed"

    missing_ref = server.events(build_path(bad, "no-such-branch"))
    assert [e["phase"] for e in missing_ref] == ["failed"]
    assert missing_ref[0]["status_code"] == 404

    missing_repo = server.events(build_path(tmp_path / "nowhere"))
    assert [e["phase"] for e in missing_repo] == ["failed"]
    assert missing_repo[0]["status_code"] == 404

    conda = make_repo(tmp_path / "conda", {"environment.yml": "dependencies: [numpy]\n"})
    failed = server.events(build_path(conda))[-1]
    assert failed["phase"] == "failed" and "environment.yml" in str(failed["message"])
