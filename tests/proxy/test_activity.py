"""Activity: every request and WebSocket message is noted; the store gets it at most once per
session per interval, and the latest time of all wins."""

from __future__ import annotations

import asyncio

from skybinder.proxy.activity import ActivityRecorder
from tests.proxy.conftest import SID, harness, run
from tests.proxy.upstream import TOKEN


def test_requests_are_written_once_per_interval_per_session() -> None:
    async def main() -> None:
        async with harness() as h:  # activity is flushed every 0.2 s here
            h.add()
            h.add("fedcba9876543210")
            for _ in range(30):
                async with h.http.get(h.url(f"/s/{SID}/api")):
                    pass
            async with h.http.get(h.url("/s/fedcba9876543210/api")):
                pass
            await asyncio.sleep(0.35)
            assert h.proxy.activity.writes == 2  # one per session, not one per request
            first = h.store.get(SID)
            assert first is not None and first.last_activity is not None

    run(main())


def test_websocket_messages_are_activity() -> None:
    async def main() -> None:
        async with harness() as h:
            h.add()
            url = h.url(f"/s/{SID}/ws?token={TOKEN}").replace("http://", "ws://")
            async with h.http.ws_connect(url) as ws:
                await asyncio.sleep(0.3)  # the handshake's activity is written
                before = h.store.get(SID).last_activity  # type: ignore[union-attr]
                await ws.send_str("still working")
                await ws.receive_str(timeout=5)
                await asyncio.sleep(0.3)
            after = h.store.get(SID).last_activity  # type: ignore[union-attr]
            assert before is not None and after is not None and after > before

    run(main())


def test_a_failed_write_is_tried_again_and_shutdown_flushes() -> None:
    async def main() -> None:
        calls: list[tuple[str, float]] = []
        fail = [True]

        def write(session_id: str, at: float) -> bool:
            if fail[0]:
                raise ConnectionError("store down")
            calls.append((session_id, at))
            return True

        times = iter([10.0, 11.0])
        recorder = ActivityRecorder(write, 60, clock=lambda: next(times))
        recorder.seen("s1")
        assert await recorder.flush() == 0 and recorder.pending() == {"s1": 10.0}
        fail[0] = False
        recorder.seen("s1")  # newer activity replaces the failed one
        assert await recorder.flush() == 1 and calls == [("s1", 11.0)]
        assert await recorder.flush() == 0  # nothing new: nothing written

    run(main())
