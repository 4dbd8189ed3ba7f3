"""Starting a session's server: the first launch, and a relaunch after a Spot interruption
took the server before it was ready."""

from __future__ import annotations

import logging

from skybinder.domain.errors import (
    PlatformBusyError,
    QuotaExceededError,
    RunnerBusyError,
    SkybinderError,
)
from skybinder.domain.event import Event
from skybinder.domain.model import CapacityPolicy, Image, ImageState, Session, SessionState
from skybinder.service.binder import Binder
from skybinder.service.ending import fail, identity
from skybinder.service.ports import LaunchRequest
from skybinder.service.proxy_tasks import ensure_proxy

log = logging.getLogger(__name__)
S = SessionState
BEFORE_READY = frozenset({S.LAUNCHING, S.STARTING})
BUSY = "AWS is busy right now: your server starts in a minute."


def launch(
    binder: Binder, session_id: str, record: Image | None = None, *, again: bool = False
) -> None:
    """Start the server of a session whose image is built. Only one caller wins the move.

    `record`: the image's record, when the caller has just read it (it is not read again).
    `again`: a relaunch, which keeps the time of the first launch (billing started then).
    """
    now = binder.clock.now()
    changes: dict[str, object] = (
        {"updated_at": now} if again else {"updated_at": now, "launched_at": now}
    )
    session = binder.store.transition(session_id, {S.BUILT}, S.LAUNCHING, **changes)
    if session is not None:
        start_server(binder, session, record)


def start_server(
    binder: Binder, session: Session, record: Image | None, *, proxy_awake: bool = False
) -> Session | None:
    """Start the task of a `launching` session that has none; return it as it is then
    (`starting`, or `failed` when it could not start; None if it moved on). `proxy_awake`:
    the session was admitted while the session proxy was marked awake (nothing to check).

    Safe to repeat for the same launch attempt (the reaper resumes a launch that crashed
    before it recorded its task): the runner starts one task per attempt, and the task is
    recorded only on a session that has none, so a second caller finds the first's.
    """
    session_id = session.id
    fresh = {"task_id": "", "interruptions": session.interruptions}
    if not proxy_awake:
        ensure_proxy(binder)  # its users reach it through the proxy: both start side by side
    try:
        task_id = binder.runner.start(_launch_request(binder, session, record))
    except (RunnerBusyError, PlatformBusyError) as err:  # not a failure: started again later
        log.warning("launch of %s must wait: %s", session_id, err.message)
        notice = err.message if isinstance(err, RunnerBusyError) else BUSY
        return _later(binder, session, notice)
    except Exception as err:  # a runner fault fails this session, never the caller
        reason, status = _start_failure(err)
        if isinstance(err, QuotaExceededError):
            log.warning("launch of %s refused: %s", session_id, reason)
        else:
            log.exception("starting session %s failed", session_id)
        return fail(binder, session_id, reason, status_code=status, where=fresh)
    # updated_at: when the task was recorded, which the reaper's grace for ECS counts from.
    started = binder.store.transition(
        session_id,
        {S.LAUNCHING, S.STARTING},
        S.STARTING,
        fresh,
        task_id=task_id,
        updated_at=binder.clock.now(),
    )
    if started is not None:
        return started
    now = binder.store.get(session_id)
    if now is not None and now.task_id == task_id:
        return now  # its RUNNING event, or a resumed start, recorded this very task first
    # Stopped, failed or relaunched while we were starting it: do not leave the task behind.
    binder.runner.stop(task_id)
    return now


def _later(binder: Binder, session: Session, notice: str) -> Session | None:
    """Back to `built`, told why: the reaper starts a session left built after a minute (its
    first launch's time is kept, as for a relaunch: its deadline still holds; and its launch
    attempt, so the runner gives back a server this attempt did start)."""
    notices = session.notices if notice in session.notices else [*session.notices, notice]
    fresh = {"task_id": "", "interruptions": session.interruptions}
    return binder.store.transition(
        session.id, {S.LAUNCHING}, S.BUILT, fresh, notices=notices, updated_at=binder.clock.now()
    )


def may_relaunch(binder: Binder, session: Session) -> bool:
    """True while a session that lost its server before ready may be started again."""
    return session.interruptions < binder.config.max_relaunches


def relaunch(binder: Binder, session: Session, reason: str) -> bool:
    """Start a session again whose current server a Spot interruption took before it was
    ready: on-demand when its capacity policy allows, Spot again when it does not.

    The move back to `built` is conditional on that server (task id and attempt), so of
    handlers racing on one loss exactly one relaunches and counts it; False for the others
    (the session is no longer as `session` says: read it again and decide again).
    """
    notice = "The cloud took back the server this session was starting on; starting another."
    moved = binder.store.transition(
        session.id,
        {session.state},
        S.BUILT,
        identity(session),
        task_id="",
        address="",
        url="",
        capacity="",
        interruptions=session.interruptions + 1,
        notices=[*session.notices, notice],
        updated_at=binder.clock.now(),
    )
    if moved is None:
        return False
    log.warning("session %s lost its server before ready (%s): relaunching", session.id, reason)
    launch(binder, session.id, again=True)
    return True


def policy_of(binder: Binder, event: Event | None) -> CapacityPolicy:
    return event.capacity if event is not None else binder.config.capacity


def _launch_request(binder: Binder, session: Session, record: Image | None) -> LaunchRequest:
    event = binder.store.get_event(session.event) if session.event else None
    policy = policy_of(binder, event)
    if session.interruptions and policy is CapacityPolicy.SPOT_FALLBACK:
        policy = CapacityPolicy.ON_DEMAND  # Spot just failed this session: do not wait on it
    return LaunchRequest(
        session_id=session.id,
        image_name=session.image_name,
        base_url=f"/s/{session.id}/",
        token=session.token,
        env=binder_env(session),
        task_definition=_prepared(binder, session.image_name, record),
        capacity=policy if (event is not None or session.interruptions) else None,
        cpu=event.cpu if event is not None else 0,
        memory_gb=event.memory_gb if event is not None else 0,
        # A warm session waits for its attendee longer than an idle server is kept.
        idle_timeout=int(binder.config.warm_lead * 2) if session.warm else 0,
        attempt=session.interruptions,
        content_url=session.repo_url if session.env_key else "",
        content_ref=session.ref if session.env_key else "",
    )


def _prepared(binder: Binder, name: str, record: Image | None) -> str:
    """The runner's handle for the image, prepared (and kept on its record) when missing."""
    record = record or binder.store.get_image(name)
    if record is not None and record.task_definition:
        return record.task_definition
    handle = binder.runner.prepare(name)
    if handle and record is not None and record.state == ImageState.BUILT:
        binder.store.update_image(
            name, {ImageState.BUILT}, ImageState.BUILT, task_definition=handle
        )
    return handle


def _start_failure(err: Exception) -> tuple[str, int]:
    if isinstance(err, QuotaExceededError):  # already says what to do
        return err.message, err.status_code
    if isinstance(err, SkybinderError):
        return f"Could not start the server: {err.message}", err.status_code
    return "Could not start the server: the runner failed", 500


def binder_env(session: Session) -> dict[str, str]:
    """The BINDER_* variables a session's server sees, as on mybinder.org."""
    return {
        "BINDER_REPO_URL": session.repo_url,
        "BINDER_REF_URL": session.ref_url,
        "BINDER_LAUNCH_HOST": session.launch_host,
        "BINDER_REQUEST": session.binder_request,
        "BINDER_PERSISTENT_REQUEST": session.binder_persistent_request,
        "BINDER_CLIENT_IP": session.client_ip,
    }
