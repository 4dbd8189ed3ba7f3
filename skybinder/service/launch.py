"""Use cases that take a session from request to a started server: request_launch and the
build-finished event."""

from __future__ import annotations

import logging

from skybinder.domain.environment import environment_key
from skybinder.domain.errors import BuilderBusyError, QuotaExceededError, SkybinderError
from skybinder.domain.model import Image, ImageState, Limits, Session, SessionState
from skybinder.domain.naming import (
    env_image_name,
    image_name,
    new_claim,
    new_session_id,
    new_token,
)
from skybinder.domain.pricing import rates, worst_capacity
from skybinder.service.binder import Binder
from skybinder.service.build_control import take_over_dead_build
from skybinder.service.build_queue import wait_for_builder
from skybinder.service.builds import after_built, finish, on_build_finished, settle_waiting
from skybinder.service.launch_events import emit_launch_event
from skybinder.service.ports import BuildJob, ResolvedRepo
from skybinder.service.proxy_tasks import admit_while_awake, tends_proxy
from skybinder.service.servers import start_server

__all__ = [
    "admit",
    "admit_and_start",
    "find_or_build_image",
    "on_build_finished",
    "record_failed",
    "record_launch",
    "request_launch",
    "start_launch",
]

log = logging.getLogger(__name__)
S = SessionState
MAX_SPEC_CHARS = 1000  # a failed record keeps the spec for diagnosis, not an unbounded string


def request_launch(
    binder: Binder,
    provider: str,
    spec: str,
    *,
    build_only: bool = False,
    client_ip: str = "",
    launch_host: str = "",
    build_token: bool = False,
) -> Session:
    """Resolve, admit and start a launch (or only a build); return the recorded session.

    Never raises for bad input: a spec that does not parse, a ref that does not resolve or a
    full binder gives a session recorded as `failed` with a status code and a reason a person
    understands. Nothing is built or started for such a session.
    """
    session = record_launch(
        binder,
        provider,
        spec,
        build_only=build_only,
        client_ip=client_ip,
        launch_host=launch_host,
        build_token=build_token,
    )
    return start_launch(binder, session)


def record_launch(
    binder: Binder,
    provider: str,
    spec: str,
    *,
    build_only: bool = False,
    client_ip: str = "",
    launch_host: str = "",
    build_token: bool = False,
    resume_hash: str = "",
) -> Session:
    """Resolve and admit a launch, and record it (`launching` when its image is there, else
    `queued`), with `resume_hash`: what lets the page that asked reattach to it. Nothing is
    built or started yet: `start_launch` does that, after the page has its resume secret (and
    the reaper does, a minute on, if nobody did). Never raises, as `request_launch`."""
    now = binder.clock.now()
    session = Session(
        id=new_session_id(),
        provider=provider[:64],
        spec=spec[:MAX_SPEC_CHARS],
        build_only=build_only,
        client_ip=client_ip,
        launch_host=launch_host,
        build_token=build_token,
        resume_hash=resume_hash,
        created_at=now,
        updated_at=now,
    )
    try:
        resolved = binder.resolver.resolve(provider, spec)
    except SkybinderError as err:
        return record_failed(binder, session, err)
    session = _with_resolution(binder, session, resolved)
    try:
        # A build-only launch counts too: it runs a build on the binder's machine or account.
        return admit(binder, session, _limits(binder, resolved))
    except QuotaExceededError as err:
        return record_failed(binder, session, err)


