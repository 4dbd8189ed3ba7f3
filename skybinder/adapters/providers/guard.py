"""The SSRF guard: which URLs this binder may contact, checked with DNS when the request is made.

In the cloud the binder resolves refs from inside the operator's AWS account, where a crafted
spec could otherwise reach the instance or task metadata endpoints or private services. Every
URL a provider contacts passes `UrlGuard.check`, every redirect hop again (SafeHttp). In local
mode (`allow_local`) the machine's own addresses are allowed: that is what the user asked for.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from skybinder.domain.addresses import (
    IPAddress,
    forbidden_reason,
    internal_host_reason,
    ip_literal,
)
from skybinder.domain.errors import ResolveError, UnsafeUrlError
from skybinder.domain.spec_rules import show

log = logging.getLogger(__name__)

# socket.getaddrinfo, or a fake of it: (host, port, family, type) -> [(family, type, proto,
# canonname, sockaddr)], sockaddr[0] being the address as text.
AddrInfo = Callable[..., Sequence[tuple[Any, ...]]]
GIT_SCHEMES = ("http", "https", "git", "ssh")
HTTP_SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443, "git": 9418, "ssh": 22}
PUBLIC_ONLY = "This binder only contacts hosts on the public internet."


@dataclass(frozen=True)
class Target:
    """A URL that passed the guard, and the checked address to connect to (None: any)."""

    url: str
    scheme: str
    host: str
    port: int
    address: IPAddress | None


class UrlGuard:
    """Refuses URLs whose scheme is not allowed or whose host is, or resolves to, an address
    that is not public (see domain/addresses.py). With `allow_local` only the scheme is checked.
    """

    def __init__(self, *, allow_local: bool, getaddrinfo: AddrInfo = socket.getaddrinfo) -> None:
        self.allow_local = allow_local
        self._getaddrinfo = getaddrinfo

    def check(self, url: str, schemes: Sequence[str] = HTTP_SCHEMES) -> Target:
        """The checked target of `url`; raises UnsafeUrlError (400) or ResolveError (404)."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise UnsafeUrlError(f"{show(url)} is not a valid URL.") from None
        scheme = parts.scheme.lower()
        if scheme not in schemes:
            raise UnsafeUrlError(
                f"Refused to fetch {show(url)}: only {', '.join(schemes)} URLs are allowed here."
            )
        host = _host(url, parts.hostname or "")
        port = port or DEFAULT_PORTS[scheme]
        if self.allow_local:
            return Target(url, scheme, host, port, None)
        if internal_host_reason(host) is not None:
            raise self._refusal(url, host)
        addresses = self._lookup(host, port)
        for address in addresses:
            reason = forbidden_reason(address)
            if reason is not None:
                # The address stays in the server log: in the message it would let anyone map
                # the operator's private DNS names.
                log.warning("refused %s: %s resolves to %s (%s)", url, host, address, reason)
                raise self._refusal(url, host)
        return Target(url, scheme, host, port, _preferred(addresses))

    def _lookup(self, host: str, port: int) -> list[IPAddress]:
        literal = ip_literal(host)
        if literal is not None:
            return [literal]
        try:
            infos = self._getaddrinfo(host, port, 0, socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise ResolveError(
                f"Could not find the host {show(host)} (its DNS lookup failed). Check the address."
            ) from None
        addresses = [ip_literal(str(info[4][0])) for info in infos]
        found = [address for address in addresses if address is not None]
        if not found or len(found) != len(addresses):
            raise ResolveError(f"The host {show(host)} has no usable address. Check the address.")
        return found

    @staticmethod
    def _refusal(url: str, host: str) -> UnsafeUrlError:
        return UnsafeUrlError(
            f"Refused to fetch {show(url)}: the host {show(host)} is on a local or private "
            f"network. {PUBLIC_ONLY}"
        )


def _host(url: str, hostname: str) -> str:
    """The URL's host without the one trailing dot a fully qualified name may end with; raises
    UnsafeUrlError (400) when there is none, or a part between its dots is empty."""
    host = hostname.removesuffix(".")
    if not host:
        raise UnsafeUrlError(f"Refused to fetch {show(url)}: the URL names no host.")
    if ip_literal(host) is None and "" in host.split("."):
        raise UnsafeUrlError(
            f"Refused to fetch {show(url)}: {show(host)} is not a valid host name "
            "(a part between its dots is empty)."
        )
    return host


def _preferred(addresses: list[IPAddress]) -> IPAddress:
    """IPv4 first: many cloud networks (Lambda outside a dual-stack VPC) have no IPv6 route."""
    return next((a for a in addresses if a.version == 4), addresses[0])
