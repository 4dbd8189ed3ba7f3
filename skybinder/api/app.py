"""The HTTP app: BinderHub's API and pages, the same in local mode and in Lambda."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.resources import files

from fastapi import FastAPI, HTTPException, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response

from skybinder import __version__
from skybinder.api import build
from skybinder.service.binder import Binder

HealthCheck = Callable[[], bool]


@dataclass
class AppOptions:
    keepalive: float = 25.0  # seconds of silence on /build before a keepalive comment
    health_checks: dict[str, HealthCheck] = field(default_factory=dict)


def page(name: str) -> str:
    return (files("skybinder.api") / "pages" / name).read_text(encoding="utf-8")


def create_app(binder: Binder, options: AppOptions | None = None) -> FastAPI:
    """The app for `binder`. Pages take their parameters from the URL in the browser, so no
    user input is ever written into HTML by the server."""
    options = options or AppOptions()
    app = FastAPI(title="skybinder", version=__version__, docs_url=None, redoc_url=None)
    app.state.binder = binder
    app.state.keepalive = options.keepalive
    # mybinder.org answers every origin: thebe and Jupyter Book pages call /build cross-site.
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET"])
    app.include_router(build.router)

    @app.get("/", response_class=HTMLResponse)
    def home() -> str:
        return page("home.html")

    @app.get("/v2/{provider}/{spec:path}", response_class=HTMLResponse)
    def launch_page() -> str:
        return page("launch.html")

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
        return JSONResponse({"ok": ok, "checks": checks}, status_code=200 if ok else 503)

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
