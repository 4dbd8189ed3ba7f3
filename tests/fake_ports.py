"""In-memory fakes of the ports other than the store: they keep real state and tests assert
on that state. Events (build finished, task state) are delivered by the test, as the
platform would deliver them."""

from __future__ import annotations

import itertools
import threading

from skybinder.adapters.proxy_router import ProxyRouter
from skybinder.domain.errors import LaunchError, ResolveError, SpecError, UnknownProviderError
from skybinder.domain.model import Progress
from skybinder.service.ports import BuildJob, LaunchRequest, LogChunk, ResolvedRepo


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.t = start

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


class FakeResolver:
    """Resolves `<user>/<repo>/<ref>` specs of provider `gh` against a dict of known refs."""

    def __init__(self, refs: dict[str, str] | None = None) -> None:
        self.refs = refs or {}  # "user/repo/ref" -> sha
        self.calls = 0

    def resolve(self, provider: str, spec: str) -> ResolvedRepo:
        self.calls += 1
        if provider != "gh":
            raise UnknownProviderError(f"No provider found for prefix {provider!r}.")
        if spec.count("/") < 2:
            raise SpecError("Expected gh/<user>/<repo>/<ref>.")
        user, repo, ref = spec.split("/", 2)
        sha = self.refs.get(spec)
        if sha is None:
            raise ResolveError(f"Could not resolve ref {ref!r} of {user}/{repo}.")
        return ResolvedRepo(
            provider=provider,
            spec=spec,
            repo_url=f"https://github.com/{user}/{repo}",
            ref=sha,
            ref_url=f"https://github.com/{user}/{repo}/tree/{sha}",
            resolved_spec=f"{user}/{repo}/{sha}",
            repo_key=f"gh:{user}/{repo}".lower(),
            slug=f"gh-{user}-{repo}".lower(),
        )

    def display_configs(self) -> list[dict[str, object]]:
        return [{"id": "gh", "displayName": "GitHub"}]


class FakeRegistry:
    def __init__(self) -> None:
        self.images: set[str] = set()

    def has(self, image_name: str) -> bool:
        return image_name in self.images


class FakeBuilder:
    """Records builds; the test finishes them (and pushes images into the registry)."""

    def __init__(self, registry: FakeRegistry, fail_start: bool = False) -> None:
        self.registry = registry
        self.jobs: dict[str, BuildJob] = {}
        self.log: dict[str, list[str]] = {}
        self.fail_start = fail_start
        self._ids = itertools.count(1)

    def start(self, job: BuildJob) -> str:
        if self.fail_start:
            raise RuntimeError("builder down")
        build_id = f"build-{next(self._ids)}"
        self.jobs[build_id] = job
        self.log[build_id] = []
        return build_id

    def emit(self, build_id: str, *lines: str) -> None:
        self.log[build_id].extend(lines)

    def succeed(self, build_id: str) -> str:
        name = self.jobs[build_id].image_name
        self.registry.images.add(name)
        return name

    def logs(self, build_id: str, cursor: str | None = None) -> LogChunk:
        lines = self.log.get(build_id, [])
        start = int(cursor or 0)
        return LogChunk(lines=lines[start:], cursor=str(len(lines)))

    def info(self) -> dict[str, object]:
        return {"build_image": "fake"}


class FakeControlledBuilder(FakeBuilder):
    """A builder that knows which builds run and can cancel one (BuildControl), as the local
    builder does; a cancelled build is no longer live, and the test reports its end."""

    def __init__(self, registry: FakeRegistry) -> None:
        super().__init__(registry)
        self.live: set[str] = set()
        self.cancelled: dict[str, str] = {}

    def start(self, job: BuildJob) -> str:
        build_id = super().start(job)
        self.live.add(build_id)
        return build_id

    def is_live(self, build_id: str) -> bool:
        return build_id in self.live

    def cancel(self, build_id: str, reason: str) -> None:
        if build_id in self.live:
            self.cancelled[build_id] = reason
            self.live.discard(build_id)


class FakeRunner:
    def __init__(self, fail: bool = False) -> None:
        self.tasks: dict[str, LaunchRequest] = {}
        self.alive: set[str] = set()
        self.stopped: list[str] = []
        self.prepared: list[str] = []  # images prepared, in order (a repeat shows a waste)
        self.fail = fail
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def prepare(self, image_name: str) -> str:
        self.prepared.append(image_name)
        return f"taskdef:{image_name}"

    def start(self, request: LaunchRequest) -> str:
        if self.fail:
            raise LaunchError("no capacity")
        with self._lock:
            task_id = f"task-{next(self._ids)}"
            self.tasks[task_id] = request
            self.alive.add(task_id)
        return task_id

    def stop(self, task_id: str) -> None:
        self.stopped.append(task_id)
        self.alive.discard(task_id)

    def is_alive(self, task_id: str) -> bool:
        return task_id in self.alive


class FakeRouter(ProxyRouter):
    """The session proxy's router on https://binder.test, checking readiness the way users
    reach a session (through its URL), so that FakeProber's `up` names session URLs."""

    def __init__(self) -> None:
        super().__init__("https://binder.test", probe_direct=False)


class FakeProxyFleet:
    """The session proxy's tasks as a number: woken to its floor, slept to none."""

    def __init__(self, floor: int = 2) -> None:
        self.floor = floor
        self.tasks = 0
        self.calls: list[str] = []  # "wake", "sleep", "awake", in order

    def wake(self) -> None:
        self.calls.append("wake")
        self.tasks = max(self.tasks, self.floor)

    def sleep(self) -> None:
        self.calls.append("sleep")
        self.tasks = 0

    def awake(self) -> bool:
        self.calls.append("awake")
        return self.tasks > 0


class FakeProber:
    def __init__(self) -> None:
        self.up: set[str] = set()
        self.probes = 0

    def ready(self, url: str) -> bool:
        self.probes += 1
        return url in self.up


def phases(events: list[Progress | None]) -> list[str]:
    return [e.phase for e in events if e is not None]
