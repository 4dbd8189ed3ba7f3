"""The composition root: the only place concrete adapters meet the use cases."""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from skybinder.adapters.local.data_fetch import DataFetcher
from skybinder.adapters.local.http import HttpProber, SystemClock
from skybinder.adapters.local.images import LocalImageRegistry
from skybinder.adapters.local.process_runner import ProcessRunner
from skybinder.adapters.local.sqlite_rate_limit import SqliteRateLimiter
from skybinder.adapters.local.sqlite_store import SqliteSessionStore
from skybinder.adapters.local.venv_builder import VenvBuilder
from skybinder.adapters.providers import ProviderResolver
from skybinder.adapters.providers.cache import CachingResolver
from skybinder.adapters.proxy_router import ProxyRouter
from skybinder.api.limits import LaunchRateLimit
from skybinder.config import LocalSettings
from skybinder.domain.jupyter import JupyterOptions
from skybinder.domain.model import ACTIVE, Limits, TaskStatus
from skybinder.domain.repo_policy import ProviderSettings
from skybinder.service.binder import Binder, ServiceConfig
from skybinder.service.launch import on_build_finished
from skybinder.service.reap import reap
from skybinder.service.sessions import on_task_state, stop_session

log = logging.getLogger(__name__)
LOOPBACK = "127.0.0.1"


@dataclass
class LocalBinder:
    """A running local binder: the service, plus the threads and processes it owns."""

    binder: Binder
    runner: ProcessRunner
    store: SqliteSessionStore
    clients: list[httpx.Client]
    settings: LocalSettings
    rate_limit: LaunchRateLimit | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def start_reaper(self) -> None:
        def loop() -> None:
            while not self._stop.wait(self.settings.reap_interval):
                try:
                    reap(self.binder)
                except Exception:  # the reaper must outlive one bad pass
                    log.exception("reap pass failed")

        threading.Thread(target=loop, name="skybinder-reaper", daemon=True).start()

    def health_checks(self) -> dict[str, Callable[[], bool]]:
        return {
            "store": lambda: self.store.list(ACTIVE) is not None,
            "git": lambda: shutil.which("git") is not None,
        }

    def close(self) -> None:
        """Stop every session (they end `stopped`, with a reason) and release everything."""
        self._stop.set()
        for session in self.binder.store.list(ACTIVE):
            stop_session(self.binder, session.id, "the local binder shut down")
        self.runner.stop_all()
        reap(self.binder)
        for client in self.clients:
            client.close()
        if self.rate_limit is not None and isinstance(self.rate_limit.limiter, SqliteRateLimiter):
            self.rate_limit.limiter.close()
        self.store.close()


def build_local(settings: LocalSettings) -> LocalBinder:
    """Wire the local adapters. Events (build finished, process exited) call the service."""
    root = settings.data_dir
    root.mkdir(parents=True, exist_ok=True)
    holder: list[Binder] = []

    def build_finished(image: str, ok: bool, reason: str) -> None:
        on_build_finished(holder[0], image, ok=ok, reason=reason)

    def task_changed(sid: str, task: str, status: TaskStatus, address: str, reason: str) -> None:
        on_task_state(holder[0], sid, task, status, address=address, reason=reason)

    http = httpx.Client(timeout=httpx.Timeout(10.0, connect=5.0), follow_redirects=False)
    store = SqliteSessionStore(root / "skybinder.sqlite")
    jupyter = JupyterOptions(idle_timeout=settings.idle_timeout, allow_root=_is_root())
    # Servers listen on loopback only: users reach them through the session proxy.
    runner = ProcessRunner(root, task_changed, host=LOOPBACK, options=jupyter)
    probe = httpx.Client(timeout=httpx.Timeout(2.0, connect=1.0))
    resolver = ProviderResolver(
        http, allow_local=True, github_token=settings.github_token, settings=settings.providers
    )
    binder = Binder(
        store=store,
        registry=LocalImageRegistry(root),
        builder=VenvBuilder(
            root, build_finished, data=DataFetcher(resolver.data_providers(), resolver.http)
        ),
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
    holder.append(binder)
    runner.sweep()
    reap(binder)  # sessions of an earlier run whose servers are gone end `stopped`
    rate_limit = None
    if settings.rate_limit > 0:
        limiter = SqliteRateLimiter(root / "skybinder.sqlite")
        rate_limit = LaunchRateLimit(limiter, limit=settings.rate_limit, window=3600)
    return LocalBinder(
        binder=binder,
        runner=runner,
        store=store,
        clients=[http, probe],
        settings=settings,
        rate_limit=rate_limit,
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


def _is_root() -> bool:
    return os.geteuid() == 0
