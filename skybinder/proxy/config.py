"""Settings of the session proxy, with the defaults a deployment runs with."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProxyConfig:
    """How the proxy caches routes, records activity, waits on servers and shuts down.

    Times are seconds. The defaults suit AWS and the local binder alike; tests shorten them.
    """

    # A route read from the store is used for this long: a session that stops is no longer
    # routed after at most this long (its server is gone at once anyway, which a failed
    # connection notices and evicts).
    route_ttl: float = 5.0
    # Answers that route nowhere: unknown ids (a new session is never unknown: its id is
    # handed out after it is stored) and sessions not started yet, which a launch page
    # reloads into; ended sessions, which never come back, for longer.
    negative_ttl: float = 2.0
    ended_ttl: float = 60.0
    max_routes: int = 20_000  # routes cached at most (the least recently used go first)
    store_threads: int = 8  # store reads and writes run in these threads (they block)
    # Activity is written to the store at most once per session per this interval.
    activity_interval: float = 60.0
    connect_timeout: float = 10.0  # to a session's server
    # Silence from a server (before its headers, or between two reads of its body) that ends
    # the request with a 504; WebSockets ping instead, every `heartbeat`.
    read_timeout: float = 300.0
    heartbeat: float = 30.0
    client_message_limit: int = 64 * 2**20  # bytes of one WebSocket message from a client
    server_message_limit: int = 512 * 2**20  # ... and from a server (large outputs)
    shutdown_timeout: float = 10.0  # open requests get this long to finish at shutdown
    # Incoming X-Forwarded-* headers are kept (and the peer appended) only behind a load
    # balancer that sets them; otherwise the proxy sets them from the connection itself.
    trust_forwarded: bool = False
    # The binder's own app behind the proxy (local mode: one port for both): everything not
    # under /s/ goes there. "unix:<path>" or "http://host:port"; "" for none (AWS).
    fallback: str = ""
    access_log: bool = False  # one structured line per proxied request (else errors only)
    # Cookies of the binder itself (locally its access token's) that sessions never see:
    # the browser sends them to every path of the binder's origin, /s/ included.
    private_cookies: tuple[str, ...] = ()
