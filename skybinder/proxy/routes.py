"""The route cache: session id -> SessionRoute, read from the store once per burst.

Entries live for a short time that depends on the answer: routable sessions for `route_ttl`,
unknown and not-yet-started ones for `negative_ttl`, ended ones for `ended_ttl`. Concurrent
look-ups of one id share a single store read (a page opening a session sends dozens of
requests at once). A store that fails is not cached: the next request asks again. A
connection to a session's server that fails evicts its route, so the next request reads the
store again instead of trusting an address that no longer answers.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Executor

from skybinder.domain.model import SessionRoute
from skybinder.proxy.config import ProxyConfig

Lookup = Callable[[str], SessionRoute | None]


class RouteCache:
    def __init__(
        self,
        lookup: Lookup,
        config: ProxyConfig,
        *,
        executor: Executor | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lookup = lookup
        self._config = config
        self._executor = executor
        self._clock = clock
        self._entries: OrderedDict[str, tuple[SessionRoute | None, float]] = OrderedDict()
        self._inflight: dict[str, asyncio.Task[SessionRoute | None]] = {}
        self.reads = 0  # store reads made, for tests and the health endpoint

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, session_id: str) -> SessionRoute | None:
        """The session's route (None: no such session). Raises what the store raises."""
        cached = self._entries.get(session_id)
        if cached is not None and cached[1] > self._clock():
            self._entries.move_to_end(session_id)
            return cached[0]
        task = self._inflight.get(session_id)
        if task is None:
            # A task of its own, so a requester that goes away does not cancel the others' read.
            task = asyncio.create_task(self._fetch(session_id))
            self._inflight[session_id] = task
            task.add_done_callback(lambda done: self._settled(session_id, done))
        return await asyncio.shield(task)

    def evict(self, session_id: str) -> None:
        """Forget the session's route: the next request reads the store."""
        self._entries.pop(session_id, None)

    async def _fetch(self, session_id: str) -> SessionRoute | None:
        self.reads += 1
        loop = asyncio.get_running_loop()
        route = await loop.run_in_executor(self._executor, self._lookup, session_id)
        self._store(session_id, route)
        return route

    def _settled(self, session_id: str, done: asyncio.Task[SessionRoute | None]) -> None:
        if self._inflight.get(session_id) is done:
            del self._inflight[session_id]
        if not done.cancelled():
            done.exception()  # retrieved here: a read nobody waits for any more is no error

    def _store(self, session_id: str, route: SessionRoute | None) -> None:
        self._entries[session_id] = (route, self._clock() + self._ttl(route))
        self._entries.move_to_end(session_id)
        while len(self._entries) > self._config.max_routes:
            self._entries.popitem(last=False)

    def _ttl(self, route: SessionRoute | None) -> float:
        if route is None:
            return self._config.negative_ttl
        if route.routable:
            return self._config.route_ttl
        return self._config.ended_ttl if route.state.terminal else self._config.negative_ttl
