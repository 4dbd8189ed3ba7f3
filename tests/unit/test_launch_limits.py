"""The launch rate limit's parts: whose address counts, the key it is counted under, the
refusal's words, and the result's arithmetic and headers (BinderHub's)."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from skybinder.api.limits import (
    LaunchRateLimit,
    check_launch_rate,
    check_page_rate,
    client_ip,
    rate_limit_message,
)
from skybinder.service.ports import RateLimitResult
from tests.fakes import FakeRateLimiter

T0 = 1_800_000_000.25


def request(peer: str | None, forwarded: str | None = None) -> Request:
    headers = [] if forwarded is None else [(b"x-forwarded-for", forwarded.encode())]
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/build/gh/u/r/HEAD",
        "headers": headers,
        "client": None if peer is None else (peer, 50_000),
    }
    return Request(scope)


def test_without_trusted_proxies_the_peer_is_the_client_whatever_it_claims() -> None:
    spoofed = request("198.51.100.4", "6.6.6.6")
    assert client_ip(spoofed) == client_ip(spoofed, 0) == "198.51.100.4"
    assert client_ip(spoofed, -1) == "198.51.100.4"
    assert client_ip(request(None)) == ""


@pytest.mark.parametrize(
    ("forwarded", "proxies", "expected"),
    [
        ("203.0.113.7", 1, "203.0.113.7"),  # one proxy appended the viewer
        ("6.6.6.6, 203.0.113.7", 1, "203.0.113.7"),  # what the client wrote comes first
        ("6.6.6.6, 203.0.113.7, 130.176.0.1", 2, "203.0.113.7"),  # viewer, then the edge
        (" 203.0.113.7 ,130.176.0.1 ", 2, "203.0.113.7"),  # spaces around entries
        ("203.0.113.7, , 130.176.0.1", 2, "203.0.113.7"),  # empty entries do not count
    ],
)
def test_behind_trusted_proxies_the_entry_they_wrote_is_the_client(
    forwarded: str, proxies: int, expected: str
) -> None:
    assert client_ip(request("10.0.0.9", forwarded), proxies) == expected


def test_fewer_forwarded_entries_than_proxies_fall_back_to_the_peer() -> None:
    assert client_ip(request("10.0.0.9", "130.176.0.1"), 2) == "10.0.0.9"
    assert client_ip(request("10.0.0.9", ""), 1) == "10.0.0.9"
    assert client_ip(request("10.0.0.9"), 1) == "10.0.0.9"
    assert client_ip(request("10.0.0.9", "203.0.113.7, 130.176.0.1"), 2) == "203.0.113.7"


def test_launches_are_counted_per_address_and_an_unknown_one_shares_a_key() -> None:
    limiter = FakeRateLimiter()
    policy = LaunchRateLimit(limiter, limit=2, window=60)
    first = check_launch_rate(policy, "203.0.113.7", T0)
    assert (first.allowed, first.limit, first.remaining, first.reset) == (True, 2, 1, int(T0) + 60)
    check_launch_rate(policy, "", T0)
    check_page_rate(policy, "203.0.113.7", T0)
    check_page_rate(policy, "", T0)
    assert limiter.checks == [
        "launch:203.0.113.7", "launch:unknown", "page:203.0.113.7", "page:unknown",
    ]  # fmt: skip
    assert LaunchRateLimit(limiter) == LaunchRateLimit(limiter, limit=10, window=3600)


def test_the_refusal_says_when_to_try_again() -> None:
    refused = RateLimitResult.of(3, int(T0) + 42, limit=2, now=T0)
    assert rate_limit_message(refused) == "Rate limit exceeded. Try again in 42 seconds."


def test_the_nth_attempt_is_allowed_up_to_the_limit_and_remaining_never_goes_negative() -> None:
    reset = int(T0) + 600
    last = RateLimitResult.of(5, reset, limit=5, now=T0)
    assert (last.allowed, last.remaining) == (True, 0)
    over = RateLimitResult.of(6, reset, limit=5, now=T0)
    assert (over.allowed, over.remaining, over.limit, over.reset) == (False, 0, 5, reset)
    assert RateLimitResult.of(1, reset, limit=5, now=T0).remaining == 4


def test_retry_after_rounds_the_wait_up_and_is_never_negative() -> None:
    reset = int(T0) + 10  # T0 has a quarter second: 9.75 s left, said as 10
    assert RateLimitResult.of(9, reset, limit=1, now=T0).retry_after == 10
    assert RateLimitResult.of(9, reset, limit=1, now=reset + 5.5).retry_after == 0


def test_unlimited_results_allow_and_send_no_headers() -> None:
    free = RateLimitResult.unlimited(T0)
    assert free == RateLimitResult(allowed=True, limit=0, remaining=0, reset=int(T0), retry_after=0)
    assert free.headers() == {}


def test_headers_are_binderhubs() -> None:
    result = RateLimitResult.of(2, 1_800_000_600, limit=5, now=T0)
    assert result.headers() == {
        "x-ratelimit-limit": "5",
        "x-ratelimit-remaining": "3",
        "x-ratelimit-reset": "1800000600",
    }


@pytest.mark.parametrize(
    ("key", "limit", "window", "message"),
    [
        ("", 1, 60, "A rate limit needs a key (the client's address)."),
        ("k", -1, 60, "A rate limit needs limit >= 0 and a window > 0 s, not -1 per 60 s."),
        ("k", 1, 0, "A rate limit needs limit >= 0 and a window > 0 s, not 1 per 0 s."),
    ],
)
def test_arguments_are_checked(key: str, limit: int, window: int, message: str) -> None:
    with pytest.raises(ValueError) as refused:
        RateLimitResult.check_arguments(key, limit, window)
    assert str(refused.value) == message
    RateLimitResult.check_arguments("k", 0, 1)  # the edges themselves are allowed
