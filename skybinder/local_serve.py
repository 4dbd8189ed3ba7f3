"""`skybinder serve`'s web server: uvicorn, with a shutdown that never leaves work behind.

uvicorn on its own waits for open responses before it shuts down, and an event stream lasts
as long as its launch (a build may take an hour); a second Ctrl-C then skips the app's
shutdown, leaving servers running that the database calls `ready`. Here the first signal
ends every event stream at once (each with a last `failed` event), and the binder's cleanup
— cancelling builds, stopping servers — runs however the server stopped.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Callable
from types import FrameType

import uvicorn

log = logging.getLogger(__name__)
STREAMS_GRACE = 3  # seconds other open responses get once the streams have ended


class LocalServer(uvicorn.Server):
    """A uvicorn server that sets `closing` on the first exit signal and runs `cleanup` (in a
    worker thread) after it stops serving, however it was asked to stop."""

    def __init__(
        self, config: uvicorn.Config, closing: threading.Event, cleanup: Callable[[], None]
    ) -> None:
        super().__init__(config)
        self.closing = closing
        self.cleanup = cleanup

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.closing.set()
        super().handle_exit(sig, frame)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.closing.set()
        try:
            await super().shutdown(sockets)
        finally:
            # A second Ctrl-C makes uvicorn skip the app's shutdown; this one still runs.
            await asyncio.to_thread(self._cleanup)

    def _cleanup(self) -> None:
        try:
            self.cleanup()
        except Exception:  # said in the log; the process still exits
            log.exception("the local binder did not shut down cleanly")


def serve_local(
    app: object, host: str, port: int, closing: threading.Event, cleanup: Callable[[], None]
) -> None:
    """Serve `app` until SIGINT or SIGTERM, then stop cleanly (see the module docstring)."""
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=host,
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=STREAMS_GRACE,
    )
    LocalServer(config, closing, cleanup).run()
