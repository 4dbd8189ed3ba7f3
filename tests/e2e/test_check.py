"""`skybinder check` against a real `skybinder serve`: every step passes on a working binder
(which asks for its access token: the check sends it), and a launch that fails makes the check
fail, saying which step and why."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.e2e.conftest import Server, make_repo

pytestmark = pytest.mark.e2e


def check(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "skybinder", "check", server.url, *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", "HOME": str(server.data_dir)},
    )


def step(output: str, name: str) -> str:
    found = re.search(rf"^(PASS|FAIL|SKIP) {name}\s+[0-9.]+ s  (.*)$", output, re.MULTILINE)
    assert found, output
    return f"{found.group(1)} {found.group(2)}"


def test_every_step_passes_on_a_working_binder(server: Server, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "smoke", {"README.md": "A binder's smoke test.\n"})
    spec = f"git/{quote(repo.as_uri(), safe='')}/HEAD"
    result = check(
        server, "--spec", spec, "--data-dir", str(server.data_dir), "--token", server.token
    )
    output = result.stdout
    assert result.returncode == 0, output + result.stderr
    assert step(output, "health").startswith("PASS ok")
    assert step(output, "versions") == "PASS skybinder 0.1.0"
    launched = re.search(r"PASS session (\w+) at (\S+)", step(output, "launch"))
    assert launched and launched.group(2).endswith(f"/s/{launched.group(1)}/")
    assert step(output, "kernel") == "PASS print(6 * 7) -> 42 over the kernel's WebSocket"
    assert step(output, "stop").startswith("PASS stopped through the admin API")
    assert server.wait_state(launched.group(1), {"stopped"}, timeout=60)["reason"]
    assert "The binder works." in output


def test_a_failed_launch_fails_the_check_and_skips_what_needs_a_session(server: Server) -> None:
    missing = quote("file:///nonexistent/repository", safe="")
    result = check(server, "--spec", f"git/{missing}/HEAD", "--token", server.token)
    output = result.stdout
    assert result.returncode == 1, output
    assert step(output, "health").startswith("PASS")
    assert step(output, "launch").startswith("FAIL the launch failed (404)")
    assert step(output, "kernel").startswith("SKIP no session to talk to")
    assert step(output, "stop").startswith("SKIP no session to stop")
    assert "The check failed: launch." in output


def test_without_the_binders_token_the_launch_is_refused(server: Server, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "smoke", {"README.md": "A binder's smoke test.\n"})
    result = check(server, "--spec", f"git/{quote(repo.as_uri(), safe='')}/HEAD")
    assert result.returncode == 1
    assert step(result.stdout, "launch").startswith("FAIL the launch failed (403)")
