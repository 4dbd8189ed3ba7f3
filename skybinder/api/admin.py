"""The admin API under /api/admin/: sessions for operators (list, stop), and images.

Who may call it is decided by an `AdminAuth` the composition root picks: a bearer token on the
local binder; in AWS, API Gateway's IAM authorisation, checked again here from the request
context the Lambda Web Adapter passes on, so a route misconfigured as public stays closed.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request

from skybinder.domain.model import ACTIVE, Session
from skybinder.service.binder import Binder
from skybinder.service.images import image_reports
from skybinder.service.sessions import stop_session

AdminAuth = Callable[[Request], bool]
router = APIRouter(prefix="/api/admin")
SUMMARY_FIELDS = {
    "id", "state", "reason", "status_code", "provider", "spec", "repo_url", "ref",
    "image_name", "url", "client_ip", "build_only", "created_at", "ready_at", "ended_at",
}  # fmt: skip


def bearer_auth(token: str) -> AdminAuth:
    """Requests must carry `Authorization: Bearer <token>` (compared in constant time)."""

    def check(request: Request) -> bool:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and secrets.compare_digest(given.strip(), token)

    return check


def iam_auth(request: Request) -> bool:
    """True when API Gateway authorised the caller with IAM (SigV4): the request context the
    Lambda Web Adapter forwards names the caller's ARN."""
    raw = request.headers.get("x-amzn-request-context", "")
    try:
        identity = json.loads(raw).get("identity", {})
    except (ValueError, AttributeError):
        return False
    return isinstance(identity, dict) and str(identity.get("userArn", "")).startswith("arn:aws")


def write_admin_token(data_dir: Path) -> str:
    """A fresh token in `<data_dir>/admin-token`, readable by its owner only."""
    token = secrets.token_urlsafe(32)
    path = data_dir / "admin-token"
    path.unlink(missing_ok=True)  # a new file, so no earlier, wider mode survives
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(token + "\n")
    return token


def summary(session: Session) -> dict[str, object]:
    """What an operator sees of a session; never its token."""
    return session.model_dump(include=SUMMARY_FIELDS, mode="json")


def authorise(request: Request) -> Binder:
    """The binder, when the request carries an operator's credentials; 403 otherwise."""
    auth: AdminAuth | None = request.app.state.admin_auth
    if auth is None or not auth(request):
        raise HTTPException(403, "The admin API needs an operator's credentials.")
    binder: Binder = request.app.state.binder
    return binder


@router.get("/sessions")
def list_sessions(request: Request, ended: bool = False) -> list[dict[str, object]]:
    """Active sessions, oldest first; with `?ended=true` the ended ones too."""
    binder = authorise(request)
    return [summary(s) for s in binder.store.list(None if ended else ACTIVE)]


@router.post("/sessions/{session_id}/stop")
def stop(session_id: str, request: Request) -> dict[str, object]:
    binder = authorise(request)
    session = stop_session(binder, session_id, "stopped by an operator")
    if session is None:
        raise HTTPException(404, "No such session.")
    return summary(session)


@router.get("/images")
def list_images(request: Request) -> list[dict[str, object]]:
    """Images, newest first, with their environment key, the build they came from and the
    repositories and commits whose sessions used them."""
    binder = authorise(request)
    return [report.model_dump(mode="json") for report in image_reports(binder)]
