"""Resume secrets: what lets the page that started a launch reattach to it after a drop.

A session id is public (it is in every `/s/<id>/` link people share), while the stream of a
launch ends with the session's token. So reattaching needs more than the id: the stream that
starts a launch hands its page a random secret, and only its hash is stored on the session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterator

from skybinder.domain.model import Progress, Session
from skybinder.service.binder import Binder
from skybinder.service.launch import start_launch
from skybinder.service.watch import Watcher, watch

WAITING = Progress(phase="waiting", message="Waiting for build to start...\n")


def resume_digest(secret: str) -> str:
    """The stored form of a resume secret. The secret is 256 random bits, so a plain hash is
    as strong as a slow one would be."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def may_resume(session: Session, secret: str) -> bool:
    """True when `secret` is the session's resume secret (compared in constant time)."""
    if not session.resume_hash or not secret:
        return False
    return hmac.compare_digest(session.resume_hash, resume_digest(secret))


def with_resume(
    events: Iterator[Progress | None], session_id: str, secret: str | None
) -> Iterator[Progress | None]:
    """`events`, the first of them carrying the session's id and its resume secret."""
    pending = secret is not None
    for event in events:
        if pending and event is not None:
            pending = False
            extra = {**event.extra, "session_id": session_id, "resume": secret}
            event = event.model_copy(update={"extra": extra})
        yield event


def new_resume_secret() -> str:
    """A secret for the page that starts a launch (its hash goes on the session)."""
    return secrets.token_urlsafe(32)


def launch_stream(binder: Binder, session: Session, secret: str) -> Iterator[Progress | None]:
    """The /build stream of a launch just recorded (with `resume_digest(secret)` on it): its
    first event, carrying the session's id and the resume secret, goes out before the launch
    starts anything, so a page that loses the stream at any later moment reattaches to this
    launch instead of starting another. Then the start, then the progress, as `watch`."""
    watcher = Watcher(binder, session.id)
    first, over = watcher.step(session)
    if not first:  # queued: its build is found or started next
        first = watcher.once("waiting", WAITING)
    resumable = secret if session.resume_hash and not session.state.terminal else None
    yield from with_resume(iter(first), session.id, resumable)
    if over:
        return
    start_launch(binder, session)
    yield from watch(binder, session.id, watcher)
