"""Use cases that take a session from request to a started server: request_launch and the
build-finished event."""

from __future__ import annotations

import logging

from skybinder.domain.environment import environment_key
from skybinder.domain.errors import BuilderBusyError, QuotaExceededError, SkybinderError
from skybinder.domain.model import Image, ImageState, Limits, Session, SessionState
from skybinder.domain.naming import env_image_name, image_name, new_session_id, new_token
from skybinder.domain.pricing import rates, worst_capacity
from skybinder.service.binder import Binder
from skybinder.service.build_control import take_over_dead_build
from skybinder.service.build_queue import wait_for_builder
from skybinder.service.ending import fail
from skybinder.service.launch_events import emit_launch_event
from skybinder.service.ports import BuildJob, ResolvedRepo
from skybinder.service.proxy_tasks import admit_while_awake
from skybinder.service.servers import launch, start_server

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
    now = binder.clock.now()
    session = Session(
        id=new_session_id(),
        provider=provider[:64],
        spec=spec[:MAX_SPEC_CHARS],
        build_only=build_only,
        client_ip=client_ip,
        launch_host=launch_host,
        build_token=build_token,
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
        return admit_and_start(binder, session, _limits(binder, resolved))
    except QuotaExceededError as err:
        return record_failed(binder, session, err)


def admit_and_start(binder: Binder, session: Session, limits: Limits | None) -> Session:
    """Insert `session` (admitted by the store under `limits`, and its event's seats and
    budget; QuotaExceededError and the event errors pass through) and take it as far as it
    goes now: to its server when the image is there, else into the image's build.

    A session whose image is there is written as `launching` at once, one write instead of
    three: every call counts for a launch in the cloud. Where the session proxy sleeps when
    idle, the same write checks that it is awake (proxy_tasks.py).
    """
    name = session.image_name
    record = binder.store.get_image(name)
    present = in_registry(binder, name, record)
    if present and session.env_key:
        session = with_reuse(session, record)
    if present and not session.build_only:
        now = binder.clock.now()
        launching = session.model_copy(
            update={
                "state": S.LAUNCHING,
                "launched_at": now,
                "updated_at": now,
                "image_found": True,
            }
        )
        checked = admit_while_awake(binder, launching, limits)
        return start_server(binder, launching, record, proxy_awake=checked) or launching
    binder.store.create(session, limits)
    find_or_build_image(binder, session, record=record, present=present)
    return binder.store.get(session.id) or session


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
            _after_built(binder, built, record)
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
    )
    if binder.store.claim_build(image):
        _start_build(binder, session)
    binder.store.transition(session.id, {S.QUEUED}, S.BUILDING, updated_at=now)
    # The build may have ended between the claim and our move to `building`, in which case
    # on_build_finished did not see this session: settle it from the image record.
    record = binder.store.get_image(name)
    if record is not None and record.state != ImageState.BUILDING:
        _settle_waiting(binder, session.id, record)


def _start_build(binder: Binder, session: Session) -> None:
    job = BuildJob(
        image_name=session.image_name,
        repo_url=session.repo_url,
        ref=session.ref,
        provider=session.provider,
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
        on_build_finished(binder, session.image_name, ok=False, reason=reason)
        return
    # Only while the claim is still this launch's: one taken over as stale keeps its own build.
    binder.store.update_image(
        session.image_name,
        {ImageState.BUILDING},
        ImageState.BUILDING,
        {"build_id": "", "reason": ""},
        build_id=build_id,
    )


def on_build_finished(
    binder: Binder, name: str, *, ok: bool, reason: str = "", build_id: str = ""
) -> None:
    """The build of image `name` ended: launch (or finish) every session waiting for it.

    With `build_id`, news of another build of the image (an earlier one, delivered late)
    changes nothing. Safe to receive twice: the image is prepared and settled once.
    """
    record = binder.store.get_image(name)
    if record is None or not _is_current(record, build_id):
        return
    if record.state == ImageState.BUILDING:
        changes: dict[str, object] = {"reason": reason, "finished_at": binder.clock.now()}
        if ok:
            changes["task_definition"] = _prepare(binder, name)
        new = ImageState.BUILT if ok else ImageState.FAILED
        record = binder.store.update_image(name, {ImageState.BUILDING}, new, **changes)
        record = record or binder.store.get_image(name)
        if record is None:
            return
    for session in binder.store.list({S.BUILDING}, image_name=name):
        _settle_waiting(binder, session.id, record)


def _is_current(record: Image, build_id: str) -> bool:
    # A record without a build id yet is the build that just started: accept its news.
    return not build_id or not record.build_id or record.build_id == build_id


def _prepare(binder: Binder, name: str) -> str:
    try:
        return binder.runner.prepare(name)
    except Exception:  # the image is built all the same; a launch prepares it again
        log.exception("preparing image %s for launch failed", name)
        return ""


def _settle_waiting(binder: Binder, session_id: str, record: Image) -> None:
    if record.state == ImageState.FAILED:
        message = f"The build of this repository failed: {record.reason or 'see the log above'}"
        fail(binder, session_id, message, status_code=500, expected={S.BUILDING})
        return
    now = binder.clock.now()
    built = binder.store.transition(session_id, {S.BUILDING}, S.BUILT, updated_at=now)
    if built is not None:
        _after_built(binder, built, record)


def _after_built(binder: Binder, session: Session, record: Image | None) -> None:
    if session.build_only:
        now = binder.clock.now()
        binder.store.transition(
            session.id, {S.BUILT}, S.STOPPED, reason="build only", ended_at=now, updated_at=now
        )
        return
    launch(binder, session.id, record)
