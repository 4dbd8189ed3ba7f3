"""Activity per session: the time of the last request or WebSocket message the proxy relayed,
kept in memory and written to the store at most once per session per interval.

`seen` is a dict write, cheap enough for every message. A flush writes the sessions seen
since their last write; a failed write is kept for the next flush. The store keeps the
latest time of all proxies (a late, older write changes nothing).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor

from skybinder.proxy.logs import log_event

log = logging.getLogger(__name__)
Write = Callable[[str, float], bool]


class ActivityRecorder:
    def __init__(
        self,
        write: Write,
        interval: float,
        *,
        executor: Executor | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._write = write
        self.interval = interval
        self._executor = executor
        self._clock = clock
        self._pending: dict[str, float] = {}  # session id -> latest activity not yet written
        self.writes = 0

    def seen(self, session_id: str) -> None:
        self._pending[session_id] = self._clock()

    def pending(self) -> dict[str, float]:
        return dict(self._pending)

    async def flush(self) -> int:
        """Write every session's latest activity; return how many were written."""
        batch, self._pending = self._pending, {}
        loop = asyncio.get_running_loop()
        written = 0
        for session_id, at in batch.items():
            try:
                await loop.run_in_executor(self._executor, self._write, session_id, at)
            except Exception as err:
                # Kept for the next flush, unless newer activity arrived meanwhile.
                self._pending.setdefault(session_id, at)
                log_event(
                    log,
                    logging.WARNING,
                    "activity-write-failed",
                    session=session_id,
                    error=type(err).__name__,
                )
                continue
            written += 1
        self.writes += written
        return written

    async def run(self) -> None:
        """Flush every `interval` until cancelled (the caller flushes once more at shutdown)."""
        while True:
            await asyncio.sleep(self.interval)
            await self.flush()
