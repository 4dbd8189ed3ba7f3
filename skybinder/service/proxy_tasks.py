"""Keeping the session proxy's tasks running while sessions need them, and none when idle.

In AWS the proxy is an ECS service behind the load balancer. While it sleeps (no task) the
binder's idle cost is the load balancer's alone. The store marks it awake or asleep
(ProxyMarks), so that the decisions are atomic with admission:

- a session whose image is there starts at once, so it is admitted only while the proxy is
  marked awake (Limits.proxy_awake): a cached launch asks nothing more. When the proxy sleeps,
  its admission is refused with ProxyAsleepError: the proxy is marked awake, woken, and the
  session admitted again; server and proxy then start side by side;
- a session that starts later (after its build, a relaunch) reads the mark first;
- the reaper, each minute, wakes the proxy while any server runs and it is not running (a wake
  that failed, an operator's change), and marks it asleep (then stops its tasks) only in the
  store's transaction that finds no session active and none admitted or ended for
  `proxy_idle` (tasks started by hand while it is marked asleep are stopped too). A launch
  that marks it awake meanwhile is seen after the sleep: the proxy is woken again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from skybinder.domain.errors import ProxyAsleepError
from skybinder.domain.model import RUNNING, Limits, Session, SessionState
from skybinder.service.binder import Binder
from skybinder.service.ports import ProxyMarks

log = logging.getLogger(__name__)
# Sessions that have (or are about to have) a server, which users reach through the proxy.
SERVED = RUNNING | {SessionState.STOPPING}


def tends_proxy(binder: Binder) -> bool:
    """True when the binder's proxy is a fleet whose state the store marks (AWS)."""
    return binder.proxy is not None and isinstance(binder.store, ProxyMarks)


def wake_proxy(binder: Binder) -> None:
    """Mark the proxy awake, then have its tasks run. A failure is logged, never the caller's:
    the reaper wakes the proxy within a minute while servers run."""
    fleet, store = binder.proxy, binder.store
    if fleet is None:
        return
    try:
        if isinstance(store, ProxyMarks):
            store.mark_proxy_awake()
        fleet.wake()
        log.info("the session proxy is woken")
    except Exception:
        log.exception("waking the session proxy failed; the reaper will try again")


def admit_while_awake(binder: Binder, session: Session, limits: Limits | None) -> bool:
    """Insert a session that starts at once, admitted only while the proxy is marked awake
    where it can sleep; a refusal for that (never shown) wakes it and admits again (other
    refusals pass through). True when the session needs no check of the proxy before its
    server starts."""
    if not tends_proxy(binder):
        binder.store.create(session, limits)
        return False
    checked = (limits or Limits()).model_copy(update={"proxy_awake": True})
    try:
        binder.store.create(session, checked)
        return True
    except ProxyAsleepError:
        wake_proxy(binder)
    binder.store.create(session, limits)  # its wake is under way, or the reaper's to make
    return True


def ensure_proxy(binder: Binder) -> None:
    """Before a server starts that was admitted without the proxy's mark: wake the proxy
    unless the store says it is awake."""
    store = binder.store
    if binder.proxy is None:
        return
    try:
        awake = isinstance(store, ProxyMarks) and store.proxy_awake()
    except Exception:
        log.exception("reading the session proxy's mark failed")
        awake = False
    if not awake:
        wake_proxy(binder)


def tend_proxy(binder: Binder, active: Iterable[Session]) -> str:
    """The reaper's look at the proxy: "proxy-woken", "proxy-slept" or "" (nothing done).
    `active`: the active sessions, as the reaper has just listed them."""
    fleet, store = binder.proxy, binder.store
    if fleet is None or not isinstance(store, ProxyMarks):
        return ""
    sessions = list(active)
    if any(s.state in SERVED for s in sessions):
        if fleet.awake() and store.proxy_awake():
            return ""
        wake_proxy(binder)
        return "proxy-woken"
    if sessions:
        return ""  # sessions waiting for a build keep it as it is: their start wakes it
    quiet_since = binder.clock.now() - binder.config.proxy_idle
    # Marked asleep now, or already: then only tasks started by hand are left to stop.
    marked = store.mark_proxy_asleep(quiet_since)
    if not marked and (store.proxy_awake() or not fleet.awake()):
        return ""
    fleet.sleep()
    if store.proxy_awake():  # a launch marked it awake meanwhile: its wake may have come first
        fleet.wake()
        return "proxy-woken"
    log.info("no session for %.0f s: the session proxy sleeps", binder.config.proxy_idle)
    return "proxy-slept"
