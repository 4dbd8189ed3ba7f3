"""A real `skybinder serve` on a free port, real git repositories, and stream helpers."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

IDLE_TIMEOUT = 10  # seconds; Jupyter checks for server inactivity once a minute, the reaper
# for sessions without traffic through the proxy every 10 s
# What `serve` holds in its environment, that repository code must never see; and a variable
# the operator passes on by name (--pass-env).
SERVE_SECRETS = {
    "SKYBINDER_GITHUB_TOKEN": "ghp_serve_secret_e2e",
    "GITHUB_TOKEN": "ghp_fallback_secret_e2e",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-e2e",
}
PASSED = {"SKYBINDER_E2E_PASSED": "passed-on-purpose"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def git(repo: Path, *args: str) -> str:
    cmd = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()


def make_repo(path: Path, files: dict[str, str]) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "--quiet", "--initial-branch=main")
    for name, text in files.items():
        (path / name).write_text(text)
    git(path, "add", "--all")
    git(path, "commit", "--quiet", "-m", "initial")
    return path


def build_path(repo: Path, ref: str = "HEAD") -> str:
    return f"/build/git/{quote(repo.as_uri(), safe='')}/{ref}"


@dataclass
class Server:
    url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    token: str = ""  # the binder's access token, as `skybinder serve` wrote it

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    def events(
        self, path: str, timeout: float = 600, headers: dict[str, str] | None = None
    ) -> list[dict[str, object]]:
        """Read a /build stream to its end (`ready` or `failed`), with the access token unless
        `headers` say otherwise."""
        out: list[dict[str, object]] = []
        deadline = time.monotonic() + timeout
        headers = {"Accept": "text/event-stream", **(self.auth if headers is None else headers)}
        with (
            httpx.Client(timeout=httpx.Timeout(30, read=timeout)) as client,
            client.stream("GET", self.url + path, headers=headers) as reply,
        ):
            assert reply.status_code == 200
            assert reply.headers["content-type"].startswith("text/event-stream")
            for line in reply.iter_lines():
                assert time.monotonic() < deadline, "the stream did not end in time"
                if line.startswith("data: "):
                    out.append(json.loads(line[6:]))
                    if out[-1]["phase"] in ("ready", "failed"):
                        break
        return out

    def session(self, session_id: str) -> dict[str, object]:
        reply = httpx.get(f"{self.url}/api/sessions/{session_id}", headers=self.auth, timeout=10)
        reply.raise_for_status()
        data: dict[str, object] = reply.json()
        return data

    def wait_state(self, session_id: str, states: set[str], timeout: float) -> dict[str, object]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data = self.session(session_id)
            if data["state"] in states:
                return data
            time.sleep(0.5)
        raise AssertionError(f"session {session_id} is {data['state']}, not one of {states}")


def start_server(data_dir: Path, *options: str, idle_timeout: int = IDLE_TIMEOUT) -> Server:
    """`skybinder serve` on a free port with `data_dir`, once it answers /health; its output
    goes to <data_dir>/serve.log (appended: a restart on the same directory adds to it)."""
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log = (data_dir / "serve.log").open("ab")
    cmd = [
        sys.executable,
        "-m",
        "skybinder",
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--idle-timeout",
        str(idle_timeout),
        *(arg for name in PASSED for arg in ("--pass-env", name)),
        *options,
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **SERVE_SECRETS, **PASSED}
    process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    log.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                token = (data_dir / "token").read_text().strip()
                return Server(url=url, data_dir=data_dir, process=process, token=token)
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    process.wait()
    pytest.fail((data_dir / "serve.log").read_text())


def stop_server(server: Server) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        server.process.wait(30)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    started = start_server(tmp_path_factory.mktemp("binder-data"))
    yield started
    stop_server(started)


WRAPPERS = {"bwrap", "unshare", "setpriv"}  # what containers start a server under


def session_processes(session_id: str) -> list[int]:
    """Pids of the Jupyter servers whose command line names this session's base_url (not
    the container's wrappers, whose command lines hold it too)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                argv = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            named = any(f"/s/{session_id}/".encode() in arg for arg in argv)
            if named and Path(argv[0].decode()).name not in WRAPPERS:
                pids.append(int(proc.name))
    return pids
