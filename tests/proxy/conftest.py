"""The session proxy in this process against stand-in servers on real sockets, with the
fake store holding the sessions. Tests are plain functions that run one coroutine."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from skybinder.domain.model import Session, SessionState
from skybinder.proxy import ProxyConfig, SessionProxy
from skybinder.proxy import server as proxy_server
from tests.fakes import FakeSessionStore
from tests.proxy.upstream import Seen, upstream_app

T = TypeVar("T")
SID = "0123456789abcdef"
FAST = ProxyConfig(route_ttl=0.3, negative_ttl=0.3, ended_ttl=0.3, activity_interval=0.2,
                   read_timeout=1.0, connect_timeout=1.0, shutdown_timeout=2.0)  # fmt: skip


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` in a loop of its own, in a thread of its own: the browser tests' Playwright
    keeps a loop running in the main thread for the whole test session."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class CountingStore(FakeSessionStore):
    """The fake store, counting the proxy's reads and able to fail them."""

    def __init__(self) -> None:
        super().__init__()
        self.route_reads = 0
        self.broken = False

    def route(self, session_id: str):  # type: ignore[no-untyped-def]
        self.route_reads += 1
        if self.broken:
            raise ConnectionError("the store is down")
        return super().route(session_id)


@dataclass
class Harness:
    store: CountingStore
    seen: Seen
    upstream: TestServer
    proxy: SessionProxy
    runner: web.AppRunner
    port: int
    http: aiohttp.ClientSession

    @property
    def upstream_address(self) -> str:
        return f"127.0.0.1:{self.upstream.port}"

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def add(self, sid: str = SID, state: SessionState = SessionState.READY, **fields: Any) -> None:
        values: dict[str, Any] = {"address": self.upstream_address, "provider": "gh",
                                  "spec": "u/r/main"}  # fmt: skip
        self.store.create(Session(id=sid, state=state, **{**values, **fields}))


@contextlib.asynccontextmanager
async def harness(config: ProxyConfig = FAST) -> AsyncIterator[Harness]:
    seen = Seen()
    upstream = TestServer(upstream_app(seen), host="127.0.0.1")
    await upstream.start_server()
    store = CountingStore()
    proxy = SessionProxy(store.route, store.record_activity, config)
    port = free_port()
    runner = await proxy_server.start(proxy, "127.0.0.1", port)
    http = aiohttp.ClientSession(auto_decompress=False)
    h = Harness(store, seen, upstream, proxy, runner, port, http)
    try:
        yield h
    finally:
        await http.close()
        await proxy_server.stop(h.runner)  # a test may have restarted the proxy
        await upstream.close()
