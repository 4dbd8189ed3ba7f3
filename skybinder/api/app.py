"""The HTTP app: BinderHub's API and pages, the same in local mode and in Lambda."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from fastapi import FastAPI, HTTPException, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response

from skybinder import __version__
from skybinder.api import admin, admin_events, badges, build, event_page, events, legacy, ui
from skybinder.api.access import AccessGuard, AccessPolicy
from skybinder.api.admin import AdminAuth
from skybinder.api.limits import LaunchRateLimit, client_ip
from skybinder.api.origin import OriginCheck
from skybinder.api.tokens import DEFAULT_LIFETIME, BuildTokens
from skybinder.service.binder import Binder
from skybinder.service.ports import RateLimiter

HealthCheck = Callable[[], bool]


@dataclass
class AppOptions:
    keepalive: float = 25.0  # seconds of silence on /build before a keepalive comment
    # Seconds a /build (or resumed) stream may last before it ends with a "goes on" event:
    # under API Gateway's 15 minutes in AWS; 0, no limit, locally.
    stream_limit: float = 0.0
    health_checks: dict[str, HealthCheck] = field(default_factory=dict)
    # Signs the /v2 pages' build tokens; None: a random one per process (one instance only).
    build_token_secret: str | bytes | Callable[[], str] | None = None
    build_token_lifetime: float = DEFAULT_LIFETIME  # seconds
    rate_limit: LaunchRateLimit | None = None  # per-IP launches; None: no limit
    # Counts access-code guesses and remembers used build tokens (with or without a launch
    # rate limit); None: guesses are not throttled and build tokens not single-use.
    limiter: RateLimiter | None = None
    trusted_proxies: int = 0  # proxies in front that append to X-Forwarded-For
    admin_auth: AdminAuth | None = None  # None: the admin API refuses everyone
    # Behind CloudFront: the request header holding the origin secret, the secret (None: no
    # check, as locally), and how to read the client's address (None: from trusted_proxies).
    origin_header: str = ""
    origin_secret: Callable[[], str] | None = None
    client_address: Callable[[Request], str] | None = None
    # Who may call: open (BinderHub's CORS `*`, no token) unless the composition root guards
    # a local binder (access.py).
    access: AccessPolicy = field(default_factory=AccessPolicy.open)
    health_info: dict[str, str] = field(default_factory=dict)  # also in /health's answer
    # Set when the server begins to shut down: open event streams end at once, with a last
    # `failed` event, instead of holding the shutdown until their launch ends.
    closing: threading.Event = field(default_factory=threading.Event)


def create_app(binder: Binder, options: AppOptions | None = None) -> FastAPI:
    """The app for `binder`. Pages are served by `ui`, which escapes every value it writes."""
    options = options or AppOptions()
    app = FastAPI(title="skybinder", version=__version__, docs_url=None, redoc_url=None)
    app.state.binder = binder
    app.state.keepalive = options.keepalive
    app.state.stream_limit = options.stream_limit
    app.state.build_tokens = BuildTokens(options.build_token_secret, options.build_token_lifetime)
    app.state.rate_limit = options.rate_limit
    app.state.limiter = options.limiter
    app.state.trusted_proxies = options.trusted_proxies
    app.state.client_address = options.client_address or partial(
        client_ip, trusted_proxies=options.trusted_proxies
    )
    app.state.admin_auth = options.admin_auth
    app.state.closing = options.closing
    app.state.access = options.access
    # mybinder.org answers every origin (thebe and Jupyter Book pages call /build cross-site);
    # a local binder only the origins its operator lists.
    # The guard runs before any route; CORS wraps it, so that a listed origin can read even
    # a refusal. (The middleware added last is the outermost.)
    app.add_middleware(AccessGuard, policy=options.access)
    if options.access.allow_origins:
        allowed = list(options.access.allow_origins)
        app.add_middleware(
            CORSMiddleware,
            allow_origins=allowed,
            allow_methods=["GET"],
            allow_headers=["Authorization"],
        )
    if options.origin_secret is not None:  # outermost: nothing runs for a refused request
        app.add_middleware(OriginCheck, header=options.origin_header, secret=options.origin_secret)
    app.include_router(build.router)
    app.include_router(legacy.router)
    for router in (ui.router, badges.router, events.router, admin.router):
        app.include_router(router)
    app.include_router(admin_events.router)
    app.include_router(event_page.router)

    @app.get("/versions")
    def versions() -> dict[str, object]:
        return {
            "builder_info": binder.builder.info(),
            "binderhub": f"skybinder {__version__}",
            "skybinder": __version__,
        }

    @app.get("/health")
    def health() -> Response:
        checks = [
            {"service": name, "ok": _safe(check)} for name, check in options.health_checks.items()
        ]
        ok = all(c["ok"] for c in checks)
        body = {**options.health_info, "ok": ok, "checks": checks}
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/api/repoproviders")
    def repoproviders() -> list[dict[str, object]]:
        return binder.resolver.display_configs()

    @app.get("/api/sessions/{session_id}")
    def session_status(session_id: str, request: Request) -> dict[str, object]:
        session = binder.store.get(session_id)
        if session is None:
            raise HTTPException(404, "No such session.")
        # The token is never served here: only the /build stream that launched it has it.
        return session.model_dump(
            include={
                "id",
                "state",
                "reason",
                "status_code",
                "url",
                "image_name",
                "repo_url",
                "ref",
                "ref_url",
                "provider",
                "spec",
                "build_only",
                "created_at",
                "ready_at",
                "ended_at",
            }
        )

    return app


def _safe(check: HealthCheck) -> bool:
    try:
        return bool(check())
    except Exception:  # a failing check is a failed check, never a 500
        return False
