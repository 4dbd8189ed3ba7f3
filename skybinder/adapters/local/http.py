"""Local Prober and Clock: HTTP probes of Jupyter, the system clock."""

from __future__ import annotations

import time

import httpx


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