def admit(binder: Binder, session: Session, limits: Limits | None) -> Session:
    """Insert `session`, admitted by the store under `limits` and its event's seats and
    budget (QuotaExceededError and the event errors pass through); return it as inserted.

    A session whose image is there is written as `launching` at once (`built`, when it only
    builds), one write instead of three: every call counts for a launch in the cloud. Where
    the session proxy sleeps when idle, the same write checks that it is awake (proxy_tasks.py).
    """
    name = session.image_name
    record = binder.store.get_image(name)
    if in_registry(binder, name, record):
        if session.env_key:  # a shared image: say whose build's environment it reuses
            session = with_reuse(session, record)
        now = binder.clock.now()
        state = S.BUILT if session.build_only else S.LAUNCHING
        started = {} if session.build_only else {"launched_at": now}
        session = session.model_copy(
            update={"state": state, "updated_at": now, "image_found": True, **started}
        )
        if not session.build_only:
            admit_while_awake(binder, session, limits)
            return session.with_admitted_image(record)
    binder.store.create(session, limits)
    return session


def start_launch(binder: Binder, session: Session) -> Session:
    """Take a recorded session as far as it goes now: a `launching` one to its server, a
    `queued` one into its image's build (or to its server, when the image is there)."""
    if session.state == S.LAUNCHING and not session.task_id:
        # Admitted a moment ago while the session proxy was marked awake (it stays so while
        # any session is active): nothing more to check before its server starts.
        awake = session.image_found and tends_proxy(binder)
        started = start_server(binder, session, session.admitted_image, proxy_awake=awake)
        return started or session
    if session.state == S.BUILT:
        after_built(binder, session, None)
        return binder.store.get(session.id) or session
    if session.state == S.QUEUED:
        # Recorded `queued` a moment ago because the registry had no image: not asked again
        # (an image that appeared meanwhile came with its record, which the build joins).
        record = binder.store.get_image(session.image_name)
        find_or_build_image(binder, session, record=record, present=False)
        return binder.store.get(session.id) or session
    return session


def admit_and_start(binder: Binder, session: Session, limits: Limits | None) -> Session:
    """Insert `session` (as `admit`) and take it as far as it goes now (as `start_launch`)."""
    return start_launch(binder, admit(binder, session, limits))


def in_registry(binder: Binder, name: str, record: Image | None) -> bool:
    """Is the image there to launch? A record of it built less than `image_trust` ago says
    so without asking the registry (a call saved on every launch of a fresh image); an older
    one, or none, is checked. A record that lied (the image was deleted by hand) is corrected
    when its server cannot pull it (sessions.py), so the launch after that builds it again."""
    trust = binder.config.image_trust
    if trust and record is not None and record.state == ImageState.BUILT:
        built = record.finished_at or record.created_at
        if 0 <= binder.clock.now() - built < trust:
            return True
    return binder.registry.has(name)


def with_reuse(session: Session, record: Image | None) -> Session:
    """The session, saying which build's environment it reuses when that build was of another
    commit or repository (its server fetches its own commit at start)."""
    if record is None or (record.repo_url, record.ref) == (session.repo_url, session.ref):
        return session
    notice = f"Reusing the environment built for {record.built_from}"
    log.info("session %s: %s", session.id, notice)
    return session.model_copy(
        update={
            "reused_from": f"{record.repo_url}@{record.ref}",
            "notices": [*session.notices, notice],
        }
    )


def _limits(binder: Binder, resolved: ResolvedRepo) -> Limits:
    """The service's limits, with the repository's own quota when the operator set one."""
    if resolved.quota is None:
        return binder.config.limits
    return binder.config.limits.model_copy(update={"max_sessions_per_repo": resolved.quota})


def _with_resolution(binder: Binder, session: Session, resolved: ResolvedRepo) -> Session:
    prefix = binder.config.image_prefix
    key = ""
    if resolved.env_digest and binder.config.builder_version:
        key = environment_key(resolved.env_digest, binder.config.builder_version)
    name = env_image_name(prefix, key) if key else image_name(prefix, resolved.slug, resolved.ref)
    return session.model_copy(
        update={
            "repo_url": resolved.repo_url,
            "ref": resolved.ref,
            "ref_url": resolved.ref_url,
            "resolved_spec": resolved.resolved_spec,
            "repo_key": resolved.repo_key,
            "image_name": name,
            "env_key": key,
            "token": "" if session.build_only else new_token(),
            "hourly_micros": 0 if session.build_only else _hourly(binder),
            "notices": list(resolved.notices),
        }
    )


