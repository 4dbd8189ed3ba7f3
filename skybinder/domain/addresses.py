"""Which network addresses a binder in the cloud must never fetch from, and IP literals in hosts."""

from __future__ import annotations

import ipaddress
import re
import socket

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Addresses that carry an IPv4 address inside an IPv6 one: the IPv4 address is what a packet
# may finally reach (through a dual-stack socket, a NAT64 gateway or a 6to4 relay).
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
NUMERIC_HOST = re.compile(r"[0-9a-fx.]+")
LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, NAT64, 6to4, Teredo), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64 or address in NAT64_LOCAL:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]  # (server, client): the client is the one reached
    return None


def forbidden_reason(address: IPAddress) -> str | None:
    """Why `address` must not be fetched from ("loopback", "private", ...), or None if it may.

    Everything that is not a globally routable unicast address is refused: loopback, private
    (RFC 1918, unique-local fc00::/7, carrier-grade NAT), link-local (169.254.0.0/16 holds the
    EC2 instance metadata and ECS task metadata endpoints), multicast, unspecified, reserved
    and documentation ranges, also when they hide inside an IPv6 address.
    """
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None:
            return forbidden_reason(inner)
    checks = (
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (address.is_reserved, "reserved"),
        (address.is_private, "private"),
        (not address.is_global, "non-public"),
    )
    return next((reason for hit, reason in checks if hit), None)


def ip_literal(host: str) -> IPAddress | None:
    """The address `host` names literally, read as the C resolver reads it, or None for a name.

    Besides dotted quads and IPv6 (with or without brackets) this covers the forms
    inet_aton accepts: "2130706433", "0x7f000001", "0177.0.0.1", "127.1".
    """
    host = host.strip("[]").rstrip(".").lower()
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        pass
    if not NUMERIC_HOST.fullmatch(host) or not host[0].isdigit():
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def is_local_name(host: str) -> bool:
    """True for names that always mean this machine, whatever DNS says."""
    host = host.rstrip(".").lower()
    return host in LOCAL_NAMES or host.endswith(".localhost")


def internal_host_reason(host: str) -> str | None:
    """Why a URL host is internal without asking DNS (a local name or a forbidden IP literal)."""
    if is_local_name(host):
        return "loopback"
    address = ip_literal(host)
    return forbidden_reason(address) if address is not None else None
