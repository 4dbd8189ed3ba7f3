"""Fakes for provider tests: DNS answers, and a small web of recorded API answers.

No test reaches the internet: `Web` serves canned responses (recorded by hand from each
provider's documentation and published examples) through httpx.MockTransport, and `FakeDns`
answers the SSRF guard's lookups.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

from skybinder.adapters.providers import ProviderResolver
from skybinder.domain.repo_policy import ProviderSettings

PUBLIC_IP = "93.184.215.14"  # a public address; every unknown name resolves to it
NOW = 1_760_000_000.0
Handler = Callable[[httpx.Request], httpx.Response]


class FakeDns:
    """socket.getaddrinfo for a few names; every other name has one public address."""

    def __init__(self, names: dict[str, list[str]] | None = None) -> None:
        self.names = dict(names or {})
        self.missing: set[str] = set()
        self.asked: list[str] = []

    def __call__(self, host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        self.asked.append(host)
        if host in self.missing:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        out = []
        for address in self.names.get(host, [PUBLIC_IP]):
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sockaddr = (address, port, 0, 0) if family == socket.AF_INET6 else (address, port)
            out.append((family, socket.SOCK_STREAM, 6, "", sockaddr))
        return out


def host_of(request: httpx.Request) -> str:
    """The host a request is for: in the cloud it is sent to an address, with a Host header."""
    return request.headers["host"]


class Web:
    """Canned answers by URL ("https://host/path?query"; the query may be left out)."""

    def __init__(self) -> None:
        self.routes: dict[str, httpx.Response | Handler] = {}
        self.requests: list[httpx.Request] = []

    def add(self, url: str, answer: httpx.Response | Handler) -> None:
        self.routes[url] = answer

    def json(self, url: str, body: Any, status: int = 200, **headers: str) -> None:
        content = json.dumps(body).encode()
        all_headers = {**headers, "Content-Type": "application/json"}
        self.add(url, httpx.Response(status, content=content, headers=all_headers))

    def redirect(self, url: str, location: str, status: int = 302) -> None:
        self.add(url, httpx.Response(status, headers={"Location": location}))

    def page(self, url: str, status: int = 200) -> None:
        self.add(url, httpx.Response(status, html="<html>landing page</html>"))

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.raw_path.decode()
        full = f"{request.url.scheme}://{host_of(request)}{path}"
        answer = self.routes.get(full) or self.routes.get(full.split("?", 1)[0])
        if answer is None:
            return httpx.Response(404, json={"message": "Not Found"})
        return answer(request) if callable(answer) else answer

    def urls(self) -> list[str]:
        """The requested URLs, by host name, in order."""
        return [f"{r.url.scheme}://{host_of(r)}{r.url.raw_path.decode()}" for r in self.requests]

    def hosts(self) -> list[str]:
        return [urlsplit(url).netloc for url in self.urls()]

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handle))


def make_resolver(
    web: Web,
    *,
    dns: FakeDns | None = None,
    allow_local: bool = False,
    token: str | None = None,
    settings: ProviderSettings | None = None,
) -> ProviderResolver:
    return ProviderResolver(
        web.client(),
        allow_local,
        token,
        now=lambda: NOW,
        settings=settings,
        getaddrinfo=dns or FakeDns(),
    )
