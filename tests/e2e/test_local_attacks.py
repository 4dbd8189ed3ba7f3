"""The local threat model, tried on a real `skybinder serve` as an attacker would: launches the
user did not choose fail with nothing cloned, built or run, and no token handed out; what the
user did launch sees none of the binder's secrets (README: "The local threat model")."""

from __future__ import annotations

import os
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import PASSED, SERVE_SECRETS, Server, build_path, make_repo
from tests.e2e.kernel import execute, start_kernel
from tests.threads import Worker

pytestmark = pytest.mark.e2e
SSE = {"Accept": "text/event-stream"}


@pytest.fixture(scope="module")
def bait(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A repository whose postBuild leaves a mark outside it: any build of it shows."""
    root = tmp_path_factory.mktemp("bait")
    mark = root / "postBuild-ran"
    repo = make_repo(root / "bait", {"postBuild": f"touch {mark}\n", "requirements.txt": ""})
    return repo, mark


def traces(server: Server) -> tuple[list[str], int]:
    """What a launch leaves: build logs, and session records (the operator's full list)."""
    builds = sorted(p.name for p in (server.data_dir / "builds").glob("*"))
    admin = (server.data_dir / "admin-token").read_text().strip()
    listed = httpx.get(
        f"{server.url}/api/admin/sessions?ended=true",
        headers={"Authorization": f"Bearer {admin}"},
        timeout=10,
    )
    return builds, len(listed.json())


def raw_get(server: Server, path: str, headers: dict[str, str], linger: float = 0.3) -> bytes:
    """Send a GET and hang up after `linger` seconds, reading whatever came: what an <img> tag
    or a page that does not wait for the answer does."""
    host, port = server.url.removeprefix("http://").split(":")
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        time.sleep(linger)
        sock.settimeout(0.5)
        try:
            return sock.recv(65536)
        except TimeoutError:
            return b""


@pytest.mark.parametrize(
    ("headers", "expect"),
    [
        ({}, b"access token"),  # no token: a local user, or a page's <img src>
        ({"Authorization": "token guessed"}, b"access token"),
        ({"Origin": "https://evil.example"}, b"other sites"),  # fetch() from another site
        ({"Sec-Fetch-Site": "cross-site"}, b"other sites"),  # a link or <img> elsewhere
        ({"Origin": "http://127.0.0.1:1"}, b"other sites"),  # another local server's page
    ],
)
def test_launches_the_user_did_not_choose_run_nothing(
    server: Server, bait: tuple[Path, Path], headers: dict[str, str], expect: bytes
) -> None:
    repo, mark = bait
    before = traces(server)
    if "Origin" in headers or "Sec-Fetch-Site" in headers:
        headers = {**headers, **server.auth}  # even with the token: another site asked
    answer = raw_get(server, build_path(repo), {**SSE, **headers})
    assert b"200 OK" in answer and expect in answer and b'"status_code": 403' in answer
    time.sleep(2)  # a launch would have cloned and built by now
    assert traces(server) == before
    assert not mark.exists()


def test_a_name_the_binder_does_not_serve_is_refused(
    server: Server, bait: tuple[Path, Path]
) -> None:
    repo, mark = bait
    before = traces(server)
    host = {"Host": "rebound.evil.example", **server.auth}
    for path in ("/", build_path(repo), f"/v2/{build_path(repo)[7:]}?token={server.token}"):
        reply = httpx.get(server.url + path, headers={**SSE, **host}, timeout=10)
        assert reply.status_code == 403 and server.token not in reply.text
    assert traces(server) == before and not mark.exists()


def test_the_launch_page_needs_the_token_and_a_cross_site_link_asks_first(
    server: Server, bait: tuple[Path, Path]
) -> None:
    repo, mark = bait
    page = "/v2/" + build_path(repo).removeprefix("/build/")
    assert httpx.get(server.url + page, timeout=10).status_code == 403
    cookie = f"skybinder-token-{server.url.rsplit(':', 1)[1]}={server.token}"
    asked = httpx.get(
        server.url + page, headers={"Cookie": cookie, "Sec-Fetch-Site": "cross-site"}, timeout=10
    )
    assert asked.status_code == 200 and "It will run the repository" in asked.text
    assert "skybinder-build-token" not in asked.text
    time.sleep(1)
    assert not mark.exists()


def test_repository_code_sees_none_of_the_binders_secrets(server: Server, tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "nosy",
        {
            "requirements.txt": "",
            "postBuild": "env > postbuild-env.txt\n",
            "start": '#!/bin/sh\nenv > start-env.txt\nexec "$@"\n',
        },
    )
    ready = server.events(build_path(repo))[-1]
    assert ready["phase"] == "ready", ready
    url, token = str(ready["url"]), str(ready["token"])
    kernel = start_kernel(url, token)
    code = (
        "import os; print(open('postbuild-env.txt').read()); print(open('start-env.txt').read());"
        "print('\\n'.join(f'{k}={v}' for k, v in os.environ.items()))"
    )
    seen = execute(url, token, kernel, code)
    for name, value in SERVE_SECRETS.items():
        assert value not in seen, f"{name} reached repository code"
    assert server.token not in seen
    for name, value in PASSED.items():
        assert f"{name}={value}" in seen  # what the operator passed on, by name
    assert "BINDER_REQUEST=v2/git/" in seen and "REPO_DIR=" in seen and "HOME=" in seen


def test_the_data_is_the_users_alone_and_holds_no_clear_session_token(
    server: Server, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "plain", {"requirements.txt": ""})
    ready = server.events(build_path(repo))[-1]
    assert ready["phase"] == "ready", ready
    data = server.data_dir
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for name in ("skybinder.sqlite", "token", "admin-token", "store-key"):
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600, name
    with sqlite3.connect(data / "skybinder.sqlite") as db:
        db.execute("PRAGMA wal_checkpoint(FULL)")
    raw = b"".join(p.read_bytes() for p in data.glob("skybinder.sqlite*"))
    assert str(ready["token"]).encode() not in raw


def test_a_session_accepts_pages_of_its_own_and_the_binders_origin_only(
    server: Server, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "origin", {"requirements.txt": ""})
    ready = server.events(build_path(repo))[-1]
    url, token = str(ready["url"]), str(ready["token"])
    with httpx.Client(timeout=30, follow_redirects=True) as browser:
        # Opening the session's link logs the browser in with a cookie, as JupyterLab does:
        # what another site's page could then ride on, were every origin allowed.
        assert browser.get(f"{url}lab?token={token}").status_code == 200
        assert browser.cookies
        evil = browser.get(url + "api/status", headers={"Origin": "https://evil.example"})
        ours = browser.get(url + "api/status", headers={"Origin": server.url})
        own = browser.get(url + "api/status", headers={"Origin": url.split("/s/")[0]})
    assert evil.status_code in (403, 404)
    assert ours.status_code == 200 and own.status_code == 200


def test_skybinder_launch_reads_the_token_of_the_local_binder(
    server: Server, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "cli", {"requirements.txt": ""})
    command = [sys.executable, "-m", "skybinder", "launch", str(repo), "--build-only"]
    command += ["--binder", server.url, "--data-dir", str(server.data_dir)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    elsewhere = [*command[:-2], "--data-dir", str(tmp_path / "nothing-here")]
    refused = subprocess.run(
        elsewhere, capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "200"}
    )
    assert refused.returncode == 1 and "access token" in refused.stdout


def test_builds_beyond_the_cap_wait_for_a_free_builder(server: Server, tmp_path: Path) -> None:
    """Three builds asked at once on a binder that runs two: the third waits, and says so."""
    # Each postBuild says when it starts and ends in its build log (repository code cannot
    # write outside its checkout: the binder's process container shows it the host read-only).
    repos = [
        make_repo(
            tmp_path / f"slow{i}",
            {
                "requirements.txt": "",
                "postBuild": "echo start $(date +%s.%N)\nsleep 4\necho end $(date +%s.%N)\n",
            },
        )
        for i in range(3)
    ]
    threads = [
        Worker(lambda repo=repo: server.events(build_path(repo) + "?build_only=true"))
        for repo in repos
    ]
    for thread in threads:
        thread.start()
        time.sleep(0.3)
    results = [thread.result(600) for thread in threads]  # raises what a launch raised
    assert all(events[-1]["phase"] == "ready" for events in results), results
    waited = [e for events in results for e in events if "Waiting for a free builder" in str(e)]
    assert waited, "no launch was told it waits for a builder"
    marks = [
        str(e["message"]).strip()
        for events in results
        for e in events
        if str(e.get("message", "")).startswith(("start ", "end "))
    ]
    assert len(marks) == 6, marks
    running, most = 0, 0
    for line in sorted(marks, key=lambda x: float(x.split()[1])):
        running += 1 if line.startswith("start") else -1
        most = max(most, running)
    assert most == 2  # --max-builds defaults to 2: never more at once


def test_serve_prints_its_links_with_the_token(server: Server) -> None:
    printed = (server.data_dir / "serve.log").read_text()
    assert f"{server.url}/?token={server.token}" in printed
    assert f"/HEAD?token={server.token}" in printed  # the example's launch link
