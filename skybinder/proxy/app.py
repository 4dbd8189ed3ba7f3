"""The session proxy as an aiohttp application: `/s/<id>/...` to the session's server, the
proxy's health at `/_proxy/health`, and (locally) everything else to the binder's own app.

The route comes from the store alone (a RouteCache over `SessionStore.route`), never from
the request: an id that is not a running session's gets an answer from pages.py, and the
request goes nowhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import aiohttp
from aiohttp import web
from yarl import URL

from skybinder.adapters.aws.names import PROXY_HEALTH_PATH as HEALTH_PATH
from skybinder.domain.model import SessionState
from skybinder.proxy import pages
from skybinder.proxy.activity import ActivityRecorder, Write
from skybinder.proxy.config import ProxyConfig
from skybinder.proxy.forward import UpstreamConnectError, UpstreamTimeoutError, forward
from skybinder.proxy.ids import MalformedPathError, is_session_path, parse
from skybinder.proxy.logs import log_event
from skybinder.proxy.routes import Lookup, RouteCache
from skybinder.proxy.websocket import Bridge, is_websocket

log = logging.getLogger("skybinder.proxy")


class SessionProxy:
    """Routes, connection pools, activity and the open WebSockets of one proxy process."""

    def __init__(self, lookup: Lookup, record: Write, config: ProxyConfig | None = None) -> None:
        self.config = config = config or ProxyConfig()
        self.executor = ThreadPoolExecutor(config.store_threads, "skybinder-proxy-store")
        self.routes = RouteCache(lookup, config, executor=self.executor)
        self.activity = ActivityRecorder(record, config.activity_interval, executor=self.executor)
        self.bridges: set[Bridge] = set()
        self._lookup = lookup
        self._sessions: aiohttp.ClientSession | None = None
        self._binder: aiohttp.ClientSession | None = None
        self._binder_base = "http://binder" if config.fallback.startswith("unix:") else ""
        self._binder_base = self._binder_base or config.fallback.rstrip("/")
        self._flusher: asyncio.Task[None] | None = None
        self._started = time.time()

    def app(self) -> web.Application:
        app = web.Application(handler_args={"max_field_size": 65536})
        app.router.add_get(HEALTH_PATH, self.health)
        if not self.config.fallback:
            app.router.add_get("/health", self.health)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        app.on_startup.append(self._startup)
        app.on_shutdown.append(self._shutdown)
        app.on_cleanup.append(self._cleanup)
        return app

    # -- requests -----------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw = request.raw_path
        if not is_session_path(raw):
            return await self._to_binder(request)
        try:
            path = parse(raw)
        except MalformedPathError:
            return pages.respond(request, pages.malformed())
        if not path.rest:  # /s/<id>: Jupyter's base URL ends with "/"
            raise web.HTTPTemporaryRedirect(path.base + (f"?{path.query}" if path.query else ""))
        sid = path.session_id
        try:
            route = await self.routes.get(sid)
        except Exception as err:
            log_event(log, logging.ERROR, "store-failed", session=sid, error=repr(err))
            return pages.respond(request, pages.store_unavailable(), sid)
        if route is None:
            return pages.respond(request, pages.unknown(), sid)
        if not route.routable:
            answer = pages.ended(route) if route.state.terminal else pages.starting(route)
            return pages.respond(request, answer, sid)
        self.activity.seen(sid)
        target = URL(f"http://{route.address}{raw}", encoded=True)
        began = time.monotonic()
        try:
            response = await self._forward(request, target, sid)
        except UpstreamConnectError as err:
            self.routes.evict(sid)  # the next request reads the store again
            log_event(log, logging.WARNING, "upstream-unreachable", session=sid, error=str(err))
            starting = route.state == SessionState.STARTING
            answer = pages.starting(route) if starting else pages.unreachable(route)
            return pages.respond(request, answer, sid)
        except UpstreamTimeoutError:
            log_event(log, logging.WARNING, "upstream-timeout", session=sid)
            return pages.respond(request, pages.timed_out(route), sid)
        self.activity.seen(sid)
        if self.config.access_log:
            log_event(
                log,
                logging.INFO,
                "proxied",
                session=sid,
                method=request.method,
                status=response.status,
                ms=round(1000 * (time.monotonic() - began), 2),
            )
        return response

    async def _forward(self, request: web.Request, target: URL, sid: str) -> web.StreamResponse:
        assert self._sessions is not None
        if not is_websocket(request):
            cfg = self.config
            return await forward(
                request,
                self._sessions,
                target,
                trust=cfg.trust_forwarded,
                private_cookies=cfg.private_cookies,
            )
        bridge = Bridge(self.config, lambda: self.activity.seen(sid))
        self.bridges.add(bridge)
        try:
            return await bridge.open(request, self._sessions, target)
        finally:
            self.bridges.discard(bridge)

    async def _to_binder(self, request: web.Request) -> web.StreamResponse:
        if self._binder is None:
            return pages.respond(request, pages.unknown())
        target = URL(f"{self._binder_base}{request.raw_path}", encoded=True)
        try:
            return await forward(request, self._binder, target, trust=self.config.trust_forwarded)
        except (UpstreamConnectError, UpstreamTimeoutError):
            return pages.respond(request, pages.binder_unreachable())

    async def health(self, request: web.Request) -> web.Response:
        """Ok when the store answers a route read; with what the proxy holds."""
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(
                loop.run_in_executor(self.executor, self._lookup, "health-check"), 5
            )
            store_ok = True
        except Exception:
            store_ok = False
        body = {
            "ok": store_ok,
            "checks": [{"service": "store", "ok": store_ok}],
            "websockets": len(self.bridges),
            "routes_cached": len(self.routes),
            "store_reads": self.routes.reads,
            "activity_writes": self.activity.writes,
            "uptime": round(time.time() - self._started, 1),
        }
        return web.json_response(body, status=200 if store_ok else 503)

    # -- life cycle ---------------------------------------------------------------------

    async def _startup(self, app: web.Application) -> None:
        cfg = self.config
        timeout = aiohttp.ClientTimeout(
            sock_connect=cfg.connect_timeout, sock_read=cfg.read_timeout
        )
        self._sessions = _client(aiohttp.TCPConnector(limit=0, limit_per_host=0), timeout)
        if cfg.fallback.startswith("unix:"):
            connector: aiohttp.BaseConnector = aiohttp.UnixConnector(cfg.fallback[5:], limit=0)
            self._binder = _client(connector, timeout)
        elif cfg.fallback:
            self._binder = _client(aiohttp.TCPConnector(limit=0), timeout)
        self._flusher = asyncio.create_task(self.activity.run())

    async def _shutdown(self, app: web.Application) -> None:
        """Before open requests are waited for: close every WebSocket with 1001 (going away),
        which tells Jupyter's clients to reconnect; their sessions keep running."""
        bridges = list(self.bridges)
        if bridges:
            log_event(log, logging.INFO, "closing-websockets", count=len(bridges))
        message = b"the session proxy is restarting"
        await asyncio.gather(*(b.close(message=message) for b in bridges), return_exceptions=True)

    async def _cleanup(self, app: web.Application) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        await self.activity.flush()
        for client in (self._sessions, self._binder):
            if client is not None:
                await client.close()
        self.executor.shutdown(wait=False, cancel_futures=True)


def _client(
    connector: aiohttp.BaseConnector, timeout: aiohttp.ClientTimeout
) -> aiohttp.ClientSession:
    # Bodies pass through as they are (no decompression); cookies are the browser's, never
    # kept here; no proxy settings from the environment.
    return aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        auto_decompress=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
    )
