"""Which headers cross the proxy, both ways.

Everything end to end passes unchanged — Host, Origin, Cookie, Authorization, X-XSRFToken,
Set-Cookie (each one), Content-Type/-Length/-Encoding (bodies are relayed as they are, never
decompressed) — while hop-by-hop headers stay on their own hop. X-Forwarded-For/-Proto/-Host
tell the server who asked and how: set from the connection, or, behind a trusted load
balancer, kept with the peer appended.
"""

from __future__ import annotations

from multidict import CIMultiDict, CIMultiDictProxy

# RFC 9110 §7.6.1, plus the WebSocket handshake's own, which each hop negotiates itself.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
WEBSOCKET_HANDSHAKE = frozenset(
    {
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-protocol",
        "sec-websocket-accept",
    }
)


def _named_in_connection(headers: CIMultiDictProxy[str]) -> set[str]:
    return {
        token.strip().lower()
        for value in headers.getall("Connection", [])
        for token in value.split(",")
        if token.strip()
    }


def end_to_end(headers: CIMultiDictProxy[str], *, websocket: bool = False) -> CIMultiDict[str]:
    """The headers that cross the proxy (request or response), in order, repeats kept."""
    drop = HOP_BY_HOP | _named_in_connection(headers)
    if websocket:
        drop |= WEBSOCKET_HANDSHAKE
    return CIMultiDict((k, v) for k, v in headers.items() if k.lower() not in drop)


def without_cookies(headers: CIMultiDict[str], names: tuple[str, ...]) -> CIMultiDict[str]:
    """`headers` with the cookies called `names` taken out of every Cookie header."""
    if not names:
        return headers
    kept = []
    for value in headers.popall("Cookie", []):
        pairs = [p for p in value.split(";") if p.split("=", 1)[0].strip() not in names]
        if any(p.strip() for p in pairs):
            kept.append(";".join(pairs).strip())
    for value in kept:
        headers.add("Cookie", value)
    return headers


def forwarded(
    headers: CIMultiDict[str], *, peer: str, scheme: str, host: str, trust: bool
) -> CIMultiDict[str]:
    """`headers` with X-Forwarded-For/-Proto/-Host for a request from `peer`. X-Real-IP,
    which Jupyter would believe before X-Forwarded-For, never crosses: nobody we trust sets it.
    """
    headers.popall("X-Real-IP", None)
    if trust and headers.get("X-Forwarded-For"):
        chain = f"{headers['X-Forwarded-For']}, {peer}" if peer else headers["X-Forwarded-For"]
        headers["X-Forwarded-For"] = chain
        headers.setdefault("X-Forwarded-Proto", scheme)
        headers.setdefault("X-Forwarded-Host", host)
        return headers
    for name in ("X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded"):
        headers.popall(name, None)
    if peer:
        headers["X-Forwarded-For"] = peer
    headers["X-Forwarded-Proto"] = scheme
    if host:
        headers["X-Forwarded-Host"] = host
    return headers
