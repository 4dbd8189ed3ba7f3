"""What providers make of their APIs' answers: not found, rate limited, down, or malformed."""

from __future__ import annotations

import email.utils
import math
from collections.abc import Callable
from typing import Any

from skybinder.adapters.providers.safe_http import Reply
from skybinder.domain.errors import ProviderUnavailableError, ResolveError

EPOCH_THRESHOLD = 1_000_000_000  # reset headers above this are times, below it are durations
DEFAULT_WAIT = 60.0


def rate_limit_wait(reply: Reply, now: Callable[[], float]) -> float | None:
    """Seconds until the API accepts requests again, or None when `reply` is no rate limit.

    Reads Retry-After (seconds or an HTTP date), then the reset time of the X-RateLimit-* and
    RateLimit-* headers that GitHub, GitLab and Zenodo send (an epoch time or a duration).
    """
    headers = reply.headers
    remaining = headers.get("x-ratelimit-remaining", headers.get("ratelimit-remaining"))
    retry_after = headers.get("retry-after", "").strip()
    # GitHub answers 403 to both: a rate limit says so in its headers, a refusal does not.
    limited_403 = reply.status_code == 403 and (remaining == "0" or bool(retry_after))
    if reply.status_code != 429 and not limited_403:
        return None
    if retry_after.isdigit():
        return float(retry_after)
    if retry_after:
        try:
            return max(0.0, email.utils.parsedate_to_datetime(retry_after).timestamp() - now())
        except (TypeError, ValueError):
            pass
    reset = headers.get("x-ratelimit-reset", headers.get("ratelimit-reset", ""))
    try:
        value = float(reset)
    except ValueError:
        return DEFAULT_WAIT
    return max(0.0, value - now()) if value > EPOCH_THRESHOLD else value


def minutes(wait: float) -> str:
    count = max(1, math.ceil(wait / 60))
    return f"{count} minute{'s' if count != 1 else ''}"


def rate_limited(service: str, wait: float, advice: str = "") -> ProviderUnavailableError:
    return ProviderUnavailableError(
        f"{service} rate limit exceeded. Try again in {minutes(wait)}{advice}.", status_code=429
    )


def check_answer(reply: Reply, service: str, *, not_found: str, now: Callable[[], float]) -> None:
    """Return when `reply` is a 200; raise the error a person should see otherwise.

    404 and 410 are ResolveError(`not_found`); rate limits say when to come back; anything
    else means the service is unavailable.
    """
    if reply.status_code == 200:
        return
    if reply.status_code in (404, 410):
        raise ResolveError(not_found)
    wait = rate_limit_wait(reply, now)
    if wait is not None:
        raise rate_limited(service, wait)
    raise ProviderUnavailableError(
        f"{service} answered HTTP {reply.status_code}. Try again in a few minutes."
    )


def json_object(reply: Reply, service: str) -> dict[str, Any]:
    """The body of `reply` as a JSON object; ProviderUnavailableError when it is not one."""
    try:
        data = reply.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise unexpected(service)
    return data


def unexpected(service: str) -> ProviderUnavailableError:
    return ProviderUnavailableError(f"{service} sent an unexpected answer. Try again later.")


def dig(data: Any, *path: str | int) -> Any:
    """`data[path[0]][path[1]]...`, or None where a step is missing or of the wrong type."""
    for step in path:
        if isinstance(step, int) and isinstance(data, list) and -len(data) <= step < len(data):
            data = data[step]
        elif isinstance(step, str) and isinstance(data, dict):
            data = data.get(step)
        else:
            return None
    return data