def _hourly(binder: Binder) -> int:
    """What a session outside events costs per hour where it may land at worst (0 where
    sessions are free): its cost is settled as it ends, for the operator's figures."""
    cfg = binder.config
    if not cfg.session_cpu:
        return 0
    rate = rates(cfg.prices, cfg.session_cpu, cfg.session_memory_gb)
    return rate[worst_capacity(cfg.capacity)]


def record_failed(binder: Binder, session: Session, err: SkybinderError) -> Session:
    failed = session.model_copy(
        update={
            "state": S.FAILED,
            "reason": err.message,
            "status_code": err.status_code,
            "ended_at": session.created_at,
            "token": "",
            "resume_hash": "",  # nothing to reattach to
        }
    )
    binder.store.create(failed)
    emit_launch_event(failed, "failure", failed.created_at)
    return failed


def find_or_build_image(
    binder: Binder,
    session: Session,
    *,
    record: Image | None = None,
    present: bool | None = None,
) -> None:
    """Move a queued session on: to `built` (and its server) when the image exists, else
    into the image's build, started here unless another session's build is running.
    `record` and `present`: the image's record and registry check, when the caller has them.
    """
    name = session.image_name
    if present is None:
        record = binder.store.get_image(name)
        present = binder.registry.has(name)
    if present:
        built = binder.store.transition(
            session.id, {S.QUEUED}, S.BUILT, updated_at=binder.clock.now()
        )
        if built is not None:
            after_built(binder, built, record)
        return
    if record is not None and record.state == ImageState.BUILT:
        # The record outlived the image (deleted from the registry): build it again.
        binder.store.update_image(name, {ImageState.BUILT}, ImageState.FAILED, reason="missing")
    take_over_dead_build(binder, record)  # a crash mid-build left the record `building`
    now = binder.clock.now()
    image = Image(
        name=name,
        repo_url=session.repo_url,
        ref=session.ref,
        created_at=now,
        env_key=session.env_key,
        claim=new_claim(),
    )
    if binder.store.claim_build(image):
        _start_build(binder, session, image.claim)
    binder.store.transition(session.id, {S.QUEUED}, S.BUILDING, updated_at=now)
    # The build may have ended between the claim and our move to `building`, in which case
    # on_build_finished did not see this session: settle it from the image record.
    record = binder.store.get_image(name)
    if record is not None and record.state != ImageState.BUILDING:
        settle_waiting(binder, session.id, record)


def _start_build(binder: Binder, session: Session, claim: str) -> None:
    job = BuildJob(
        image_name=session.image_name,
        repo_url=session.repo_url,
        ref=session.ref,
        provider=session.provider,
        claim=claim,
    )
    try:
        build_id = binder.builder.start(job)
    except BuilderBusyError:  # not a failure: the build waits, and the reaper starts it
        log.info("the builder is busy: the build of %s is queued", session.image_name)
        wait_for_builder(binder, session.image_name)
        return
    except Exception as err:  # any builder fault must end the build, not strand it
        log.exception("starting the build of %s failed", session.image_name)
        reason = err.message if isinstance(err, SkybinderError) else "the builder is unavailable"
        record = binder.store.get_image(session.image_name)
        if record is not None:
            finish(binder, record, ok=False, reason=reason, where=_unstarted(claim, ""))
        return
    # Only while the claim is still this launch's: one taken over as stale keeps its own build.
    binder.store.update_image(
        session.image_name,
        {ImageState.BUILDING},
        ImageState.BUILDING,
        _unstarted(claim, ""),
        build_id=build_id,
    )


def _unstarted(claim: str, mark: str) -> dict[str, object]:
    """The condition on an image record whose build (of `claim`) has not started yet."""
    return {"build_id": "", "claim": claim, "reason": mark}
