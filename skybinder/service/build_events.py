"""The `on_build_event` use case: a build's end as the platform reports it (CodeBuild in AWS),
and `reconcile_builds`, the same news as the builder gives it when the reaper asks."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from skybinder.domain.model import ImageState, Session, SessionState
from skybinder.service.binder import Binder
from skybinder.service.build_queue import start_queued_builds
from skybinder.service.builds import on_build_finished
from skybinder.service.ports import BuildStatus
from skybinder.service.watch import log_line_event

log = logging.getLogger(__name__)
S = SessionState
TAIL_LINES = 20  # of the build log, quoted in the reason a failed session gives


def on_build_event(binder: Binder, name: str, build_id: str, *, ok: bool, summary: str) -> None:
    """Build `build_id` of image `name` ended; settle the image and the sessions waiting for it.

    A failure's reason quotes the end of the build log, so a session that failed while nobody
    watched its stream still says why. Duplicate and late events change nothing.
    """
    reason = summary if ok else with_log_tail(binder, build_id, summary)
    on_build_finished(binder, name, ok=ok, reason=reason, build_id=build_id)
    # The build's end freed a builder: a queued build takes it now, not at the next reap.
    start_queued_builds(binder)


def with_log_tail(binder: Binder, build_id: str, summary: str, lines: int = TAIL_LINES) -> str:
    """`summary`, followed by the last `lines` messages of the build's log when it has any."""
    try:
        chunk = binder.builder.logs(build_id)
    except Exception:  # the failure is reported with or without its log
        log.exception("reading the log of build %s failed", build_id)
        return summary
    messages = (log_line_event(line).message.rstrip() for line in chunk.lines)
    tail = [message for message in messages if message][-lines:]
    if not tail:
        return summary
    return f"{summary}\nThe end of the build log:\n" + "\n".join(tail)


LOST = (
    "the builder has no record of this build (it was lost, or the binder restarted while it "
    "ran). Launch the repository again to build it anew."
)


def reconcile_builds(binder: Binder, active: Iterable[Session]) -> int:
    """Ask the builder about the build of every image that one of the `active` sessions waits
    for, and settle each one that has ended as its end event would have (that event was lost,
    or is late); return how many. A claim whose build never started is the build queue's
    (start_queued_builds). A build nobody waits for is settled once a session waits for it."""
    settled = 0
    names = {s.image_name for s in active if s.state in {S.QUEUED, S.BUILDING}}
    for name in sorted(names):
        image = binder.store.get_image(name)
        if image is None or image.state != ImageState.BUILDING or not image.build_id:
            continue
        info = binder.builder.status(image.build_id)
        if info.status == BuildStatus.RUNNING:
            continue
        log.warning("build %s of %s ended unannounced: settling it", image.build_id, image.name)
        if info.status == BuildStatus.UNKNOWN:
            on_build_finished(binder, image.name, ok=False, reason=LOST, build_id=image.build_id)
        else:
            ok = info.status == BuildStatus.SUCCEEDED
            on_build_event(binder, image.name, image.build_id, ok=ok, summary=info.reason)
        settled += 1
    return settled
