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

# Every write moves the session along its state machine, which has fewer states than this;
# the bound only keeps a store that misbehaves from looping forever.
MAX_ATTEMPTS = 16


def resume_digest(secret: str) -> str:
    """The stored form of a resume secret. The secret is 256 random bits, so a plain hash is
    as strong as a slow one would be."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def attach_resume(binder: Binder, session_id: str) -> str | None:
    """Give a live session a new resume secret and return it; None when it already ended.

    The hash is written with the session's current state as the expected one, so a launch
    moving on at the same moment is never overwritten: the write is simply tried again.
    """
    secret = secrets.token_urlsafe(32)
    digest = resume_digest(secret)
    for _ in range(MAX_ATTEMPTS):
        session = binder.store.get(session_id)
        if session is None or session.state.terminal:
            return None
        state = session.state
        if binder.store.transition(session_id, {state}, state, resume_hash=digest) is not None:
            return secret
    return None


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
