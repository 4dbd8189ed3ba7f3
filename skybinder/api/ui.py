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
from skybinder.api.access import AccessPolicy, url_without_token
from skybinder.api.build import raw_spec
from skybinder.api.limits import LaunchRateLimit, check_page_rate
from skybinder.api.tokens import BuildTokens, token_origin
from skybinder.domain.errors import SkybinderError
from skybinder.domain.spec_rules import FORMS
from skybinder.domain.specs import (
    CkanSpec,
    GistSpec,
    GitHubSpec,
    GitLabSpec,
    GitSpec,
    HydroshareSpec,
    ParsedSpec,
    parse_spec,
)
from skybinder.service.binder import Binder

router = APIRouter()
PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
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
LATEST = "its latest version"
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
        parsed = parse_spec(provider, spec, allow_local=True)
    except SkybinderError as err:
        return bad_link(request, provider, err)
    access: AccessPolicy = request.app.state.access
    if access.foreign_navigation(request):
        # Another site's page sent the browser here: say what would run, launch on a click.
        return confirm_page(request, parsed)
    if not access.token_ok(request):
        return token_page(request)
    binder: Binder = request.app.state.binder
    names = {str(c.get("id")): str(c.get("displayName")) for c in binder.resolver.display_configs()}
    title = f"{names.get(provider, provider)}: {unquote(spec)}"
    text = render(
        "launch.html",
        root=root(request),
        version=__version__,
        title=title,
        description=DESCRIPTION,
        image=str(request.base_url).rstrip("/") + "/static/social.png",
        build_token=page_token(request, binder, f"{provider}/{spec}"),
    )
    return page(text, private=True)


def page_token(request: Request, binder: Binder, provider_spec: str) -> str:
    """The build token of a launch page: for this spec, origin and client address; "" when
    the client has had its launches' worth of tokens (its /build then counts as any)."""
    tokens: BuildTokens = request.app.state.build_tokens
    rate_limit: LaunchRateLimit | None = request.app.state.rate_limit
    ip = request.app.state.client_address(request)  # as /build reads it (CloudFront's in AWS)
    if rate_limit is not None and not check_page_rate(rate_limit, ip, binder.clock.now()).allowed:
        return ""
    return tokens.issue(provider_spec, token_origin(request), client=ip)


def confirm_page(request: Request, parsed: ParsedSpec) -> HTMLResponse:
    """What a launch would run, and a button that launches it: a link to this very page,
    which, followed from here, is a navigation of this binder's own."""
    repository, ref = describe(parsed)
    text = render(
        "confirm.html",
        root=root(request),
        version=__version__,
        title=repository,
        repository=repository,
        ref=ref,
        launch=url_without_token(request),
    )
    return page(text, private=True)


def describe(parsed: ParsedSpec) -> tuple[str, str]:
    """(the repository or record, the version) a spec names, as a person reads them."""
    match parsed:
        case GitHubSpec():
            return f"github.com/{parsed.user}/{parsed.repo}", parsed.ref
        case GistSpec():
            return f"gist {parsed.user}/{parsed.gist_id}", parsed.revision or LATEST
        case GitLabSpec():
            return parsed.namespace, parsed.ref
        case GitSpec():
            return parsed.url, parsed.ref
        case HydroshareSpec():
            return f"HydroShare {parsed.resource_id}", LATEST
        case CkanSpec():
            return parsed.url, parsed.activity_id or LATEST
        case _:
            return parsed.doi, LATEST


def token_page(request: Request) -> HTMLResponse:
    """Why nothing launched (the binder's access token is missing), and how to get in: a form
    that opens this page again with `?token=`."""
    hidden = "".join(
        render("hidden_input.html", field=name, value=value)
        for name, value in request.query_params.multi_items()
        if name != "token"
    )
    action = url_without_token(request).partition("?")[0]
    text = render("token.html", root=root(request), version=__version__, action=action)
    # Both parts are our templates with every value escaped: joining them inserts no raw input.
    return page(text.replace("<!-- hidden -->", hidden, 1), 403, private=True)


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
