"""Who may use a local binder: pure rules over the request's header values.

A local binder runs the code of the repositories it launches on the user's own machine, so,
as Jupyter Server does, it needs its own access token, and it refuses requests that other
sites make a visitor's browser send (the Origin and Sec-Fetch-Site headers say so) and
requests for names it does not serve (DNS rebinding). Each rule is a small function of
strings, with no framework in sight, so that each can be tested on its own.
"""

from __future__ import annotations

import hmac
from collections.abc import Collection
from urllib.parse import urlsplit

from skybinder.domain.addresses import ip_literal, is_local_name

TOKEN_SCHEMES = ("token", "bearer")  # Jupyter's `Authorization: token <t>`, and Bearer
# Sec-Fetch-Site values that say the request was made by another site. `same-site` counts:
# every port of localhost is the same site, and other local servers must not launch here.
FOREIGN_FETCH_SITES = frozenset({"cross-site", "same-site"})


def token_from_header(authorization: str) -> str:
    """The token of an `Authorization: token <t>` (or `Bearer <t>`) header, else ""."""
    scheme, _, value = authorization.strip().partition(" ")
    return value.strip() if scheme.lower() in TOKEN_SCHEMES else ""


def token_given(authorization: str, query: str, cookie: str) -> str:
    """The token a request offers: its Authorization header, else `?token=`, else the cookie."""
    return token_from_header(authorization) or query or cookie


def token_matches(given: str, expected: str) -> bool:
    """True when `given` is the (non-empty) `expected` token, compared in constant time."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def netloc(url: str) -> str:
    """The `host[:port]` of a URL or an Origin, lower-cased; "" when it has none."""
    try:
        return urlsplit(url).netloc.lower()
    except ValueError:
        return ""


def origin_allowed(origin: str, allowed: Collection[str]) -> bool:
    """True when `origin` is one the operator listed (`*`: every origin)."""
    return "*" in allowed or origin.rstrip("/").lower() in {o.rstrip("/").lower() for o in allowed}


def is_foreign_request(
    origin: str | None, fetch_site: str | None, host: str, allowed: Collection[str]
) -> bool:
    """True when another site made the browser send this request, and it is not listed.

    An Origin header names the page that made the request: ours (same host and port) or an
    allowed one passes, anything else does not, `null` (a sandboxed frame, a file) included.
    Without an Origin, Sec-Fetch-Site tells: a navigation or an `<img>` from another site is
    `cross-site` (or `same-site` from another port of this host). A request with neither
    header comes from a program, not from a page: the access token alone decides then.
    """
    if origin:
        ours = host.lower()
        if ours and netloc(origin) == ours:  # an Origin without a host (`null`) is never ours
            return False
        return not origin_allowed(origin, allowed)
    return (fetch_site or "").lower() in FOREIGN_FETCH_SITES


def is_foreign_navigation(fetch_site: str | None, referer: str | None, host: str) -> bool:
    """True when a page of another site led the browser here (a link, a redirect, a form).

    Sec-Fetch-Site says so in current browsers; without it, a Referer of another host does.
    Typed addresses, bookmarks and links opened from a terminal say `none`.
    """
    if fetch_site:
        return fetch_site.lower() in FOREIGN_FETCH_SITES
    ours = host.lower()
    return bool(referer) and not (ours and netloc(referer or "") == ours)


def host_name(host: str) -> str:
    """The name of a Host header without its port (and without IPv6 brackets)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host[1:]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def host_allowed(host: str, names: Collection[str]) -> bool:
    """True when a Host header names this binder: an IP address (a page served from an
    address can only be ours), a name that always means this machine (`localhost`), or one of
    `names` (the machine's own name, names the operator listed).

    Any other name may be an attacker's, pointed at 127.0.0.1 after the browser trusted it
    (DNS rebinding): its pages would then be same-origin with this binder.
    """
    name = host_name(host).rstrip(".")
    if not name:
        return False
    if ip_literal(name) is not None and _is_plain_address(name):
        return True
    return is_local_name(name) or name in {n.lower().rstrip(".") for n in names}


def _is_plain_address(name: str) -> bool:
    # "127.1" or "0x7f.1" are addresses to the C resolver, but a browser sends a Host such as
    # "0x7f.1" only for a name it resolved: only the dotted-quad and IPv6 forms are addresses.
    return ":" in name or (name.count(".") == 3 and all(p.isdigit() for p in name.split(".")))
