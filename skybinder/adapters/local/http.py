"""Local Router, Prober and Clock: direct URLs to each server, HTTP probes, the system clock."""

from __future__ import annotations

import time

import httpx


class DirectRouter:
    """Locally each server listens on its own port: the route is its address itself."""

    def __init__(self, public_host: str | None = None) -> None:
        # The host name users reach the servers by, when not the address they listen on.
        self.public_host = public_host

    def id_prefix(self) -> str:
        return ""  # every server is reached by its own address, whatever its id

    def reserve(self, session_id: str) -> str:
        """Nothing to reserve: each server has a port of its own."""
        return ""

    def add(self, session_id: str, address: str, route: str = "") -> str:
        host, _, port = address.rpartition(":")
        return f"http://{self.public_host or host}:{port}/s/{session_id}/"

    def remove(self, session_id: str, route: str = "") -> None:
        """Nothing to delete: the route ends with the server's process."""


class HttpProber:
    """Ready when Jupyter's `api` endpoint (which needs no token) answers 200."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def ready(self, url: str) -> bool:
        try:
            return self.client.get(url + "api").status_code == 200
        except httpx.HTTPError:
            return False


class SystemClock:
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)
