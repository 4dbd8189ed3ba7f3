"""End to end through the session proxy of `skybinder serve`: one port for the binder and its
sessions; a kernel, a terminal, an upload and a download through it; a session whose kernel
is busy but which gets no traffic ended by the proxy's activity record."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import uuid
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from tests.e2e.conftest import IDLE_TIMEOUT, Server, build_path, make_repo, session_processes
from tests.e2e.kernel import execute, start_kernel

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("proxy-repos")
    return make_repo(root / "plain", {"requirements.txt": "\n", "notes.txt": "hello\n"})


def ws(url: str) -> str:
    return url.replace("http://", "ws://", 1)


def run_in_terminal(url: str, token: str, command: str, expect: str) -> str:
    auth = {"Authorization": f"token {token}"}
    name = httpx.post(url + "api/terminals", headers=auth, timeout=30).json()["name"]
    seen = ""
    with connect(ws(url) + f"terminals/websocket/{name}?token={token}", open_timeout=30) as t:
        t.send(json.dumps(["stdin", command + "\r"]))
        deadline = time.monotonic() + 30
        while expect not in seen and time.monotonic() < deadline:
            message = json.loads(t.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message[0] == "stdout":
                seen += message[1]
    return seen


def start_busy_loop(url: str, token: str, kernel: str) -> None:
    """Send code that never ends, see the kernel go busy, and leave."""
    request = {
        "channel": "shell",
        "header": {"msg_id": uuid.uuid4().hex, "msg_type": "execute_request", "username": "t",
                   "session": uuid.uuid4().hex, "version": "5.3", "date": ""},
        "parent_header": {}, "metadata": {}, "buffers": [],
        "content": {"code": "while True: pass", "silent": False, "store_history": False,
                    "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
    }  # fmt: skip
    with connect(ws(url) + f"api/kernels/{kernel}/channels?token={token}") as channel:
        channel.send(json.dumps(request))
        while True:
            message = json.loads(channel.recv(timeout=30))
            if message["msg_type"] == "status" and message["content"]["execution_state"] == "busy":
                return


def test_a_session_through_the_proxy_then_ended_for_want_of_traffic(
    server: Server, repo: Path
) -> None:
    ready = server.events(build_path(repo))[-1]
    assert ready["phase"] == "ready", ready
    url, token, sid = str(ready["url"]), str(ready["token"]), str(ready["session_id"])
    assert url == f"{server.url}/s/{sid}/"  # the binder's own origin and port

    # A kernel over its WebSocket, through the proxy.
    kernel = start_kernel(url, token)
    assert execute(url, token, kernel, "print(1 + 1)") == "2\n"

    # A terminal, over its own WebSocket.
    assert "42" in run_in_terminal(url, token, "echo $((6 * 7))", "42")

    # An upload (the contents API, as JupyterLab sends it) and a download (/files/).
    blob = os.urandom(3 * 1024 * 1024)
    auth = {"Authorization": f"token {token}"}
    model = {"type": "file", "format": "base64", "content": base64.b64encode(blob).decode()}
    put = httpx.put(url + "api/contents/blob.bin", json=model, headers=auth, timeout=60)
    assert put.status_code in {200, 201}, put.text
    got = httpx.get(url + "files/blob.bin", headers=auth, timeout=60)
    assert (
        got.status_code == 200
        and hashlib.sha256(got.content).digest() == hashlib.sha256(blob).digest()
    )
    assert httpx.get(url + "files/notes.txt", params={"token": token}).text == "hello\n"

    # Busy, then left alone: Jupyter would keep it (a busy kernel is never culled); the
    # proxy saw no traffic for the idle timeout, so the reaper ends it.
    start_busy_loop(url, token, kernel)
    began = time.monotonic()
    ended = server.wait_state(sid, {"stopped", "failed"}, timeout=IDLE_TIMEOUT + 60)
    assert ended["state"] == "stopped", ended
    assert str(ended["reason"]).startswith("idle: no activity for"), ended["reason"]
    assert time.monotonic() - began >= IDLE_TIMEOUT - 1
    assert session_processes(sid) == []

    # The ended session's address now says so, with the way back.
    page = httpx.get(url + "lab", headers={"Accept": "text/html"}, timeout=10)
    assert page.status_code == 410 and "launch it again" in page.text
    assert httpx.get(f"{server.url}/s/ffffffffffffffff/api", timeout=10).status_code == 404
