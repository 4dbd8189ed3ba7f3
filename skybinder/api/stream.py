"""The /build event stream: server-sent events framed exactly as BinderHub clients read them."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

from skybinder.domain.model import Progress

KEEPALIVE = ":keepalive\n\n"
T = TypeVar("T")
SHUTTING_DOWN = "The binder is shutting down; launch again when it is back."
# The last event of a stream that reached its time limit with the launch still going on.
LIMIT_MESSAGE = (
    "This connection ends here: connections to this binder last at most {minutes} minutes. "
    "Your launch goes on. The launch page follows it again by itself; to follow it from "
    "elsewhere, open the same link again (a running build is joined, not started again).\n"
)


def sse(progress: Progress) -> str:
    """One event: a single `data:` line and a blank line (no `event:` or `id:` fields)."""
    return f"data: {json.dumps(progress.payload())}\n\n"


def failed_event(message: str, status_code: int) -> str:
    extra: dict[str, object] = {"status_code": status_code}
    return sse(Progress(phase="failed", message=message.rstrip("\n") + "\n", extra=extra))


async def within(
    events: AsyncIterator[Progress | None],
    limit: float,
    session_id: Callable[[], str] = str,
    monotonic: Callable[[], float] = time.monotonic,
) -> AsyncIterator[Progress | None]:
    """`events` for at most `limit` seconds (0: no limit), then one last event in the phase
    of the last one sent (never `failed`: nothing failed), saying the launch goes on, and the
    end of the stream. API Gateway cuts a streamed response at 15 minutes; this ends it first,
    cleanly, so that a client never mistakes the cut for a failed launch."""
    deadline = monotonic() + limit if limit > 0 else None
    phase = "waiting"
    async for item in events:
        if item is not None:
            phase = item.phase
        if deadline is not None and monotonic() >= deadline and item is None:
            minutes = round(limit / 60)
            extra: dict[str, object] = {"session_id": session_id(), "reconnect": True}
            message = LIMIT_MESSAGE.format(minutes=minutes)
            yield Progress(phase=phase, message=message, extra=extra)
            return
        yield item


async def with_keepalive(
    events: AsyncIterator[Progress | None],
    interval: float,
    monotonic: Callable[[], float] = time.monotonic,
) -> AsyncIterator[str]:
    """Frame events, and send a keepalive comment when nothing was sent for `interval`.

    `events` yields None when it has nothing new; that is when a keepalive may go out.
    """
    last = monotonic()
    async for item in events:
        now = monotonic()
        if item is not None:
            last = now
            yield sse(item)
        elif now - last >= interval:
            last = now
            yield KEEPALIVE


class Closing:
    """Ends event streams when the server shuts down: `items` stops passing items on once
    `event` is set, and `last` is then one `failed` event (503) that says why the stream
    ended, so a client knows to try again later."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event
        self.cut = False

    async def items(self, items: AsyncIterator[T]) -> AsyncIterator[T]:
        async for item in items:
            if self.event.is_set():
                self.cut = True
                return
            yield item

    def last(self) -> list[str]:
        return [failed_event(SHUTTING_DOWN, 503)] if self.cut else []
