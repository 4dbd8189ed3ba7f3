"""Prober through the public URL: `ready` only once Jupyter answers the way users reach it."""

from __future__ import annotations

import httpx


class PublicUrlProber:
    """Ready when `<url>api` (Jupyter's unauthenticated endpoint) answers Jupyter's JSON.

    Checking the body, not only the status, keeps an error page that happens to answer 200
    (a CDN's or a load balancer's) from passing for a running server.
    """

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def ready(self, url: str) -> bool:
        try:
            response = self.client.get(url + "api")
        except httpx.HTTPError:
            return False
        if response.status_code != 200:
            return False
        try:
            body = response.json()
        except ValueError:
            return False
        return isinstance(body, dict) and "version" in body
