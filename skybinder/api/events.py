"""GET /api/sessions/<id>/events?resume=<secret>: reattach to a launch's stream after a drop.

The same server-sent events as /build (the `watch` use case from the start), so a page that
lost its /build stream picks the launch up again instead of starting a second one. The resume
secret, sent only in the first event of the /build stream that started the launch, is required:
the session id alone is public and the stream ends with the session's token.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import anyio.to_thread
from anyio import CapacityLimiter
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from skybinder.api.build import SSE_HEADERS, in_thread
from skybinder.api.stream import Closing, failed_event, with_keepalive, within
from skybinder.service.binder import Binder
from skybinder.service.resume import may_resume
from skybinder.service.watch import watch

log = logging.getLogger(__name__)
router = APIRouter()


@router.get("/api/sessions/{session_id}/events", response_class=StreamingResponse)
def session_events(session_id: str, request: Request, resume: str = "") -> StreamingResponse:
    binder: Binder = request.app.state.binder
    keepalive: float = request.app.state.keepalive
    limit: float = request.app.state.stream_limit
    closing = Closing(request.app.state.closing)

    async def events() -> AsyncIterator[str]:
        limiter = CapacityLimiter(1)  # one worker thread per stream, as /build has
        try:
            session = await anyio.to_thread.run_sync(
                lambda: binder.store.get(session_id), limiter=limiter
            )
            if session is None:
                yield failed_event("No such session: it may have ended long ago.", 404)
                return
            if not may_resume(session, resume):
                yield failed_event(
                    "Only the page that started this launch can follow it. Open the launch "
                    "link again to start a new one.",
                    403,
                )
                return
            steps = within(in_thread(watch(binder, session_id), limiter), limit, lambda: session_id)
            async for frame in with_keepalive(closing.items(steps), keepalive):
                yield frame
            for frame in closing.last():
                yield frame
        except Exception:  # a fault below the app ends the stream with a failed event, not a cut
            log.exception("the event stream of session %s failed", session_id)
            yield failed_event("Something went wrong on our side. Please try again.", 500)

    return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)
