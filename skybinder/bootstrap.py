"""The composition root: the only place concrete adapters meet the use cases."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from skybinder.adapters.local.containment import Containment, detect
from skybinder.adapters.local.data_dir import DataDirLock, remove_leftovers
from skybinder.adapters.local.data_fetch import DataFetcher
from skybinder.adapters.local.http import HttpProber, SystemClock
from skybinder.adapters.local.images import LocalImageRegistry
from skybinder.adapters.local.private_files import private_dir, store_key
from skybinder.adapters.local.process_runner import ProcessRunner
from skybinder.adapters.local.sqlite_rate_limit import SqliteRateLimiter
from skybinder.adapters.local.sqlite_store import SqliteSessionStore
from skybinder.adapters.local.venv_builder import VenvBuilder
from skybinder.adapters.providers import ProviderResolver
from skybinder.adapters.providers.cache import CachingResolver
from skybinder.adapters.proxy_router import ProxyRouter
from skybinder.api.limits import LaunchRateLimit
from skybinder.config import LocalSettings
from skybinder.domain.addresses import ip_literal
from skybinder.domain.jupyter import JupyterOptions
from skybinder.domain.model import ACTIVE, Limits, TaskStatus
from skybinder.domain.repo_policy import ProviderSettings
from skybinder.service.binder import Binder, ServiceConfig
from skybinder.service.build_queue import start_queued_builds
from skybinder.service.launch import on_build_finished
from skybinder.service.reap import reap
from skybinder.service.restart import end_previous_run
from skybinder.service.sessions import on_task_state, stop_session

log = logging.getLogger(__name__)
SHUTDOWN_GRACE = 2.0  # seconds builds and servers get to end when the binder stops
REAPER_JOIN = 2.0  # seconds to wait for a reaper pass in progress at shutdown
LOOPBACK = "127.0.0.1"


@dataclass
class LocalBinder:
    """A running local binder: the service, plus the threads and processes it owns."""

    binder: Binder
    runner: ProcessRunner
    builder: VenvBuilder
    store: SqliteSessionStore
    clients: list[httpx.Client]
    settings: LocalSettings
    containment: Containment
    events: LocalEvents
    lock: DataDirLock
    limiter: SqliteRateLimiter
    rate_limit: LaunchRateLimit | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _reaper: threading.Thread | None = None
    _closed: bool = False

    def start_reaper(self) -> None:
        def loop() -> None:
            while not self._stop.wait(self.settings.reap_interval):
                try:
                    reap(self.binder)
                except Exception:  # the reaper must outlive one bad pass
                    log.exception("reap pass failed")

        self._reaper = threading.Thread(target=loop, name="skybinder-reaper", daemon=True)
        self._reaper.start()

    def health_checks(self) -> dict[str, Callable[[], bool]]:
        return {
            "store": lambda: self.store.list(ACTIVE) is not None,
            "git": lambda: shutil.which("git") is not None,
        }

    def health_info(self) -> dict[str, str]:
        """What /health says besides its checks: how builds and sessions are contained."""
        return {"containment": self.containment.name}

    def close(self, grace: float = SHUTDOWN_GRACE) -> None:
        """Cancel every build and stop every session (they end with a reason), wait for their
        processes (servers get `grace` seconds to stop), and release everything. Idempotent."""
        if self._closed:
            return
        self._closed = True
        started = time.monotonic()
        self._stop.set()
        if self._reaper is not None:
            self._reaper.join(REAPER_JOIN)
        self.builder.close(timeout=grace)
        active = self.binder.store.list(ACTIVE)
        for session in active:
            stop_session(self.binder, session.id, "the local binder shut down")
        self.runner.stop_all(grace)
        reap(self.binder)
        log.info("stopped %d sessions in %.1f s", len(active), time.monotonic() - started)
        self.events.close()  # a build thread that did not finish in time reports to no one
        for client in self.clients:
            client.close()
        self.limiter.close()
        self.store.close()
        self.containment.close()
        self.lock.release()


class LocalEvents:
    """The local platform's event channel: builds and servers report here, in their own
    threads, and the service hears of them until the binder closes (never after its store
    is closed)."""

    def __init__(self) -> None:
        self.binder: Binder | None = None
        self._closed = False
        self._lock = threading.Lock()

    def build_finished(self, image: str, ok: bool, reason: str, build_id: str) -> None:
        with self._lock:
            if self.binder is not None and not self._closed:
                on_build_finished(self.binder, image, ok=ok, reason=reason, build_id=build_id)
                start_queued_builds(self.binder)  # its builder is free: a waiting build takes it

    def task_changed(
        self, sid: str, task: str, status: TaskStatus, address: str, reason: str
    ) -> None:
        with self._lock:
            if self.binder is not None and not self._closed:
                on_task_state(self.binder, sid, task, status, address=address, reason=reason)

    def close(self) -> None:
        with self._lock:
            self._closed = True


def build_local(settings: LocalSettings) -> LocalBinder:
    """Wire the local adapters, after ending what an earlier run of the same data directory
    left behind (its processes, working copies and unfinished launches). Events (build
    finished, process exited) call the service. DataDirInUseError when another binder
    serves from the data directory; ValueError when the containment asked for is missing."""
    root = private_dir(settings.data_dir).resolve()  # containers get absolute, real paths
    containment = detect(settings.containment)
    lock = DataDirLock(root)
    lock.acquire()
    events = LocalEvents()
    http = httpx.Client(timeout=httpx.Timeout(10.0, connect=5.0), follow_redirects=False)
    store = SqliteSessionStore(root / "skybinder.sqlite", token_key=store_key(root))
    probe = httpx.Client(timeout=httpx.Timeout(2.0, connect=1.0))
    resolver = ProviderResolver(
        http, allow_local=True, github_token=settings.github_token, settings=settings.providers
    )
    runner, builder = _contained_platform(settings, root, containment, events, resolver)
    binder = Binder(
        store=store,
        registry=LocalImageRegistry(root),
        builder=builder,
        runner=runner,
        router=ProxyRouter(settings.public_url, fallback=local_url(settings.host, settings.port)),
        prober=HttpProber(probe),
        resolver=cached(resolver, settings.providers),
        clock=SystemClock(),
        config=ServiceConfig(
            limits=Limits(
                max_sessions=settings.max_sessions,
                max_sessions_per_repo=settings.max_sessions_per_repo,
            ),
            max_age=settings.max_age,
            idle_timeout=settings.idle_timeout,
            poll_interval=settings.poll_interval,
            prices=settings.prices,
        ),
    )
    events.binder = binder
    _end_previous_run(binder, runner, root)
    # Always there: access-code guesses are throttled whether or not launches are.
    limiter = SqliteRateLimiter(root / "skybinder.sqlite")
    rate_limit = None
    if settings.rate_limit > 0:
        rate_limit = LaunchRateLimit(limiter, limit=settings.rate_limit, window=3600)
    return LocalBinder(
        binder=binder,
        runner=runner,
        builder=builder,
        store=store,
        clients=[http, probe],
        settings=settings,
        containment=containment,
        events=events,
        lock=lock,
        limiter=limiter,
        rate_limit=rate_limit,
    )


def _contained_platform(
    settings: LocalSettings,
    root: Path,
    containment: Containment,
    events: LocalEvents,
    resolver: ProviderResolver,
) -> tuple[ProcessRunner, VenvBuilder]:
    """The runner and the builder, each running what it starts in `containment`."""
    jupyter = JupyterOptions(
        idle_timeout=settings.idle_timeout,
        allow_root=_is_root(),
        allow_origin=session_origin(settings),
    )
    # Servers listen on loopback only: users reach them through the session proxy.
    runner = ProcessRunner(
        root,
        events.task_changed,
        containment=containment,
        host=LOOPBACK,
        options=jupyter,
        pass_env=settings.pass_env,
    )
    builder = VenvBuilder(
        root,
        events.build_finished,
        data=DataFetcher(resolver.data_providers(), resolver.http),
        containment=containment,
        max_builds=settings.max_builds,
        pass_env=settings.pass_env,
    )
    return runner, builder


def _end_previous_run(binder: Binder, runner: ProcessRunner, root: Path) -> None:
    killed = runner.sweep()  # every process of every container of this data directory
    removed = remove_leftovers(root)
    done = end_previous_run(binder)
    reap(binder)
    if killed or removed or done:
        log.info(
            "ended what the previous run left: %d processes, %d folders, %s",
            killed,
            removed,
            dict(done) or "no sessions",
        )


def cached(resolver: ProviderResolver, settings: ProviderSettings) -> CachingResolver:
    return CachingResolver(
        resolver,
        ttl=settings.cache_ttl,
        pinned_ttl=settings.cache_pinned_ttl,
        negative_ttl=settings.cache_negative_ttl,
    )


def local_url(host: str, port: int) -> str:
    """The binder's URL on this machine, for sessions started with no request to say how
    users reach it (a wildcard address means loopback, never the machine's own name)."""
    if host in {"0.0.0.0", "::", ""}:
        host = LOOPBACK
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def served_names(settings: LocalSettings) -> set[str]:
    """The names the binder answers to besides IP addresses and `localhost`: the machine's
    own name, the name it listens on, and those the operator lists (`--allow-host`)."""
    names = {socket.gethostname(), *settings.allow_hosts}
    if not ip_literal(settings.host.strip("[]")) and settings.host not in {"", "0.0.0.0", "::"}:
        names.add(settings.host)
    if settings.public_url:
        names.add(urlsplit(settings.public_url).hostname or "")
    return {name.lower() for name in names if name}


def session_origin(settings: LocalSettings) -> str:
    """The origin whose pages, besides its own, a local session's Jupyter server accepts: the
    binder's. Sessions are served on the binder's own port, through the session proxy, which
    keeps the request's Host: pages of the address a user reached the binder by are the
    session's own origin too. Decided here only."""
    if settings.public_url:
        parts = urlsplit(settings.public_url)
        return f"{parts.scheme}://{parts.netloc}"
    host = public_host(settings.host) or settings.host
    return f"http://{f'[{host}]' if ':' in host else host}:{settings.port}"


def public_host(host: str) -> str | None:
    """The binder's own name when it listens on every address (for the origin above only:
    session URLs never name the machine, see local_url)."""
    return socket.gethostname() if host in {"0.0.0.0", "::", ""} else None


def _is_root() -> bool:
    return os.geteuid() == 0
