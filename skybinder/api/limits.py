"""Per-IP launch rate limiting for /build, with BinderHub's semantics and headers."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from skybinder.service.ports import RateLimiter, RateLimitResult


@dataclass(frozen=True)
class LaunchRateLimit:
    """At most `limit` launches per client address per `window` seconds (BinderHub: 10/h)."""

    limiter: RateLimiter
    limit: int = 10
    window: int = 3600


def client_ip(request: Request, trusted_proxies: int = 0) -> str:
    """The client's address. Behind `trusted_proxies` proxies that each append to
    X-Forwarded-For (CloudFront, then API Gateway), it is the entry that many from the end:
    entries before it were written by the client and prove nothing."""
    direct = request.client.host if request.client else ""
    if trusted_proxies <= 0:
        return direct
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    return hops[-trusted_proxies] if len(hops) >= trusted_proxies else direct


def check_launch_rate(policy: LaunchRateLimit, ip: str, now: float) -> RateLimitResult:
    return policy.limiter.check(f"launch:{ip or 'unknown'}", policy.limit, policy.window, now)


def check_page_rate(policy: LaunchRateLimit, ip: str, now: float) -> RateLimitResult:
    """Count one launch page handed to `ip` with a build token: pages hand tokens out at the
    launch rate, so fetching a page per launch lifts no limit."""
    return policy.limiter.check(f"page:{ip or 'unknown'}", policy.limit, policy.window, now)


def rate_limit_message(result: RateLimitResult) -> str:
    return f"Rate limit exceeded. Try again in {result.retry_after} seconds."
