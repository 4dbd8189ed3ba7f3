"""The `end_previous_run` use case: what a binder that stopped (or crashed) left unfinished.

Run once as a one-machine binder starts, before it serves anything and after the platform
has ended the processes of its previous run: no session of that run has a server or a build
any more, and no client still watches it.
"""

from __future__ import annotations

from collections import Counter

from skybinder.domain.model import ACTIVE, SessionState, TaskStatus
from skybinder.service.binder import Binder
from skybinder.service.build_control import take_over_dead_build
from skybinder.service.ending import fail
from skybinder.service.sessions import on_task_state

S = SessionState
RESTARTED = "the local binder restarted"
NOT_READY = "The local binder restarted before this launch was ready. Launch it again."


def end_previous_run(binder: Binder) -> Counter[str]:
    """End every active session of the previous run — `stopped` when it had a server,
    `failed` (503) when it had not got that far — and reset the builds it left `building`,
    so that launching the same commit again builds it anew. Returns what it did, by kind."""
    done: Counter[str] = Counter()
    sessions = binder.store.list(ACTIVE)
    for name in {s.image_name for s in sessions if s.state in {S.QUEUED, S.BUILDING}}:
        if take_over_dead_build(binder, binder.store.get_image(name)):
            done["build-reset"] += 1
    for session in sessions:
        if session.task_id:
            status = TaskStatus.STOPPED
            on_task_state(binder, session.id, session.task_id, status, reason=RESTARTED)
            done["server-ended"] += 1
        elif fail(binder, session.id, NOT_READY, status_code=503) is not None:
            done["launch-ended"] += 1
    return done
