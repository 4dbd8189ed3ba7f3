"""GET /repo/<user>/<repo>[/<path>]: the first Binder's links, redirected as BinderHub does."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

router = APIRouter()


@router.get("/repo/{user}/{repo}", include_in_schema=False)
@router.get("/repo/{user}/{repo}/{path:path}", include_in_schema=False)
def legacy_repo(request: Request, user: str, repo: str, path: str = "") -> RedirectResponse:
    """302 to /v2/gh/<user>/<repo>/master, with ?urlpath=/<path> when a path is given."""
    root = request.scope.get("root_path", "")
    # Quoted, so a crafted name cannot turn the Location into another site's address.
    url = f"{root}/v2/gh/{quote(user, safe='')}/{quote(repo, safe='')}/master"
    if path.strip("/"):
        url += "?" + urlencode({"urlpath": f"/{path}"})
    return RedirectResponse(url, status_code=302)
