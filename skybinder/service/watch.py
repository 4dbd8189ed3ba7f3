"""The `watch` use case: relay a session's progress as BinderHub /build events.

The stream only observes the session record (and the build log); it never drives the launch,
so a client that disconnects never breaks it. It does probe a starting server, because
readiness is observed, not announced.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from skybinder.domain.model import Progress, Session, SessionState
from skybinder.service.binder import Binder
from skybinder.service.sessions import check_ready

S = SessionState
# Phases BinderHub clients know; a log line with any other phase is relayed as `building`,
# because at least one client exits on a phase it does not know.
LOG_PHASES = frozenset({"waiting", "fetching", "building", "pushing"})
AFTER_BUILD = frozenset({S.BUILT, S.LAUNCHING, S.STARTING, S.READY})


def log_line_event(line: str) -> Progress:
    """A builder log line (repo2docker JSON, or plain text) as a progress event."""
    try:
        data = json.loads(line)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return Progress(phase="building", message=line.rstrip("\n") + "\n")
    phase = str(data.get("phase", "building")).lower()
    message = str(data.get("message", ""))
    return Progress(phase=phase if phase in LOG_PHASES else "building", message=message)


class _Watcher:
    """Remembers what was already sent, so every event goes out once."""

    def __init__(self, binder: Binder, session_id: str) -> None:
        self.binder = binder
        self.session_id = session_id
        self.cursor: str | None = None
        self.build_id: str | None = None
        self.sent: set[str] = set()

    def once(self, key: str, progress: Progress) -> list[Progress]:
        if key in self.sent:
            return []
        self.sent.add(key)
        return [progress]

    def waited_for(self, session: Session) -> str:
        """The id of the build this session waited for, or "" when it did not wait (yet)."""
        if self.build_id is None and session.image_found:
            self.build_id = ""  # launched from an image that was there: nothing to read
        if self.build_id is None and session.state != S.QUEUED and not session.refused_attempt:
            image = self.binder.store.get_image(session.image_name)
            if image is None or not image.build_id:
                return ""  # not known yet: the build may be starting
            # A build that ended before this session was created is not this session's wait.
            during = image.finished_at is None or image.finished_at >= session.created_at
            self.build_id = image.build_id if during else ""
        return self.build_id or ""

    def build_log(self, build_id: str) -> list[Progress]:
        chunk = self.binder.builder.logs(build_id, self.cursor)
        self.cursor = chunk.cursor
        return [log_line_event(line) for line in chunk.lines]

    def step(self, session: Session) -> tuple[list[Progress], bool]:
        """Events for the session's current state, and whether the stream is over."""
        out: list[Progress] = []
        for notice in session.notices:
            out += self.once(notice, Progress(phase="waiting", message=notice + "\n"))
        build_id = self.waited_for(session)
        if session.state == S.BUILDING or build_id:
            message = "Waiting for build to start...\n"
            out += self.once("waiting", Progress(phase="waiting", message=message))
        if build_id:
            out += self.build_log(build_id)
        if session.state in AFTER_BUILD or (session.build_only and session.state == S.STOPPED):
            out += self.once("built", built_event(session, fresh=bool(build_id)))
        if session.state in {S.LAUNCHING, S.STARTING, S.READY}:
            message = f"Launching server for {session.repo_url}...\n"
            out += self.once("launching", Progress(phase="launching", message=message))
        if session.state == S.STARTING:
            message = "Server started, waiting for it to answer...\n"
            out += self.once("starting", Progress(phase="launching", message=message))
        end = end_event(session)
        return ([*out, end], True) if end is not None else (out, False)


def built_event(session: Session, *, fresh: bool) -> Progress:
    message = "Built image, launching...\n" if fresh else "Found built image, launching...\n"
    extra: dict[str, object] = {"imageName": session.image_name, "session_id": session.id}
    return Progress(phase="built", message=message, extra=extra)


def end_event(session: Session) -> Progress | None:
    """The last event of the stream, once the session has got where it is going."""
    if session.state == S.READY:
        return ready_event(session)
    if session.build_only and session.state == S.STOPPED:
        extra: dict[str, object] = {"imageName": session.image_name}
        return Progress(phase="ready", message="Done! Image built.\n", extra=extra)
    if session.state in {S.FAILED, S.STOPPED, S.STOPPING}:
        reason = session.reason or "the session ended"
        if session.state != S.FAILED:
            reason = f"The session stopped before it was ready: {reason}"
        extra = {"status_code": session.status_code or 500, "session_id": session.id}
        return Progress(phase="failed", message=reason.rstrip("\n") + "\n", extra=extra)
    return None


def ready_event(session: Session) -> Progress:
    extra: dict[str, object] = {
        "url": session.url,
        "token": session.token,
        "image": session.image_name,
        "repo_url": session.repo_url,
        "binder_ref_url": session.ref_url,
        "binder_launch_host": session.launch_host,
        "binder_request": session.binder_request,
        "binder_persistent_request": session.binder_persistent_request,
        "binder_client_ip": session.client_ip,
        "session_id": session.id,
    }
    return Progress(phase="ready", message=f"server running at {session.url}\n", extra=extra)


def watch(binder: Binder, session_id: str) -> Iterator[Progress | None]:
    """Yield the session's progress events until `ready` or `failed` (the last one yielded).

    Between events it yields None once per poll, so a caller can send keepalives.
    """
    watcher = _Watcher(binder, session_id)
    while True:
        session = binder.store.get(session_id)
        if session is None:
            yield Progress(phase="failed", message="No such session.\n", extra={"status_code": 404})
            return
        if session.state == S.STARTING:
            session = check_ready(binder, session_id, session) or session
        events, over = watcher.step(session)
        yield from events
        if over:
            return
        yield None
        binder.clock.sleep(binder.config.poll_interval)
