"""SafeHttp: GET through the SSRF guard, following redirects one checked hop at a time.

Every request a provider (or the local data fetcher) makes goes through here. Each hop's host
is checked by UrlGuard; in the cloud the request is then sent to the very address that was
checked (the Host header and TLS server name stay the host's own), so a DNS answer that
changes between the check and the connection cannot smuggle in an internal address.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from skybinder.adapters.providers.guard import Target, UrlGuard
from skybinder.domain.errors import ProviderUnavailableError, ResolveError
from skybinder.domain.spec_rules import show

MAX_REDIRECTS = 5
MAX_BODY = 20 * 1024 * 1024  # API answers; far above any real one, bounds a hostile server
USER_AGENT = "skybinder (+https://github.com/skybinder)"


@dataclass
class Reply:
    """An answer, read to its end (or not read at all, for `follow`)."""

    url: str  # the URL that answered, after redirects: the host's name, never the pinned address
    status_code: int
    headers: httpx.Headers
    content: bytes = b""
    redirects: list[str] = field(default_factory=list)  # the URLs that redirected, in order

    def json(self) -> Any:
        """The body as JSON; raises ValueError when it is not JSON."""
        return json.loads(self.content)


class SafeHttp:
    """GETs URLs that pass `guard`, with redirects followed by hand and bodies bounded."""

    def __init__(
        self, client: httpx.Client, guard: UrlGuard, *, max_redirects: int = MAX_REDIRECTS
    ) -> None:
        self.client = client
        self.guard = guard
        self.max_redirects = max_redirects

    def get(
        self,
        url: str,
        *,
        what: str,
        headers: Mapping[str, str] | None = None,
        max_redirects: int | None = None,
        max_bytes: int = MAX_BODY,
    ) -> Reply:
        """GET `url` and read the answer (at most `max_bytes`). `what` names the server in
        messages ("GitHub", "the git server of <url>")."""
        with self._open(url, what, headers, max_redirects) as (reply, response):
            reply.content = self._read(response, what, max_bytes)
            return reply

    def post(
        self,
        url: str,
        content: bytes,
        *,
        what: str,
        headers: Mapping[str, str] | None = None,
        max_bytes: int = MAX_BODY,
    ) -> Reply:
        """POST `content` to `url` and read the answer; a redirect is not followed (it is
        the answer), as git clients do not repeat a request body elsewhere."""
        with self._open(url, what, headers, 0, content) as (reply, response):
            reply.content = self._read(response, what, max_bytes)
            return reply

    def follow(self, url: str, *, what: str, headers: Mapping[str, str] | None = None) -> Reply:
        """Follow `url`'s redirects to the end without reading the last answer's body."""
        with self._open(url, what, headers, None) as (reply, _):
            return reply

    def download(self, url: str, dest: Path, *, what: str, max_bytes: int) -> Reply:
        """Stream `url` into the file `dest`; raises when it is longer than `max_bytes`."""
        with self._open(url, what, None, None) as (reply, response):
            if reply.status_code == 200:
                written = 0
                with dest.open("wb") as out:
                    for chunk in self._chunks(response, what):
                        written += len(chunk)
                        if written > max_bytes:
                            raise ProviderUnavailableError(
                                f"{show(url)} is larger than {size_text(max_bytes)}, the most "
                                "this binder downloads."
                            )
                        out.write(chunk)
            return reply

    @contextmanager
    def _open(
        self,
        url: str,
        what: str,
        headers: Mapping[str, str] | None,
        max_redirects: int | None,
        content: bytes | None = None,
    ) -> Iterator[tuple[Reply, httpx.Response]]:
        limit = self.max_redirects if max_redirects is None else max_redirects
        seen: list[str] = []
        for _ in range(limit + 1):
            target = self.guard.check(url)
            response = self._send(target, headers, what, content)
            location = response.headers.get("location")
            if response.is_redirect and location and content is None:
                response.close()
                seen.append(url)
                url = str(httpx.URL(url).join(location))
                continue
            try:
                yield Reply(url, response.status_code, response.headers, redirects=seen), response
            finally:
                response.close()
            return
        raise ResolveError(f"{seen[0]} redirects more than {limit} times.")

    def _send(
        self,
        target: Target,
        headers: Mapping[str, str] | None,
        what: str,
        content: bytes | None = None,
    ) -> httpx.Response:
        merged = {"User-Agent": USER_AGENT, **(headers or {})}
        method = "GET" if content is None else "POST"
        request = self.client.build_request(method, target.url, headers=merged, content=content)
        if target.address is not None:
            request = _pinned(request, target)
        try:
            return self.client.send(request, stream=True, follow_redirects=False)
        except httpx.HTTPError as error:
            raise _unreachable(what, error) from error

    def _read(self, response: httpx.Response, what: str, max_bytes: int) -> bytes:
        body = bytearray()
        for chunk in self._chunks(response, what):
            body += chunk
            if len(body) > max_bytes:
                raise ProviderUnavailableError(
                    f"{what} sent an answer larger than {size_text(max_bytes)}. Try again later."
                )
        return bytes(body)

    @staticmethod
    def _chunks(response: httpx.Response, what: str) -> Iterator[bytes]:
        try:
            yield from response.iter_bytes()
        except httpx.HTTPError as error:
            raise _unreachable(what, error) from error


def size_text(size: int) -> str:
    """`size` bytes for a person: "5 GB", "20 MB", "100 kB"."""
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("kB", 2**10)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} bytes"


def _pinned(request: httpx.Request, target: Target) -> httpx.Request:
    """`request` sent to the checked address: same Host header, same TLS name, own connection."""
    assert target.address is not None
    host_header = request.headers["Host"]
    extensions = dict(request.extensions)
    if target.scheme == "https":
        extensions["sni_hostname"] = target.host
    headers = httpx.Headers(request.headers)
    headers["Host"] = host_header
    # A pooled connection is keyed by address, not by name: never reuse one for another host.
    headers["Connection"] = "close"
    return httpx.Request(
        request.method,
        request.url.copy_with(host=str(target.address)),
        headers=headers,
        content=request.content if request.method != "GET" else None,
        extensions=extensions,
    )


def _unreachable(what: str, error: httpx.HTTPError) -> ProviderUnavailableError:
    return ProviderUnavailableError(
        f"Could not reach {what} ({type(error).__name__}). Try again in a minute."
    )
