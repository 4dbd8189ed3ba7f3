"""`skybinder serve`'s servers: the session proxy on the binder's port, in front of the
binder's own app, which listens on a Unix socket in a private directory. One port serves the
BinderHub API, the pages and every session (`/s/<id>/`), as JupyterHub's proxy does.

uvicorn trusts the X-Forwarded-* headers on that socket: only the proxy can reach it, and
the proxy sets them from the connection, so the app sees each request's real client, scheme
and Host.

Stopping never waits for builds and never leaves work behind: the first SIGINT or SIGTERM
ends every event stream at once (each with a last `failed` event, through `closing`), the
proxy and the app get a few seconds for what else is open, and then the binder's `cleanup`
(cancel builds, stop servers) runs, however the servers stopped. A second Ctrl-C changes
nothing: it is not needed, and it does not skip the cleanup (nor cut it short).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from skybinder.api.access import COOKIE_PREFIX
from skybinder.config import LocalSettings
from skybinder.proxy import ProxyConfig, SessionProxy
from skybinder.proxy import server as proxy_server
from skybinder.service.ports import SessionStore

log = logging.getLogger(__name__)
MAX_ACTIVITY_INTERVAL = 60.0
# Seconds what is still open when the binder stops gets, once the event streams have ended:
# requests through the proxy, then requests to the app (only the proxy reaches it).
PROXY_GRACE = 3.0
APP_GRACE = 2


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handling: `serve_local` stops it, after the proxy."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def proxy_config(settings: LocalSettings, socket_path: Path) -> ProxyConfig:
    # Activity is written once a minute, or often enough for a short idle timeout to see it.
    interval = min(MAX_ACTIVITY_INTERVAL, max(0.5, settings.idle_timeout / 4))
    return ProxyConfig(
        activity_interval=interval,
        fallback=f"unix:{socket_path}",
        private_cookies=(f"{COOKIE_PREFIX}-{settings.port}",),  # the binder's access token
        shutdown_timeout=PROXY_GRACE,
    )


def serve_local(
    web: FastAPI,
    store: SessionStore,
    settings: LocalSettings,
    on_ready: Callable[[], None],
    *,
    closing: threading.Event,
    cleanup: Callable[[], None],
) -> None:
    """Serve until SIGINT or SIGTERM; then end the event streams (`closing`), close the proxy
    (WebSockets get 1001) and the app, and run `cleanup`. Exits with status 1 when the port
    is taken."""
    if not proxy_server.can_bind(settings.host, settings.port):
        raise SystemExit(f"Cannot listen on {settings.host}:{settings.port}: it is in use.")
    proxy_server.raise_open_file_limit()
    try:
        asyncio.run(_serve(web, store, settings, on_ready, closing))
    finally:
        _on_further_signals(_noted_once())
        try:
            cleanup()
        except Exception:  # said in the log; the process still exits
            log.exception("the local binder did not shut down cleanly")
        # Only the interpreter's exit is left, at whose very end Python gives the signals
        # their default action back: one more Ctrl-C then would turn a clean exit into one
        # "killed by SIGINT".
        _on_further_signals(signal.SIG_IGN)


def _on_further_signals(handler: Callable[[int, object], None] | signal.Handlers) -> None:
    """From now until the process exits, Ctrl-C and SIGTERM go to `handler`: once the binder
    stops, the cleanup ends within seconds by itself, and cut short it would leave servers
    running. (asyncio gives the signals their default actions back when its loop closes.)"""
    if threading.current_thread() is threading.main_thread():  # the only one that may
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, handler)


def _noted_once() -> Callable[[int, object], None]:
    noted: list[int] = []

    def note(signum: int, frame: object) -> None:
        if not noted:
            log.warning("Already stopping: builds and sessions end within seconds.")
        noted.append(signum)

    return note


async def _serve(
    web: FastAPI,
    store: SessionStore,
    settings: LocalSettings,
    on_ready: Callable[[], None],
    closing: threading.Event,
) -> None:
    with tempfile.TemporaryDirectory(prefix="skybinder-") as run_dir:  # mode 0700
        socket_path = Path(run_dir) / "binder.sock"
        app_server = _EmbeddedServer(
            uvicorn.Config(
                web,
                uds=str(socket_path),
                log_level="warning",
                proxy_headers=True,
                forwarded_allow_ips="*",
                timeout_graceful_shutdown=APP_GRACE,
            )
        )
        serving = asyncio.create_task(app_server.serve())
        while not app_server.started:
            if serving.done():
                await serving  # it failed to start: its error, or its exit, surfaces here
                return
            await asyncio.sleep(0.02)
        proxy = SessionProxy(
            store.route, store.record_activity, proxy_config(settings, socket_path)
        )
        runner = await proxy_server.start(proxy, settings.host, settings.port)
        on_ready()
        stop = asyncio.Event()

        def stop_serving() -> None:
            closing.set()  # first: open event streams end now, not when their launch does
            stop.set()

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop_serving)
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({stopped, serving}, return_when=asyncio.FIRST_COMPLETED)
        closing.set()
        await proxy_server.stop(runner)
        app_server.should_exit = True
        await serving
