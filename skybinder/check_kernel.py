"""Run code in a new kernel of a Jupyter server: REST to start it, the kernel's WebSocket to
execute, REST again to shut it down. What `skybinder check` does through a session's URL."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx


class KernelError(Exception):
    """The server did not start a kernel, or the kernel did not run the code; says why."""


def run_code(
    http: httpx.Client,
    url: str,
    token: str,
    code: str,
    *,
    connect: Any = None,
    timeout: float = 120.0,
) -> str:
    """Start a kernel on the server at `url` (ending with "/"), run `code`, return its stdout.

    `connect` opens the kernel's WebSocket (websockets' sync client unless given)."""
    headers = {"Authorization": f"token {token}"}
    reply = http.post(url + "api/kernels", json={"name": "python3"}, headers=headers)
    if reply.status_code >= 400:
        raise KernelError(f"starting a kernel answered {reply.status_code}: {reply.text[:200]}")
    kernel_id = str(reply.json()["id"])
    try:
        return _execute(url, token, kernel_id, code, connect, timeout)
    except KernelError:
        raise
    except Exception as err:  # the WebSocket's own errors, timeouts: the step fails
        raise KernelError(f"talking to the kernel over its WebSocket failed: {err!r}") from err
    finally:
        http.delete(url + f"api/kernels/{kernel_id}", headers=headers)


def _execute(url: str, token: str, kernel_id: str, code: str, connect: Any, timeout: float) -> str:
    if connect is None:
        from websockets.sync.client import connect
    channels = url.replace("http", "ws", 1) + f"api/kernels/{kernel_id}/channels?token={token}"
    msg_id = uuid.uuid4().hex
    out: list[str] = []
    deadline = time.monotonic() + timeout
    with connect(channels, open_timeout=30) as ws:
        ws.send(json.dumps(execute_request(msg_id, code)))
        while time.monotonic() < deadline:
            message = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "stream":
                out.append(content["text"])
            elif kind == "error":
                raise KernelError(
                    f"the code failed: {content.get('ename')}: {content.get('evalue')}"
                )
            elif kind == "status" and content["execution_state"] == "idle":
                return "".join(out)
    raise KernelError(f"the kernel did not finish running the code within {timeout:.0f} s")


def execute_request(msg_id: str, code: str) -> dict[str, Any]:
    """A Jupyter messaging protocol execute_request of `code` on the shell channel."""
    return {
        "channel": "shell",
        "header": {
            "msg_id": msg_id,
            "msg_type": "execute_request",
            "username": "skybinder-check",
            "session": uuid.uuid4().hex,
            "version": "5.3",
            "date": "",
        },
        "parent_header": {},
        "metadata": {},
        "content": {
            "code": code,
            "silent": False,
            "store_history": False,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        },
        "buffers": [],
    }
