"""Run code in a real kernel of a launched session: REST to start it, WebSocket to talk."""

from __future__ import annotations

import json
import time
import uuid

import httpx
from websockets.sync.client import connect

from skybinder.check_kernel import execute_request


def start_kernel(url: str, token: str) -> str:
    """Start a kernel through Jupyter's REST API, authenticating with the header form."""
    reply = httpx.post(
        url + "api/kernels",
        json={"name": "python3"},
        headers={"Authorization": f"token {token}"},
        timeout=60,
    )
    reply.raise_for_status()
    kernel_id: str = reply.json()["id"]
    return kernel_id


def execute(url: str, token: str, kernel_id: str, code: str, timeout: float = 60) -> str:
    """Execute `code` over the kernel's WebSocket (token as ?token=); return its stdout."""
    ws_url = url.replace("http://", "ws://", 1) + f"api/kernels/{kernel_id}/channels"
    msg_id = uuid.uuid4().hex
    request = execute_request(msg_id, code)
    out: list[str] = []
    deadline = time.monotonic() + timeout
    with connect(f"{ws_url}?token={token}", open_timeout=30) as ws:
        ws.send(json.dumps(request))
        while time.monotonic() < deadline:
            msg = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = msg["msg_type"]
            if kind == "stream":
                out.append(msg["content"]["text"])
            elif kind == "error":
                raise AssertionError("\n".join(msg["content"]["traceback"]))
            elif kind == "status" and msg["content"]["execution_state"] == "idle":
                return "".join(out)
    raise AssertionError("the kernel did not finish in time")
