"""Builds that nobody waits for end; builds that nobody runs any more are started again.

Both need a builder that can say which builds it runs and cancel one (`BuildControl`, the
local builder); with any other builder these change nothing and cost no call.
"""

from __future__ import annotations

import logging

from skybinder.domain.model import Image, ImageState, SessionState
from skybinder.service.binder import Binder
from skybinder.service.ports import BuildControl

log = logging.getLogger(__name__)
S = SessionState
WAITING = frozenset({S.QUEUED, S.BUILDING})
CANCELLED = "The build was cancelled: no launch waits for it any more."
INTERRUPTED = "The binder stopped during this build; a new launch builds it again."


def cancel_unwanted_build(binder: Binder, image_name: str) -> bool:
    """Cancel the running build of `image_name` when no active session waits for it (the last
    one was stopped, failed or timed out); return whether it was cancelled.

    The record is ended first, by a write conditional on the build's id, so a launch that
    comes now starts a build of its own instead of joining the one being cancelled.
    """
    builder = binder.builder
    if not isinstance(builder, BuildControl):
        return False
    record = binder.store.get_image(image_name)
    if record is None or record.state != ImageState.BUILDING or not record.build_id:
        return False
    if binder.store.list(WAITING, image_name=image_name):
        return False
    if not _end(binder, record, CANCELLED):
        return False
    log.info("cancelling build %s of %s: nobody waits for it", record.build_id, image_name)
    builder.cancel(record.build_id, CANCELLED)
    return True


def take_over_dead_build(binder: Binder, record: Image | None) -> bool:
    """A record `building` whose build the builder does not run (the binder crashed during
    it) would keep every later launch waiting until the build timeout: end it, so the next
    claim starts the build again. Return whether it was ended."""
    builder = binder.builder
    if record is None or record.state != ImageState.BUILDING or not record.build_id:
        return False
    if not isinstance(builder, BuildControl) or builder.is_live(record.build_id):
        return False
    log.warning("build %s of %s is not running: building it again", record.build_id, record.name)
    return _end(binder, record, INTERRUPTED)


def _end(binder: Binder, record: Image, reason: str) -> bool:
    ended = binder.store.update_image(
        record.name,
        {ImageState.BUILDING},
        ImageState.FAILED,
        {"build_id": record.build_id},
        reason=reason,
        finished_at=binder.clock.now(),
    )
    return ended is not None
