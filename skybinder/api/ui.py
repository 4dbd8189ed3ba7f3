"""The pages: home (`/`), launch (`/v2/<provider>/<spec>`), bad-link pages, static assets.

Pages are HTML files in `pages/` with `{{name}}` placeholders. Every value put into a page goes
through `html.escape` (no raw insertion exists), and scripts and styles come only from our own
`static/` files, which the Content-Security-Policy enforces: a value that slipped through
escaping still could not run.
"""

from __future__ import annotations

import html
import re
from functools import cache
from importlib.resources import files
from urllib.parse import unquote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from skybinder import __version__
from skybinder.api.build import raw_spec
from skybinder.api.tokens import BuildTokens, token_origin
from skybinder.domain.errors import SkybinderError
from skybinder.domain.spec_rules import FORMS
from skybinder.domain.specs import parse_spec
from skybinder.service.binder import Binder

router = APIRouter()
PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
STATIC_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".png": "image/png",
}
DESCRIPTION = "Run this repository in JupyterLab, in your browser. Nothing to install."


@cache
def template(name: str) -> str:
    return (files("skybinder.api") / "pages" / name).read_text(encoding="utf-8")


def render(name: str, **values: str) -> str:
    """The page `name` with each `{{key}}` replaced by `values[key]`, HTML-escaped."""
    return PLACEHOLDER.sub(lambda m: html.escape(values[m.group(1)], quote=True), template(name))


def page(text: str, status_code: int = 200, *, private: bool = False) -> HTMLResponse:
    headers = dict(PAGE_HEADERS)
    # A launch page holds a build token: no cache may keep it and hand it to someone else.
    headers["Cache-Control"] = "no-store" if private else "public, max-age=300"
    return HTMLResponse(text, status_code=status_code, headers=headers)


def root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def home(request: Request) -> HTMLResponse:
    return page(render("home.html", root=root(request), version=__version__))


@router.get("/v2/{provider}", response_class=HTMLResponse, include_in_schema=False)
@router.get("/v2/{provider}/{spec:anypath}", response_class=HTMLResponse, include_in_schema=False)
def launch_page(request: Request) -> HTMLResponse:
    """The launch page, or a page saying why the link cannot work (400, 404)."""
    provider, spec = raw_spec(request, "/v2/")
    try:
        # Local paths pass here: whether this binder accepts them is the resolver's call, and
        # the stream says so in plain words.
        parse_spec(provider, spec, allow_local=True)
    except SkybinderError as err:
        return bad_link(request, provider, err)
    binder: Binder = request.app.state.binder
    tokens: BuildTokens = request.app.state.build_tokens
    names = {str(c.get("id")): str(c.get("displayName")) for c in binder.resolver.display_configs()}
    title = f"{names.get(provider, provider)}: {unquote(spec)}"
    text = render(
        "launch.html",
        root=root(request),
        version=__version__,
        title=title,
        description=DESCRIPTION,
        image=str(request.base_url).rstrip("/") + "/static/social.png",
        build_token=tokens.issue(f"{provider}/{spec}", token_origin(request)),
    )
    return page(text, private=True)


def bad_link(request: Request, provider: str, err: SkybinderError) -> HTMLResponse:
    """A page that says what is wrong with a /v2 link, the form it should have, an example."""
    known = provider in FORMS
    form, example = FORMS[provider if known else "gh"]
    heading = "This launch link is not valid" if known else "Unknown repository provider"
    text = render(
        "error.html",
        root=root(request),
        version=__version__,
        heading=heading,
        message=err.message,
        form=f"/v2/{form}",
        example=f"/v2/{example}",
        example_url=f"{root(request)}/v2/{example}",
    )
    return page(text, err.status_code)


@router.get("/static/{name}", include_in_schema=False)
def static(name: str) -> Response:
    """Our own assets, by exact file name: nothing outside `static/` can be named."""
    asset = static_assets().get(name)
    if asset is None:
        return Response("No such file.", status_code=404, media_type="text/plain")
    body, media_type = asset
    headers = {"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"}
    return Response(body, media_type=media_type, headers=headers)


@cache
def static_assets() -> dict[str, tuple[bytes, str]]:
    """Every file of `static/` with a known type, read once."""
    found: dict[str, tuple[bytes, str]] = {}
    for resource in (files("skybinder.api") / "static").iterdir():
        suffix = resource.name[resource.name.rfind(".") :]
        if resource.is_file() and suffix in STATIC_TYPES:
            found[resource.name] = (resource.read_bytes(), STATIC_TYPES[suffix])
    return found
