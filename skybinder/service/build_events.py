"""The `on_build_event` use case: a build's end as the platform reports it (CodeBuild in AWS)."""

from __future__ import annotations

import logging

from skybinder.service.binder import Binder
from skybinder.service.build_queue import start_queued_builds
from skybinder.service.launch import on_build_finished
from skybinder.service.watch import log_line_event

log = logging.getLogger(__name__)
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
