"""Access codes of events: wrong guesses are throttled per event and client address.

An event's code keeps strangers out of a workshop, so it must not be guessable at the rate
requests can be sent. Wrong codes are counted in a window per (event, address); once a window
holds MAX_GUESSES of them, every attempt from that address is answered 429 until the window
ends — with the right code too, so that the answer never tells a guesser which guess was
right. Right codes are never counted: a room of attendees behind one address, all typing the
code, is not slowed down. A refused attempt writes no session.
"""

from __future__ import annotations

import ipaddress
import math

from skybinder.domain.errors import AccessCodeError
from skybinder.domain.event import Event
from skybinder.domain.event_admission import check_code
from skybinder.service.binder import Binder
from skybinder.service.ports import RateLimiter

MAX_GUESSES = 5  # wrong codes per window, from one address, for one event
GUESS_WINDOW = 60  # seconds
IPV6_PREFIX = 64  # one host holds a whole /64: its addresses count as one


def client_bucket(client_ip: str) -> str:
    """The address guesses are counted by: an IPv4 address, or an IPv6 address's /64."""
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return client_ip or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False))
    return str(address)


def guess_key(slug: str, client_ip: str) -> str:
    return f"code:{slug}:{client_bucket(client_ip)}"


def check_access_code(
    binder: Binder, limiter: RateLimiter, event: Event, code: str | None, client_ip: str
) -> None:
    """Return when `code` opens `event` (or it needs none); raise AccessCodeError otherwise:
    403 for a missing or wrong code (a wrong one is counted), 429 while this address's wrong
    guesses for the event are throttled, whatever the code."""
    if not event.access_code_hash:
        return
    key = guess_key(event.slug, client_ip)
    now = binder.clock.now()
    count, reset = limiter.attempts(key, now)
    if count >= MAX_GUESSES:
        raise throttled(reset - now)
    if event.code_ok(code):
        return
    if code:  # a guess; an attendee who has not typed the code yet is only told to
        limiter.check(key, MAX_GUESSES, GUESS_WINDOW, now)
    check_code(event, code)


def throttled(seconds: float) -> AccessCodeError:
    wait = max(1, math.ceil(seconds))
    return AccessCodeError(
        f"Too many wrong access codes were tried from your address. Try again in {wait} "
        "seconds, with the code the organisers gave you.",
        status_code=429,
    )
