"""`skybinder check`: a smoke test of a binder, local or deployed, one timed step at a time.

The steps, in order: `health` (GET /health answers ok), `versions` (GET /versions names the
BinderHub API), `launch` (a small public repository through /build to `ready`, following the
launch again with its resume secret when a stream ends before it does), `kernel` (a kernel
started through the session's URL runs code over its WebSocket), `stop` (the session stopped
through the admin API, when credentials for it are at hand). A step passes, fails (saying
why) or is skipped (saying why); the check passes when no step failed.

A binder that asks for an access token gets it as `Authorization: token <token>` and as
`?token=<token>` on every request to the binder (its sessions use their own token).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from skybinder.admin_client import LOCAL_HOSTS, AdminClientError, call
from skybinder.check_kernel import KernelError, run_code

# binder-examples/requirements: the smallest of the examples BinderHub's own docs launch.
DEFAULT_SPEC = "gh/binder-examples/requirements/HEAD"
CODE, EXPECTED = "print(6 * 7)", "42"
Progress = Callable[[str, dict[str, Any]], None]


@dataclass
class Step:
    name: str
    outcome: str  # "pass", "fail" or "skip"
    seconds: float
    detail: str


@dataclass
class CheckOptions:
    binder_url: str
    spec: str = DEFAULT_SPEC
    token: str = ""  # the binder's own access token, if it asks for one
    admin_url: str = ""  # where the admin API answers (a deployment's api_url); "": binder_url
    data_dir: Path | None = None  # a local binder's data directory (its admin token)
    region: str | None = None
    launch_timeout: float = 45 * 60  # a first build may take long
    state: dict[str, Any] = field(default_factory=dict)  # what earlier steps learned


class StepFailed(Exception):
    """A step did not pass; the message says what was seen."""


class StepSkipped(Exception):
    """A step could not be tried; the message says why."""


class Checker:
    """Runs the steps against one binder with an injected HTTP client (and WebSocket
    `connect`), reporting stream events to `progress`."""

    def __init__(
        self,
        options: CheckOptions,
        http: httpx.Client,
        *,
        connect: Any = None,
        progress: Progress | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.options = options
        self.http = http
        self.connect = connect
        self.progress = progress or (lambda step, event: None)
        self.clock = clock
        self.base = options.binder_url.rstrip("/")

    def run(self) -> list[Step]:
        steps = [("health", self.health), ("versions", self.versions), ("launch", self.launch)]
        steps += [("kernel", self.kernel), ("stop", self.stop)]
        return [self._timed(name, action) for name, action in steps]

    def _timed(self, name: str, action: Callable[[], str]) -> Step:
        started = self.clock()
        try:
            outcome, detail = "pass", action()
        except StepSkipped as err:
            outcome, detail = "skip", str(err)
        except (StepFailed, KernelError, AdminClientError) as err:
            outcome, detail = "fail", str(err)
        except httpx.HTTPError as err:
            outcome, detail = "fail", f"could not reach the binder: {err}"
        return Step(name, outcome, round(self.clock() - started, 2), detail)

    # -- the steps ----------------------------------------------------------------------------

    def health(self) -> str:
        reply = self.http.get(self._url("/health"), headers=self._auth())
        body = _json(reply)
        if reply.status_code != 200 or body.get("ok") is not True:
            failing = [c.get("service") for c in body.get("checks", []) if not c.get("ok")]
            raise StepFailed(f"/health answered {reply.status_code}; failing: {failing or '?'}")
        return f"ok ({len(body.get('checks', []))} checks)"

    def versions(self) -> str:
        reply = self.http.get(self._url("/versions"), headers=self._auth())
        body = _json(reply)
        if reply.status_code != 200 or "binderhub" not in body:
            raise StepFailed(f"/versions answered {reply.status_code}: {reply.text[:200]}")
        return str(body["binderhub"])

    def launch(self) -> str:
        deadline = self.clock() + self.options.launch_timeout
        events = self._stream(f"/build/{self.options.spec}")
        last: dict[str, Any] = {}
        for _ in range(100):  # a stream per <= 15 minutes: far more than any launch needs
            for event in events:
                last = event
                self.progress("launch", event)
                self.options.state.setdefault("session_id", event.get("session_id"))
                self.options.state.setdefault("resume", event.get("resume"))
            phase = str(last.get("phase", "")).lower()
            if phase == "ready":
                self.options.state["ready"] = last
                return f"session {last.get('session_id', '?')} at {last.get('url')}"
            if phase == "failed" or not last.get("reconnect"):
                message = str(last.get("message", "the stream ended early")).strip()
                raise StepFailed(f"the launch failed ({last.get('status_code', '?')}): {message}")
            if self.clock() > deadline:
                raise StepFailed(f"not ready within {self.options.launch_timeout:.0f} s")
            events = self._stream(self._resume_path())
        raise StepFailed("the launch never ended")

    def kernel(self) -> str:
        ready = self.options.state.get("ready")
        if not ready:
            raise StepSkipped("no session to talk to: the launch did not succeed")
        url, token = str(ready["url"]), str(ready["token"])
        output = run_code(self.http, url, token, CODE, connect=self.connect)
        if output.strip() != EXPECTED:
            raise StepFailed(f"{CODE} printed {output!r}, not {EXPECTED}")
        return f"{CODE} -> {output.strip()} over the kernel's WebSocket"

    def stop(self) -> str:
        ready = self.options.state.get("ready")
        if not ready or not ready.get("session_id"):
            raise StepSkipped("no session to stop")
        admin = (self.options.admin_url or self.options.binder_url).rstrip("/")
        reason = self._no_credentials(admin)
        if reason:
            raise StepSkipped(f"{reason}; the session ends by itself once idle")
        path = f"/api/admin/sessions/{quote(str(ready['session_id']), safe='')}/stop"
        data_dir = self.options.data_dir or Path()
        answer = call(self.http, "POST", admin, path, data_dir=data_dir, region=self.options.region)
        state = answer.get("state") if isinstance(answer, dict) else None
        return f"stopped through the admin API ({state or 'asked'})"

    # -- helpers ------------------------------------------------------------------------------

    def _no_credentials(self, admin: str) -> str:
        host = httpx.URL(admin).host
        if host in LOCAL_HOSTS:
            token = (self.options.data_dir or Path("/nonexistent")) / "admin-token"
            return "" if token.is_file() else f"no admin token at {token} (pass --data-dir)"
        from botocore.session import get_session

        if get_session().get_credentials() is None:
            return "no AWS credentials for the IAM-authorised admin API"
        return ""

    def _resume_path(self) -> str:
        session_id, secret = self.options.state.get("session_id"), self.options.state.get("resume")
        if not session_id or not secret:
            raise StepFailed("the stream ended before the launch did, and gave no resume secret")
        return f"/api/sessions/{quote(str(session_id), safe='')}/events?resume={quote(secret)}"

    def _stream(self, path: str) -> Iterator[dict[str, Any]]:
        headers = {"Accept": "text/event-stream", **self._auth()}
        timeout = httpx.Timeout(30.0, read=self.options.launch_timeout)
        with self.http.stream("GET", self._url(path), headers=headers, timeout=timeout) as reply:
            if reply.status_code != 200:
                raise StepFailed(f"{path} answered HTTP {reply.status_code}")
            for line in reply.iter_lines():
                if line.startswith("data:"):
                    event = json.loads(line[len("data:") :])
                    yield event
                    if str(event.get("phase", "")).lower() in {"ready", "failed"}:
                        return

    def _url(self, path: str) -> str:
        url = self.base + path
        if not self.options.token:
            return url
        return f"{url}{'&' if '?' in url else '?'}token={quote(self.options.token, safe='')}"

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"token {self.options.token}"} if self.options.token else {}


def _json(reply: httpx.Response) -> dict[str, Any]:
    try:
        body = reply.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
