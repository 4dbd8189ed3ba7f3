"""A build's end settles its image record and the sessions waiting for it — news of the
image's current build only.

News names its build (the build id), and an image record names the build it waits for: its
build id once the claimer has written it, and before that its claim (Image.claim), which the
builder carries with every build it starts. So news of an earlier build, delivered late or
again, never settles a later claim; news of a build whose id the record does not hold yet is
matched to the claim by asking the builder, never taken on trust.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from skybinder.domain.model import Image, ImageState, Session, SessionState
from skybinder.service.binder import Binder
from skybinder.service.ending import fail
from skybinder.service.servers import launch

log = logging.getLogger(__name__)
S = SessionState
BUILDING = ImageState.BUILDING


def on_build_finished(
    binder: Binder, name: str, *, ok: bool, build_id: str, reason: str = ""
) -> None:
    """Build `build_id` of image `name` ended: launch (or finish) every session waiting for
    it. News of any other build of the image changes nothing. Safe to receive twice, and
    twice at once: the image is settled once, and each session moves once."""
    record = binder.store.get_image(name)
    if record is None:
        return
    current = _current(binder, record, build_id)
    if current is None:
        log.info("build %s is not the current build of %s: no news to it", build_id, name)
        return
    finish(binder, current, ok=ok, reason=reason, where={"build_id": build_id})


def _current(binder: Binder, record: Image, build_id: str) -> Image | None:
    """The record, when `build_id` is its build (adopting it when the claim's build was
    started but not written down: its starter crashed, or is about to write it)."""
    if record.build_id == build_id:
        return record
    if record.build_id or record.state != BUILDING or not record.claim or not build_id:
        return None
    if binder.builder.status(build_id).claim != record.claim:
        return None
    unwritten = {"build_id": "", "claim": record.claim}
    adopted = binder.store.update_image(
        record.name, {BUILDING}, BUILDING, unwritten, build_id=build_id, reason=""
    )
    if adopted is not None:
        log.info("build %s of %s adopted: its claim never recorded it", build_id, record.name)
        return adopted
    now = binder.store.get_image(record.name)
    return now if now is not None and now.build_id == build_id else None


def finish(
    binder: Binder, record: Image, *, ok: bool, reason: str, where: Mapping[str, object]
) -> None:
    """Settle the build of `record` that `where` names ({"build_id": ...}, or the claim of a
    build that never started), then every session waiting for the image."""
    name = record.name
    if record.state == BUILDING:
        changes: dict[str, object] = {"reason": reason, "finished_at": binder.clock.now()}
        if ok:
            changes["task_definition"] = _prepare(binder, name)
        new = ImageState.BUILT if ok else ImageState.FAILED
        settled = binder.store.update_image(name, {BUILDING}, new, where, **changes)
        found = settled or binder.store.get_image(name)
        if found is None:
            return
        record = found
    settle_sessions(binder, record)


def settle_sessions(binder: Binder, record: Image) -> None:
    """Move the sessions waiting for `record`'s build on, once that build has ended."""
    if record.state == BUILDING:
        return  # building again (a later claim): its own end settles them
    for session in binder.store.list({S.BUILDING}, image_name=record.name):
        settle_waiting(binder, session.id, record)


def _prepare(binder: Binder, name: str) -> str:
    try:
        return binder.runner.prepare(name)
    except Exception:  # the image is built all the same; a launch prepares it again
        log.exception("preparing image %s for launch failed", name)
        return ""


def settle_waiting(binder: Binder, session_id: str, record: Image) -> None:
    """A session waiting for `record`'s build, which has ended: fail it, or launch it."""
    if record.state == ImageState.FAILED:
        message = f"The build of this repository failed: {record.reason or 'see the log above'}"
        fail(binder, session_id, message, status_code=500, expected={S.BUILDING})
        return
    now = binder.clock.now()
    built = binder.store.transition(session_id, {S.BUILDING}, S.BUILT, updated_at=now)
    if built is not None:
        after_built(binder, built, record)


def after_built(binder: Binder, session: Session, record: Image | None) -> None:
    """A session whose image is built: launch it, or end it when it only built."""
    if session.build_only:
        now = binder.clock.now()
        binder.store.transition(
            session.id, {S.BUILT}, S.STOPPED, reason="build only", ended_at=now, updated_at=now
        )
        return
    launch(binder, session.id, record)
