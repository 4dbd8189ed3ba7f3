"""The build queue: a build the builder has no room for waits, and starts when a builder frees."""

from __future__ import annotations

import logging

from skybinder.domain.errors import BuilderBusyError, SkybinderError
from skybinder.domain.model import Image, ImageState, Session, SessionState
from skybinder.service.binder import Binder
from skybinder.service.ending import fail
from skybinder.service.ports import BuildJob

log = logging.getLogger(__name__)
S = SessionState
BUILDING = ImageState.BUILDING
# A queued build is an image record in state `building` with no build id, marked by its
# reason; a caller takes it out of the queue by moving the mark, which only one caller can.
QUEUED = "queued"
STARTING = "starting"
NOTICE = "Waiting for a free builder"
WAITING = frozenset({S.QUEUED, S.BUILDING})  # sessions that wait for their image's build
# Seconds after which a claimed build that never started is taken over: its claimer (a launch
# or a reaper) starts it within a second or two of claiming it, unless it crashed. The builder
# starts one build per claim, so a slow claimer and its taker get the same build.
STALE_CLAIM = 60.0


def wait_for_builder(binder: Binder, name: str) -> None:
    """The builder refused to start the build of image `name` for now: queue the build, and
    tell the sessions waiting for it why. Only the caller that holds the build calls this."""
    queued = binder.store.update_image(name, {BUILDING}, BUILDING, {"build_id": ""}, reason=QUEUED)
    if queued is None:
        return  # the build ended meanwhile (news of an earlier build of the image settled it)
    notice = _waiting_notice(_running_builds(binder))
    for session in binder.store.list(WAITING, image_name=name):
        _tell(binder, session, notice)


def start_queued_builds(binder: Binder) -> int:
    """Start queued builds, oldest first, until the builder refuses one; return how many
    started. A build is claimed by a conditional write before it is started, so of callers
    racing for it (two reapers) exactly one starts it. A build nobody waits for any more
    (its sessions ended, or timed out) stays queued: a later launch of the image revives it.
    """
    started = 0
    for image, session in _queue(binder):
        claim = f"{STARTING} {int(binder.clock.now())}"  # when: a claim left by a crash ages
        claimed = binder.store.update_image(
            image.name, {BUILDING}, BUILDING, _marked(image.reason), reason=claim
        )
        if claimed is None:
            continue  # another caller took it, or its build ended meanwhile
        try:
            build_id = binder.builder.start(_job(session, image.claim))
        except BuilderBusyError:
            wait_for_builder(binder, image.name)  # back in the queue, at its place
            break
        except Exception as err:  # any other fault ends the build, as a launch's start does
            log.exception("starting the queued build of %s failed", image.name)
            _give_up(binder, image.name, err, claim)
            continue
        binder.store.update_image(
            image.name, {BUILDING}, BUILDING, _marked(claim), build_id=build_id, reason=""
        )
        started += 1
    return started


def _waiting_notice(running: int) -> str:
    """What a session waiting for a free builder is told, with the builds that run now."""
    if running <= 0:  # the builds that fill the builder are not this binder's
        return f"{NOTICE}: the build service is busy with other builds."
    builds = "build runs" if running == 1 else "builds run"
    return f"{NOTICE}: {running} {builds} at once on this binder."


def _running_builds(binder: Binder) -> int:
    """The builds of this binder that run now, as its records show: images that sessions wait
    for whose build has started."""
    names = {session.image_name for session in binder.store.list({S.BUILDING})}
    records = [binder.store.get_image(name) for name in names]
    return sum(1 for r in records if r is not None and r.state == BUILDING and r.build_id)


def _queue(binder: Binder) -> list[tuple[Image, Session]]:
    """Queued images that a live session waits for, oldest first, each with its oldest such
    session: the build job is made from it, as the launch that queued it made it."""
    now = binder.clock.now()
    oldest: dict[str, Session] = {}
    for session in binder.store.list(WAITING):  # oldest first
        if now - session.created_at <= binder.config.build_timeout:
            oldest.setdefault(session.image_name, session)
    queued: list[tuple[Image, Session]] = []
    for name, session in oldest.items():
        image = binder.store.get_image(name)
        if image is not None and image.state == BUILDING and _startable(image, now):
            queued.append((image, session))
    return sorted(queued, key=lambda pair: (pair[0].created_at, pair[0].name))


def _startable(image: Image, now: float) -> bool:
    """A build that has not started and that nobody is starting: queued, or claimed so long
    ago (by a launch or a reaper) that the claimer must have crashed before StartBuild."""
    if image.build_id:
        return False
    if image.reason == QUEUED:
        return True
    if image.reason == "":  # claimed by a launch, which starts it at once
        return now - image.created_at > STALE_CLAIM
    kind, _, when = image.reason.partition(" ")
    return kind == STARTING and when.isdigit() and now - int(when) > STALE_CLAIM


def _marked(reason: str) -> dict[str, object]:
    """The condition on an image record whose build has not started and is marked `reason`."""
    return {"build_id": "", "reason": reason}


def _job(session: Session, claim: str) -> BuildJob:
    return BuildJob(
        image_name=session.image_name,
        repo_url=session.repo_url,
        ref=session.ref,
        provider=session.provider,
        claim=claim,
    )


def _tell(binder: Binder, session: Session | None, notice: str) -> None:
    for _ in range(2):  # a joining session may move from queued to building meanwhile
        if session is None or session.state not in WAITING:
            return
        if any(told.startswith(NOTICE) for told in session.notices):
            return  # once is enough: the stream shows every notice once anyway
        notices = [*session.notices, notice]
        if binder.store.transition(session.id, {session.state}, session.state, notices=notices):
            return
        session = binder.store.get(session.id)


def _give_up(binder: Binder, name: str, err: Exception, claim: str) -> None:
    """End a queued build that could not be started, and the sessions waiting for it."""
    reason = err.message if isinstance(err, SkybinderError) else "the builder is unavailable"
    now = binder.clock.now()
    failed = binder.store.update_image(
        name, {BUILDING}, ImageState.FAILED, _marked(claim), reason=reason, finished_at=now
    )
    if failed is None:
        return
    message = f"The build of this repository could not be started: {reason}"
    for session in binder.store.list({S.BUILDING}, image_name=name):
        fail(binder, session.id, message, status_code=500, expected={S.BUILDING})
