"""Steps of a periodic pass (the reaper's) that must not stop the pass when one fails."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger("skybinder.service.reap")


@contextmanager
def isolated(done: Counter[str], what: str, *args: object) -> Iterator[None]:
    """Run one step; a fault is logged with `what` (a %-format of `args`) and counted in
    `done` as an `error`, not raised: one session's throttled call or a store that kept
    changing must not keep the pass from the others, whose deadlines are as due."""
    try:
        yield
    except Exception:
        log.exception("the reaper failed on " + what, *args)
        done["error"] += 1
