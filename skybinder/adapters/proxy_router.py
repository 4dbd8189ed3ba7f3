"""ProxyRouter: sessions served by the session proxy at `<public URL>/s/<id>/`. The route is
the session's address in the store, which the proxy reads; nothing is built per session."""

from __future__ import annotations

from collections.abc import Callable

from skybinder.domain.model import Session


class ProxyRouter:
    """Names session URLs on the binder's own site.

    `public_url`: the binder's public URL (a value, or a function read when needed), or ""
    to use the URL each launch request came in on (`session.launch_host`), as BinderHub
    does; `fallback`: the URL for a session started with no request (a warm one), when
    neither is known. The machine's own host name is never guessed: it may not resolve for
    the users, and it would name the machine to them.

    `probe_direct`: readiness is checked straight at the server's address (locally, where
    the binder reaches it on loopback); False checks it the way users reach it, through the
    public URL and the proxy (in AWS, where the functions run outside the sessions' VPC).
    """

    def __init__(
        self,
        public_url: str | Callable[[], str] = "",
        fallback: str = "",
        *,
        probe_direct: bool = True,
    ) -> None:
        self._public_url = public_url
        self.fallback = fallback
        self.probe_direct = probe_direct

    def public_url(self) -> str:
        value = self._public_url
        return value() if callable(value) else value

    def url(self, session: Session) -> str:
        base = self.public_url() or session.launch_host or self.fallback
        return f"{base.rstrip('/')}/s/{session.id}/"

    def probe_url(self, session: Session) -> str:
        """Straight to the server when `probe_direct` (the proxy forwards there too): the
        public URL may not be reachable from the binder itself, e.g. behind a TLS terminator
        on another host. Otherwise the session's public URL: `ready` then means the user's
        whole path answers — the load balancer, a running proxy, and the server."""
        if self.probe_direct and session.address:
            return f"http://{session.address}/s/{session.id}/"
        return session.url or self.url(session)
