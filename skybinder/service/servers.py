"""Starting a session's server: the first launch, and a relaunch after a Spot interruption
took the server before it was ready."""

from __future__ import annotations

import logging

from skybinder.domain.errors import QuotaExceededError, RunnerBusyError, SkybinderError
from skybinder.domain.event import Event
from skybinder.domain.model import CapacityPolicy, Image, ImageState, Session, SessionState
from skybinder.service.binder import Binder
from skybinder.service.ending import fail
from skybinder.service.ports import LaunchRequest
from skybinder.service.proxy_tasks import ensure_proxy

log = logging.getLogger(__name__)
S = SessionState
BEFORE_READY = frozenset({S.LAUNCHING, S.STARTING})


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
    """Start the task of a `launching` session; return it as it is then (`starting`, or
    `failed` when it could not start; None if it moved on meanwhile). `proxy_awake`: the
    session was admitted while the session proxy was marked awake (nothing to check)."""
    session_id = session.id
    if not proxy_awake:
        ensure_proxy(binder)  # its users reach it through the proxy: both start side by side
    try:
        task_id = binder.runner.start(_launch_request(binder, session, record))
    except RunnerBusyError as err:  # throttled: started again by the reaper, not failed
        log.warning("launch of %s throttled: %s", session_id, err.message)
        return _later(binder, session, err.message)
    except Exception as err:  # a runner fault fails this session, never the caller
        reason, status = _start_failure(err)
        if isinstance(err, QuotaExceededError):
            log.warning("launch of %s refused: %s", session_id, reason)
        else:
            log.exception("starting session %s failed", session_id)
        return fail(binder, session_id, reason, status_code=status)
    started = binder.store.transition(
        session_id, {S.LAUNCHING, S.STARTING}, S.STARTING, task_id=task_id
    )
    if started is None:
        # Stopped or failed while we were starting it: do not leave the task behind.
        binder.runner.stop(task_id)
    return started


def _later(binder: Binder, session: Session, notice: str) -> Session | None:
    """Back to `built`, told why: the reaper starts a session left built after a minute (its
    first launch's time is kept, as for a relaunch: its deadline still holds)."""
    notices = session.notices if notice in session.notices else [*session.notices, notice]
    return binder.store.transition(
        session.id, {S.LAUNCHING}, S.BUILT, notices=notices, updated_at=binder.clock.now()
    )


def relaunch(binder: Binder, session: Session, task_id: str, reason: str) -> bool:
    """Start a session again whose server (`task_id`) a Spot interruption took before it was
    ready: on-demand when its capacity policy allows, Spot again when it does not. False when
    it may not be relaunched (it met too many interruptions, or `task_id` is not its server).
    """
    if session.task_id != task_id or session.interruptions >= binder.config.max_relaunches:
        return False
    notice = "The cloud took back the server this session was starting on; starting another."
    moved = binder.store.transition(
        session.id,
        BEFORE_READY,
        S.BUILT,
        task_id="",
        address="",
        url="",
        capacity="",
        interruptions=session.interruptions + 1,
        notices=[*session.notices, notice],
        updated_at=binder.clock.now(),
    )
    if moved is None:
        return True  # it moved on meanwhile (stopped, failed or relaunched): nothing to do
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
