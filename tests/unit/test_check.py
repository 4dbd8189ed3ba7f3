"""`skybinder check`'s steps against a binder of recorded answers: the access token goes with
every request to the binder (as a header and as ?token=), a stream that ends before its launch
is followed again with the resume secret, and the kernel step runs code over the WebSocket."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from skybinder.check import Checker, CheckOptions

BINDER = "https://binder.example.org"
SESSION = "https://binder.example.org/s/3f2a9c0d1e4b5a67/"
TOKEN = "binder-access-token"


def sse(*events: dict[str, Any]) -> httpx.Response:
    body = "".join(f"data: {json.dumps(e)}\n\n" for e in events)
    return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})


class Binder:
    """A binder as `skybinder check` sees it, answering from recorded events."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path == "/health":
            return httpx.Response(200, json={"ok": True, "checks": [{"service": "s", "ok": True}]})
        if path == "/versions":
            return httpx.Response(200, json={"binderhub": "skybinder 0.1.0"})
        if path.startswith("/build/"):  # the stream ends before the launch does
            first = {"phase": "waiting", "session_id": "3f2a9c0d1e4b5a67", "resume": "s3cret"}
            end = {"phase": "building", "message": "goes on", "reconnect": True}
            return sse(first, end)
        if path == "/api/sessions/3f2a9c0d1e4b5a67/events":
            assert request.url.params["resume"] == "s3cret"
            ready = {
                "phase": "ready",
                "url": SESSION,
                "token": "t0k",
                "session_id": "3f2a9c0d1e4b5a67",
            }
            return sse({"phase": "built"}, ready)
        if path.endswith("/api/kernels") and request.method == "POST":
            assert request.headers["authorization"] == "token t0k"  # the session's own token
            return httpx.Response(201, json={"id": "k1"})
        if path.endswith("/api/kernels/k1") and request.method == "DELETE":
            return httpx.Response(204)
        return httpx.Response(404)


class Kernel:
    """The kernel's WebSocket: answers an execute_request with its output, then idle."""

    def __init__(self) -> None:
        self.urls: list[str] = []
        self.replies: list[str] = []

    def __call__(self, url: str, **_: Any) -> Kernel:
        self.urls.append(url)
        return self

    def __enter__(self) -> Kernel:
        return self

    def __exit__(self, *_: Any) -> None: ...

    def send(self, text: str) -> None:
        parent = {"msg_id": json.loads(text)["header"]["msg_id"]}
        self.replies = [
            json.dumps({"parent_header": parent, "msg_type": kind, "content": content})
            for kind, content in (
                ("stream", {"name": "stdout", "text": "42\n"}),
                ("status", {"execution_state": "idle"}),
            )
        ]

    def recv(self, timeout: float) -> str:
        return self.replies.pop(0)


@pytest.fixture(autouse=True)
def no_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the machine has: the stop step must find no AWS credentials here."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_every_step_with_the_access_token_and_a_reconnect(tmp_path: Path) -> None:
    binder, kernel = Binder(), Kernel()
    options = CheckOptions(BINDER, token=TOKEN, data_dir=tmp_path)
    http = httpx.Client(transport=httpx.MockTransport(binder))
    steps = Checker(options, http, connect=kernel).run()
    outcomes = {step.name: (step.outcome, step.detail) for step in steps}
    assert [s.name for s in steps] == ["health", "versions", "launch", "kernel", "stop"]
    assert outcomes["launch"] == ("pass", f"session 3f2a9c0d1e4b5a67 at {SESSION}")
    assert outcomes["kernel"][0] == "pass"
    assert kernel.urls == [
        "wss://binder.example.org/s/3f2a9c0d1e4b5a67/api/kernels/k1/channels?token=t0k"
    ]
    assert outcomes["stop"][0] == "skip"  # no AWS credentials in the tests' environment
    to_binder = [r for r in binder.requests if not r.url.path.startswith("/s/")]
    assert len(to_binder) == 4  # health, versions, /build, the resumed stream
    for request in to_binder:
        assert request.headers["authorization"] == f"token {TOKEN}"
        assert request.url.params["token"] == TOKEN
    for request in binder.requests:  # the binder's token never goes to the session
        if request.url.path.startswith("/s/"):
            assert TOKEN not in str(request.url) and TOKEN not in str(request.headers)


def test_without_a_token_none_is_sent() -> None:
    binder = Binder()
    http = httpx.Client(transport=httpx.MockTransport(binder))
    Checker(CheckOptions(BINDER), http, connect=Kernel()).run()
    assert all("token" not in r.url.params for r in binder.requests if r.url.path == "/health")
    assert all("authorization" not in r.headers for r in binder.requests[:2])


def test_a_binder_that_cannot_be_reached_fails_each_step_saying_so() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    http = httpx.Client(transport=httpx.MockTransport(refuse))
    steps = Checker(CheckOptions(BINDER), http).run()
    assert [s.outcome for s in steps] == ["fail", "fail", "fail", "skip", "skip"]
    assert steps[0].detail.startswith("could not reach the binder")
