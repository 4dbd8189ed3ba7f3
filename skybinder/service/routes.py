"""A session's route. Sessions are served by the session proxy, which forwards `/s/<id>/` to
the address the store holds for the session: recording the address is routing it. A router
that builds a route per session instead (RouteProvisioner: the ALB router) is asked for
capacity, a route and its removal here, so the use cases need not know which kind they have.
"""

from __future__ import annotations

from skybinder.domain.model import Session
from skybinder.service.binder import Binder
from skybinder.service.ports import RouteProvisioner


def id_prefix(binder: Binder) -> str:
    """The prefix a new session's id needs to be routed ("" for the session proxy)."""
    router = binder.router
    return router.id_prefix() if isinstance(router, RouteProvisioner) else ""


def reserve(binder: Binder, session_id: str) -> str:
    """Claim routing capacity before a server starts; the route's handle ("" for the proxy,
    which needs none). QuotaExceededError when a provisioning router is full."""
    router = binder.router
    return router.reserve(session_id) if isinstance(router, RouteProvisioner) else ""


def open_route(binder: Binder, session: Session, address: str) -> str:
    """Route the session to its server at `address` ("host:port"); its public URL."""
    router = binder.router
    if isinstance(router, RouteProvisioner):
        return router.add(session.id, address, session.route)
    return router.url(session.model_copy(update={"address": address}))


def close_route(binder: Binder, session: Session) -> None:
    """Remove the session's route: a provisioned one is deleted; the proxy's ends with the
    session's state (it routes only starting, ready and stopping sessions)."""
    router = binder.router
    if isinstance(router, RouteProvisioner):
        router.remove(session.id, session.route)


def probe_url(binder: Binder, session: Session) -> str:
    """Where readiness of the session's server is checked."""
    return binder.router.probe_url(session)
