"""End to end: an event rehearsed on the local binder — declared with the CLI, launched into
through its own stream with an access code, full at its seats, used through a real kernel,
and settled on the cost model when its session stops."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.e2e.conftest import Server, make_repo, session_processes
from tests.e2e.kernel import execute, start_kernel

pytestmark = pytest.mark.e2e


def cli(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "skybinder", *args]
    command += ["--binder", server.url, "--data-dir", str(server.data_dir)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_an_event_from_declaration_to_settlement(server: Server, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "lesson", {"requirements.txt": "tabulate==0.9.0\n"})
    spec = f"{quote(repo.as_uri(), safe='')}/HEAD"
    now = datetime.now(UTC)
    created = cli(
        server,
        "events", "create", "rehearsal",
        "--title", "Rehearsal",
        "--provider", "git",
        "--spec", spec,
        "--starts-at", (now - timedelta(minutes=1)).isoformat(),
        "--ends-at", (now + timedelta(hours=1)).isoformat(),
        "--seats", "1",
        "--budget-usd", "1",
        "--max-minutes", "30",
        "--access-code", "tea",
    )  # fmt: skip
    assert created.returncode == 0, created.stdout + created.stderr
    stream = f"/build/git/{spec}?event=rehearsal"
    refused = server.events(stream + "&code=coffee")
    assert refused[-1]["phase"] == "failed" and "access code" in str(refused[-1]["message"])
    ready = server.events(stream + "&code=tea")[-1]
    assert ready["phase"] == "ready", ready
    kernel = start_kernel(str(ready["url"]), str(ready["token"]))
    assert execute(str(ready["url"]), str(ready["token"]), kernel, "print(6 * 7)") == "42\n"
    full = server.events(stream + "&code=tea")[-1]
    assert full["phase"] == "failed"
    assert "1 of 1 seats in use" in str(full["message"])
    session_id = str(ready["session_id"])
    assert cli(server, "sessions", "stop", session_id).returncode == 0
    server.wait_state(session_id, {"stopped"}, timeout=30)
    assert session_processes(session_id) == []
    report = cli(server, "events", "report", "rehearsal", "--csv", str(tmp_path / "r.csv"))
    assert report.returncode == 0, report.stdout + report.stderr
    rows = (tmp_path / "r.csv").read_text().splitlines()
    assert any(session_id in row and "stopped" in row for row in rows)
    token = (server.data_dir / "admin-token").read_text().strip()
    status = httpx.get(
        f"{server.url}/api/admin/events/rehearsal",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ).json()
    assert status["seats_in_use"] == 0 and status["reserved_usd"] == 0
    assert 0 < status["spent_usd"] < 0.05  # a minute or so of 1 vCPU and 2 GB
    assert status["sessions"] == 1
