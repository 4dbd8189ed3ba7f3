"""Build tokens: short-lived HS256 JWTs the /v2 page gives its /build request, as BinderHub's.

A token names one spec (`aud` = "<provider>/<spec>", the spec still percent-encoded as in the
URL) and the origin the page was served to, so it cannot be replayed for another repository or
from another site's pages. It also names the client address the page was served to and has an
id of its own (`jti`): it exempts one /build request, from that address, from the per-IP rate
limit — the launch of the page it came with — and no other. A script that copies a token (and
the Origin) gets that one launch at most, and pages hand out tokens at the launch rate.
"""

from __future__ import annotations

import logging
import math
import secrets
import threading
import time
from collections.abc import Callable

import jwt
from starlette.requests import HTTPConnection

from skybinder.domain.errors import SkybinderError
from skybinder.service.ports import RateLimiter

log = logging.getLogger(__name__)
ALGORITHM = "HS256"
DEFAULT_LIFETIME = 300.0  # seconds; BinderHub's build_token_expires_seconds


class BuildTokenError(SkybinderError):
    """A build token that is malformed, expired, or not for this spec or origin (403)."""

    status_code = 403


class BuildTokens:
    """Issues and checks build tokens with one secret."""

    def __init__(
        self,
        secret: str | bytes | Callable[[], str] | None = None,
        lifetime: float = DEFAULT_LIFETIME,
        now: Callable[[], float] = time.time,
    ) -> None:
        if not secret:
            # Fine for one process. Several instances behind one address (Lambda) must share a
            # configured secret, or a page served by one is refused by another.
            log.info("no build token secret configured: using a random one for this run")
            secret = secrets.token_bytes(32)
        # A callable is asked on first use: fetching a shared key must not delay start-up.
        self._secret = secret
        self._cached: bytes | None = None
        self._lock = threading.Lock()
        self.lifetime = lifetime
        self._now = now

    @property
    def _key(self) -> bytes:
        with self._lock:
            if self._cached is None:
                value = self._secret() if callable(self._secret) else self._secret
                self._cached = value.encode("utf-8") if isinstance(value, str) else value
            return self._cached

    def issue(self, provider_spec: str, origin: str, client: str = "") -> str:
        claims = {
            "exp": int(self._now() + self.lifetime),
            "aud": provider_spec,
            "origin": origin,
            "client": client,
            "jti": secrets.token_urlsafe(16),
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def check(self, token: str, provider_spec: str, origin: str, client: str = "") -> str | None:
        """The token's id when it is valid and was issued to `client`; None for no token, or a
        valid one issued to another address or naming none, or without an id (served as a
        request without one); BuildTokenError for an invalid one.

        As BinderHub: a request without a token is served (the rate limit then applies to
        it), one with a bad token is refused.
        """
        if not token:
            return None
        claims = self.verify(token, provider_spec, origin)
        if claims.get("client") != client or not claims.get("jti"):
            return None
        return str(claims["jti"])

    def verify(self, token: str, provider_spec: str, origin: str) -> dict[str, object]:
        """The claims of `token`; BuildTokenError unless it is ours, unexpired, for this spec
        and origin."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],  # never trust the token's own "alg"
                audience=provider_spec,
                # "exp" is checked below against our clock, which tests can move.
                options={"require": ["exp", "aud", "origin"], "verify_exp": False},
            )
        except jwt.InvalidTokenError as err:
            raise BuildTokenError(_explain(err)) from None
        if int(claims["exp"]) <= self._now():
            raise BuildTokenError(_explain(jwt.ExpiredSignatureError()))
        if claims.get("origin") != origin:
            raise BuildTokenError(
                "Invalid build token: it was issued for another site. Open the launch link "
                "on this site to start the launch."
            )
        return dict(claims)


def _explain(err: jwt.InvalidTokenError) -> str:
    if isinstance(err, jwt.ExpiredSignatureError):
        return "Invalid build token: it has expired. Reload the launch page to get a new one."
    if isinstance(err, jwt.InvalidAudienceError):
        return (
            "Invalid build token: it was issued for another repository. Open this repository's "
            "own launch link."
        )
    return "Invalid build token. Reload the launch page, or leave build_token out."


def token_origin(request: HTTPConnection) -> str:
    """The origin a token is bound to: the Origin header, else Host, without the scheme.

    BinderHub's rule: a page and the /build request it makes agree on it, a page of another
    site sending its visitors' browsers here does not.
    """
    origin = request.headers.get("origin") or request.headers.get("host", "")
    return origin.split("://", 1)[1] if "://" in origin else origin


def first_use(limiter: RateLimiter, token_id: str, lifetime: float, now: float) -> bool:
    """True the first time a build token is used (the limiter remembers it while it lives)."""
    return limiter.check(f"build-token:{token_id}", 1, max(1, math.ceil(lifetime)), now).allowed
