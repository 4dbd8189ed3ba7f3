"""Keeping the session proxy's tasks running while sessions need them, and none when idle.

In AWS the proxy is an ECS service behind the load balancer. While it sleeps (no task) the
binder's idle cost is the load balancer's alone. A server about to start wakes it: both start
side by side, so a woken proxy adds little to that launch. The reaper, each minute, wakes it
while any session has a server (a wake that failed, an operator's change), and puts it to sleep
once no session is active and none has been admitted or ended for `proxy_idle` seconds.

Sleeping races a launch that is admitted meanwhile, whose wake may come before the sleep. So
the sleep reads the store's tally again after it: if anything moved, it wakes the proxy again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from skybinder.domain.model import RUNNING, Session, SessionState
from skybinder.service.binder import Binder
from skybinder.service.ports import AdmissionTally

log = logging.getLogger(__name__)
# Sessions that have (or are about to have) a server, which users reach through the proxy.
SERVED = RUNNING | {SessionState.STOPPING}


def wake_for_server(binder: Binder) -> None:
    """Before a session's server starts: have the proxy run. A failure is logged, never the
    launch's: the reaper wakes the proxy within a minute while servers run."""
    fleet = binder.proxy
    if fleet is None:
        return
    try:
        if fleet.wake():
            log.info("the session proxy was asleep: woken for a server that starts")
    except Exception:
        log.exception("waking the session proxy failed; the reaper will try again")


def tend_proxy(binder: Binder, active: Iterable[Session]) -> str:
    """The reaper's look at the proxy: "proxy-woken", "proxy-slept" or "" (nothing done).
    `active`: the active sessions, as the reaper has just listed them."""
    fleet = binder.proxy
    if fleet is None:
        return ""
    sessions = list(active)
    if any(s.state in SERVED for s in sessions):
        return "proxy-woken" if fleet.wake() else ""
    store = binder.store
    if sessions or not isinstance(store, AdmissionTally):
        return ""  # sessions waiting for a build keep it as it is: their start wakes it
    count, moved_at = store.tally()
    if count or binder.clock.now() - moved_at < binder.config.proxy_idle:
        return ""
    if not fleet.awake():
        return ""
    fleet.sleep()
    if store.tally() != (count, moved_at):  # a session admitted (or ended) meanwhile
        fleet.wake()
        return "proxy-woken"
    log.info("no session for %.0f s: the session proxy sleeps", binder.config.proxy_idle)
    return "proxy-slept"
