"""The HTTP app wired with the in-memory fakes, plus builders and runners that finish by
themselves on a timer, delivering events the way the platform would."""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from fastapi.testclient import TestClient

from skybinder.adapters.local.http import SystemClock
from skybinder.api.app import AppOptions, HealthCheck, create_app
from skybinder.domain.model import Limits, TaskStatus
from skybinder.service.binder import Binder, ServiceConfig
from skybinder.service.launch import on_build_finished
from skybinder.service.ports import BuildJob, LaunchRequest, ResolvedRepo
from skybinder.service.sessions import on_task_state
from tests.fake_ports import (
    FakeBuilder,
    FakeProber,
    FakeRegistry,
    FakeResolver,
    FakeRouter,
    FakeRunner,
)
from tests.fakes import FakeSessionStore

SHA = "a" * 40
IMAGE = f"skybinder-gh-u-r:{SHA}"
REFS = {"u/r/HEAD": SHA, "u/r/main": SHA, "u/r/feature%2Fx": SHA, "u/other/HEAD": SHA}
LOG_LINES = [
    json.dumps({"phase": "fetching", "message": "Cloning u/r\n"}),
    json.dumps({"phase": "building", "message": "Step 1/2\n"}),
    "plain text line",
    json.dumps({"message": "a line without a phase\n"}),
]
WAIT = 5.0  # upper bound for anything the timers drive


class Timers:
    """Every timer the fakes start, so a test's teardown can cancel them."""

    def __init__(self) -> None:
        self.started: list[threading.Timer] = []

    def after(self, delay: float, fn: Callable[[], None]) -> None:
        timer = threading.Timer(delay, fn)
        timer.daemon = True
        self.started.append(timer)
        timer.start()

    def cancel(self) -> None:
        for timer in self.started:
            timer.cancel()
            timer.join(WAIT)


class RecordingResolver(FakeResolver):
    """Remembers the (provider, spec) of every call, exactly as the app passed them."""

    def __init__(self, refs: dict[str, str]) -> None:
        super().__init__(refs)
        self.seen: list[tuple[str, str]] = []

    def resolve(self, provider: str, spec: str) -> ResolvedRepo:
        self.seen.append((provider, spec))
        return super().resolve(provider, spec)


class TimedBuilder(FakeBuilder):
    """Emits `lines` one by one, then finishes the build after `duration` seconds."""

    def __init__(self, registry: FakeRegistry, timers: Timers) -> None:
        super().__init__(registry)
        self.timers = timers
        self.binder: Binder | None = None
        self.duration = 0.1
        self.lines: list[str] = list(LOG_LINES)
        self.ok = True
        self.reason = ""

    def start(self, job: BuildJob) -> str:
        build_id = super().start(job)
        step = self.duration / (len(self.lines) + 1)
        for i, line in enumerate(self.lines):
            self.timers.after(step * i, functools.partial(self.emit, build_id, line))
        self.timers.after(self.duration, lambda: self.finish(build_id))
        return build_id

    def finish(self, build_id: str) -> None:
        assert self.binder is not None
        name = self.succeed(build_id) if self.ok else self.jobs[build_id].image_name
        on_build_finished(self.binder, name, ok=self.ok, reason=self.reason, build_id=build_id)


class TimedRunner(FakeRunner):
    """Reports its task running after `delay`, and its server answers from then on."""

    def __init__(self, prober: FakeProber, timers: Timers) -> None:
        super().__init__()
        self.prober = prober
        self.timers = timers
        self.binder: Binder | None = None
        self.delay = 0.05

    def start(self, request: LaunchRequest) -> str:
        task_id = super().start(request)
        self.timers.after(self.delay, lambda: self.report_running(request.session_id, task_id))
        return task_id

    def report_running(self, session_id: str, task_id: str) -> None:
        assert self.binder is not None
        on_task_state(self.binder, session_id, task_id, TaskStatus.RUNNING, address="10.0.0.1:8888")
        self.prober.up.add(f"https://binder.test/s/{session_id}/")


@dataclass
class ApiWorld:
    binder: Binder
    store: FakeSessionStore
    registry: FakeRegistry
    builder: TimedBuilder
    runner: TimedRunner
    prober: FakeProber
    resolver: RecordingResolver
    client: TestClient
    health: dict[str, HealthCheck] = field(default_factory=dict)


Factory = Callable[..., ApiWorld]


@pytest.fixture
def make_api() -> Iterator[Factory]:
    timers = Timers()
    clients: list[TestClient] = []

    def make(
        limits: Limits | None = None,
        keepalive: float = 30.0,
        health: dict[str, HealthCheck] | None = None,
    ) -> ApiWorld:
        registry, prober = FakeRegistry(), FakeProber()
        builder, runner = TimedBuilder(registry, timers), TimedRunner(prober, timers)
        store, resolver = FakeSessionStore(), RecordingResolver(dict(REFS))
        config = ServiceConfig(limits=limits or Limits(), poll_interval=0.01)
        binder = Binder(
            store=store,
            registry=registry,
            builder=builder,
            runner=runner,
            router=FakeRouter(),
            prober=prober,
            resolver=resolver,
            clock=SystemClock(),
            config=config,
        )
        builder.binder = runner.binder = binder
        options = AppOptions(keepalive=keepalive, health_checks=health or {})
        client = TestClient(create_app(binder, options), headers={"Accept": "text/event-stream"})
        clients.append(client)
        return ApiWorld(binder, store, registry, builder, runner, prober, resolver, client)

    yield make
    timers.cancel()
    for client in clients:
        client.close()


@pytest.fixture
def api(make_api: Factory) -> ApiWorld:
    return make_api()


def parse_stream(body: str) -> list[str | dict[str, object]]:
    """The stream's chunks: ":keepalive" comments as is, events as their JSON payload.

    Fails unless every chunk is one `data: <json>` line (or the keepalive comment) ended by a
    blank line.
    """
    assert body.endswith("\n\n"), body[-200:]
    out: list[str | dict[str, object]] = []
    for chunk in body[:-2].split("\n\n"):
        assert "\n" not in chunk, f"an event spans more than one line: {chunk!r}"
        if chunk == ":keepalive":
            out.append(chunk)
            continue
        assert chunk.startswith("data: "), chunk
        payload = json.loads(chunk[len("data: ") :])
        assert isinstance(payload, dict)
        out.append(payload)
    return out


def events_of(body: str) -> list[dict[str, object]]:
    return [c for c in parse_stream(body) if isinstance(c, dict)]


def phases(events: list[dict[str, object]]) -> list[object]:
    """The phases in order, consecutive repeats merged into one."""
    out: list[object] = []
    for event in events:
        if not out or out[-1] != event["phase"]:
            out.append(event["phase"])
    return out


def wait_for(predicate: Callable[[], bool], timeout: float = WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def read_stream(
    client: TestClient, url: str, headers: dict[str, str] | None = None, timeout: float = WAIT
) -> tuple[httpx.Response, str]:
    """GET `url` and read the stream to its end, failing if it has not ended by `timeout`."""
    deadline = time.monotonic() + timeout
    body = ""
    with client.stream("GET", url, headers=headers) as response:
        for text in response.iter_text():
            body += text
            assert time.monotonic() < deadline, f"stream still open after {timeout}s: {body}"
    return response, body
