"""The access policy of the HTTP app: open as BinderHub in AWS, guarded on a local machine.

`AccessPolicy.open()` is BinderHub's behaviour (CORS `*`, no token): in AWS a launch lands in
a disposable Fargate task with no role. `AccessPolicy.local(...)` guards a binder that runs
repositories on the user's own machine (README: "The local threat model"):

- every request must name the binder in its Host header (DNS rebinding);
- `/build/...` and `/api/...` refuse requests another site made a browser send (Origin,
  Sec-Fetch-Site), unless the operator listed that origin (`--allow-origin`);
- launches and session information need the access token: `Authorization: token <t>`,
  `?token=<t>`, or the cookie a page sets when it is opened with `?token=`.

`AccessGuard` applies the rules that do not depend on the route before the app runs, so a
refused request never reaches a use case; the launch page asks `AccessPolicy` itself, as it
answers with pages of its own (ui.py).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from urllib.parse import urlencode

from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from skybinder.api import access_rules as rules
from skybinder.api.stream import failed_event

COOKIE_PREFIX = "skybinder-token"
# Paths that need the token: launches and what a session's page may learn about it. The
# admin API has its own credentials; badges, pages and assets are public.
TOKEN_PATHS = ("/build/", "/api/sessions/")
# Paths other sites' pages may not make a browser call (their pages have nothing to fear:
# a navigation to /v2 is asked about first, by the page itself).
GUARDED_PATHS = ("/build/", "/api/")
# Pages that, opened with ?token=, set the cookie and drop the token from the address bar.
PAGE_PATHS = ("/v2/", "/e/", "/repo/")
FOREIGN = (
    "This binder does not accept launches from other sites: a page on {origin} asked for "
    "this. Open the launch link on the binder itself, or start the binder with "
    "--allow-origin for a site you trust to run code on this machine."
)
NEEDS_TOKEN = (
    "This binder needs its access token. Open the link `skybinder serve` printed (it ends "
    "in ?token=...), or send the header `Authorization: token <token>`; the token is in the "
    "file `token` of the binder's data directory."
)
WRONG_HOST = (
    "This binder does not answer to the name {host}. Open it at the address `skybinder serve` "
    "printed, or start it with --allow-host {name}."
)


@dataclass(frozen=True)
class AccessPolicy:
    """What a request must show. `token` None: no token needed; `hosts` None: any Host."""

    token: str | None = None
    allow_origins: tuple[str, ...] = ("*",)
    hosts: frozenset[str] | None = None
    guard_sites: bool = False  # refuse requests (and ask about navigations) from other sites
    cookie: str = COOKIE_PREFIX

    @classmethod
    def open(cls) -> AccessPolicy:
        """BinderHub's behaviour: every origin, no token, any name (the AWS mode)."""
        return cls()

    @classmethod
    def local(
        cls,
        token: str | None,
        *,
        port: int,
        allow_origins: Collection[str] = (),
        hosts: Collection[str] = (),
    ) -> AccessPolicy:
        """A binder on this machine: its token, the origins and names the operator lists."""
        return cls(
            token=token or None,
            allow_origins=tuple(allow_origins),
            hosts=frozenset(hosts),
            guard_sites=True,
            cookie=f"{COOKIE_PREFIX}-{port}",  # cookies ignore ports: one name per binder
        )

    @property
    def needs_token(self) -> bool:
        return self.token is not None

    def token_ok(self, request: HTTPConnection) -> bool:
        """True when no token is needed, or the request carries the right one."""
        if self.token is None:
            return True
        given = rules.token_given(
            request.headers.get("authorization", ""),
            request.query_params.get("token", ""),
            request.cookies.get(self.cookie, ""),
        )
        return rules.token_matches(given, self.token)

    def foreign(self, request: HTTPConnection) -> bool:
        """True when another (unlisted) site made a browser send this request."""
        if not self.guard_sites:
            return False
        headers = request.headers
        return rules.is_foreign_request(
            headers.get("origin"),
            headers.get("sec-fetch-site"),
            headers.get("host", ""),
            self.allow_origins,
        )

    def foreign_navigation(self, request: HTTPConnection) -> bool:
        """True when a page of another site led the browser to this page."""
        if not self.guard_sites:
            return False
        headers = request.headers
        return rules.is_foreign_navigation(
            headers.get("sec-fetch-site"), headers.get("referer"), headers.get("host", "")
        )

    def host_ok(self, request: HTTPConnection) -> bool:
        return self.hosts is None or rules.host_allowed(request.headers.get("host", ""), self.hosts)

    def cookie_header(self, *, secure: bool = False) -> str:
        """The Set-Cookie value that keeps the token for the pages and streams of this binder:
        HttpOnly (no script reads it), SameSite=Strict (no other site's request carries it),
        and Secure when the binder is reached over https."""
        flags = "; Secure" if secure else ""
        return f"{self.cookie}={self.token}; Path=/; HttpOnly; SameSite=Strict{flags}"


@dataclass
class AccessGuard:
    """ASGI middleware: the route-independent checks of `policy`, before anything runs."""

    app: ASGIApp
    policy: AccessPolicy = field(default_factory=AccessPolicy.open)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refusal = self.refusal(HTTPConnection(scope))  # headers, query, cookies: never a body
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def refusal(self, request: HTTPConnection) -> Response | None:
        """The answer that refuses `request`, or None to let the app serve it."""
        policy = self.policy
        path = request.url.path
        method = str(request.scope.get("method", "GET"))  # a WebSocket has none: a GET
        if not policy.host_ok(request):
            host = request.headers.get("host", "")
            message = WRONG_HOST.format(host=host or "(none)", name=rules.host_name(host))
            return PlainTextResponse(message, status_code=403)
        if path.startswith(GUARDED_PATHS) and policy.foreign(request):
            origin = request.headers.get("origin") or "another site"
            return refuse(path, FOREIGN.format(origin=origin))
        # A CORS preflight never carries credentials; CORSMiddleware answers it for listed origins.
        if path.startswith(TOKEN_PATHS) and method != "OPTIONS" and not policy.token_ok(request):
            return refuse(path, NEEDS_TOKEN)
        page = path == "/" or path.startswith(PAGE_PATHS)
        if page and method == "GET" and "token" in request.query_params:
            return _without_token(request, policy)
        return None


def refuse(path: str, message: str) -> Response:
    """A 403 in the form the route speaks: one `failed` event for event streams (HTTP 200,
    as BinderHub answers every /build), JSON for the rest of the API."""
    if path.startswith("/build/") or path.endswith("/events"):
        return Response(failed_event(message, 403), media_type="text/event-stream")
    return JSONResponse({"detail": message}, status_code=403)


def url_without_token(request: HTTPConnection) -> str:
    """The path and query of `request` as it came (still percent-encoded: a spec's `%2F` must
    stay one), without `token`. Always a path on this binder, never `//host/...`."""
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    path = "/" + raw_path.decode("latin-1").lstrip("/")
    rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
    return path + (f"?{urlencode(rest)}" if rest else "")


def _without_token(request: HTTPConnection, policy: AccessPolicy) -> Response | None:
    """A page opened with the right `?token=`: the cookie, and the same page without it, so the
    token leaves the address bar (and the history, and the Referer of links)."""
    if not policy.needs_token or not policy.token_ok(request):
        return None  # no token needed, or a wrong one: the page itself says what is needed
    headers = {"Cache-Control": "no-store"}
    reply = RedirectResponse(url_without_token(request), status_code=303, headers=headers)
    reply.headers["Set-Cookie"] = policy.cookie_header(secure=request.url.scheme == "https")
    return reply
