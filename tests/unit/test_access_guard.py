"""The local binder's guard (api/access.py), its ASGI callable driven in the test's own thread
with the scopes a server hands it: what each policy lets through to the app, and what it answers
instead (the API tests, tests/api/test_local_access.py, drive the whole app)."""

from __future__ import annotations

import json
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
from starlette.requests import HTTPConnection
from starlette.types import Message, Receive, Scope, Send

from skybinder.api.access import AccessGuard, AccessPolicy, url_without_token

TOKEN = "local-access-token-0123456789"
HOST = "127.0.0.1:8585"
COOKIE = "skybinder-token-8585"
EVIL = "https://evil.example"


@dataclass
class App:
    """The app behind the guard: it answers 200 "served" and remembers what reached it."""

    scopes: list[Scope] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scopes.append(scope)
        if scope["type"] == "lifespan":  # the server starts the app
            assert (await receive())["type"] == "lifespan.startup"
            await send({"type": "lifespan.startup.complete"})
        elif scope["type"] == "websocket":
            await send({"type": "websocket.accept"})
        else:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"served"})


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: str
    served: bool  # the request reached the app
    kind: str = "http"  # the ASGI message type's prefix: "http" or "websocket.http"

    def events(self) -> list[dict[str, object]]:
        assert self.headers["content-type"].startswith("text/event-stream")
        return [
            json.loads(line[6:]) for line in self.body.splitlines() if line.startswith("data: ")
        ]

    def failed(self) -> str:
        """The message of the one `failed` event with status 403 the answer holds."""
        assert self.status == 200  # as BinderHub answers every /build
        (event,) = self.events()
        assert event["phase"] == "failed" and event["status_code"] == 403
        return str(event["message"])


def local(token: str | None = TOKEN, **options: object) -> AccessPolicy:
    options.setdefault("hosts", {"lab-pc"})
    return AccessPolicy.local(token, port=8585, **options)  # type: ignore[arg-type]


Headers = Mapping[str, str | None]  # None: no such header


def scope_of(
    target: str,
    headers: Headers | None = None,
    *,
    method: str = "GET",
    kind: str = "http",
    scheme: str = "http",
) -> Scope:
    path, _, query = target.partition("?")
    given = {"host": HOST, **{k.lower(): v for k, v in (headers or {}).items()}}
    scope: Scope = {
        "type": kind,
        "scheme": scheme,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in given.items() if v is not None],
        "server": ("127.0.0.1", 8585),
        "client": ("127.0.0.1", 50000),
        "root_path": "",
    }
    if kind == "http":
        scope["method"] = method
    return scope


def run_to_end(call: Coroutine[Any, Any, None]) -> None:
    """Run an ASGI call that never waits (the app and the server's side here answer at once)
    in this thread, without an event loop: the browser tests' Playwright keeps one running in
    the test thread for the rest of the session, and asyncio.run() refuses to start another."""
    try:
        call.send(None)
    except StopIteration:
        return
    call.close()
    raise AssertionError("the guard waited for something neither the app nor the server sends")


def ask(policy: AccessPolicy, scope: Scope) -> Answer:
    app = App()
    sent: list[Message] = []

    async def receive() -> Message:
        if scope["type"] == "lifespan":
            return {"type": "lifespan.startup"}
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    run_to_end(AccessGuard(app, policy)(scope, receive, send))
    if scope["type"] == "lifespan":
        assert sent == [{"type": "lifespan.startup.complete"}]
        return Answer(0, {}, "", served=app.scopes == [scope], kind="lifespan")
    if sent == [{"type": "websocket.accept"}]:
        return Answer(101, {}, "", served=app.scopes == [scope], kind="websocket")
    start, *bodies = sent
    kind = str(start["type"]).removesuffix(".response.start")
    headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    body = b"".join(m.get("body", b"") for m in bodies).decode()
    return Answer(start["status"], headers, body, served=bool(app.scopes), kind=kind)


def get(policy: AccessPolicy, target: str, headers: Headers | None = None, **how: str) -> Answer:
    return ask(policy, scope_of(target, headers, **how))


def connection(headers: Headers | None = None, target: str = "/") -> HTTPConnection:
    return HTTPConnection(scope_of(target, headers))


AUTH = {"Authorization": f"token {TOKEN}"}


# -- the policies --------------------------------------------------------------------------


def test_the_open_policy_is_binderhubs_and_lets_every_request_through() -> None:
    policy = AccessPolicy.open()
    assert policy.allow_origins == ("*",) and not policy.needs_token
    anyone = {"Host": "evil.example", "Origin": EVIL, "Sec-Fetch-Site": "cross-site"}
    for target in ("/build/gh/u/r/HEAD", "/api/sessions/s1", "/v2/gh/u/r/HEAD", "/health"):
        assert get(policy, target, anyone).served
    # No token is needed: a page opened with one is served as it is, and sets no cookie.
    page = get(policy, f"/v2/gh/u/r/HEAD?token={TOKEN}")
    assert page.served and "set-cookie" not in page.headers
    assert not policy.foreign_navigation(connection({"Sec-Fetch-Site": "cross-site"}))


def test_a_local_policy_keeps_its_token_origins_names_and_a_cookie_per_port() -> None:
    policy = AccessPolicy.local(
        TOKEN, port=9999, allow_origins=["https://book.example"], hosts=["lab-pc"]
    )
    assert policy.needs_token and policy.token == TOKEN
    assert policy.allow_origins == ("https://book.example",)
    assert policy.hosts == frozenset({"lab-pc"}) and policy.guard_sites
    assert policy.cookie == "skybinder-token-9999"  # cookies ignore ports: one per binder
    bare = AccessPolicy.local(TOKEN, port=8585)
    assert bare.allow_origins == () and bare.hosts == frozenset()


@pytest.mark.parametrize("token", ["", None])
def test_the_token_off_switch_needs_no_token_but_still_guards_sites_and_names(
    token: str | None,
) -> None:
    policy = local(token)  # `skybinder serve --token ''`
    assert not policy.needs_token and policy.token is None
    assert get(policy, "/build/gh/u/r/HEAD").served
    assert get(policy, "/api/sessions/s1").served
    assert get(policy, "/", {"Cookie": f"{COOKIE}="}).served
    assert not get(policy, "/build/gh/u/r/HEAD", {"Origin": EVIL}).served
    assert get(policy, "/health", {"Host": "evil.example"}).status == 403
    page = get(policy, "/v2/gh/u/r/HEAD?token=anything")  # nothing to keep in a cookie
    assert page.served and "set-cookie" not in page.headers


# -- the token -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "headers"),
    [
        ("/build/gh/u/r/HEAD", AUTH),
        ("/build/gh/u/r/HEAD", {"Authorization": f"Bearer {TOKEN}"}),
        (f"/build/gh/u/r/HEAD?token={TOKEN}", {}),
        ("/build/gh/u/r/HEAD", {"Cookie": f"{COOKIE}={TOKEN}"}),
        (f"/api/sessions/s1?token={TOKEN}", {}),
        ("/api/sessions/s1/events", {"Cookie": f"other=1; {COOKIE}={TOKEN}"}),
    ],
)
def test_the_token_as_header_query_or_this_binders_cookie(
    target: str, headers: dict[str, str]
) -> None:
    assert get(local(), target, headers).served


@pytest.mark.parametrize(
    ("target", "headers"),
    [
        ("/build/gh/u/r/HEAD", {}),
        ("/build/gh/u/r/HEAD", {"Authorization": "token wrong"}),
        ("/build/gh/u/r/HEAD", {"Authorization": f"Basic {TOKEN}"}),
        ("/build/gh/u/r/HEAD?token=wrong", {}),
        (f"/build/gh/u/r/HEAD?TOKEN={TOKEN}", {}),  # query parameters are case-sensitive
        ("/build/gh/u/r/HEAD", {"Cookie": f"skybinder-token-8586={TOKEN}"}),  # another binder's
        ("/build/gh/u/r/HEAD", {"Cookie": f"skybinder-token={TOKEN}"}),
    ],
)
def test_launches_without_the_right_token_get_one_failed_event(
    target: str, headers: dict[str, str]
) -> None:
    answer = get(local(), target, headers)
    assert not answer.served and answer.kind == "http"
    message = answer.failed()
    assert "needs its access token" in message and "Authorization: token" in message
    assert TOKEN not in answer.body


@pytest.mark.parametrize("token", ["XXXX", "pass word", "a" * 64])
def test_an_operators_own_token_opens_launches_and_nothing_else_does(token: str) -> None:
    policy = local(token)  # `skybinder serve --token VALUE`, whatever the operator chose
    assert not get(policy, "/build/gh/u/r/HEAD").served
    assert not get(policy, "/build/gh/u/r/HEAD", {"Cookie": f"{COOKIE}="}).served
    assert get(policy, "/build/gh/u/r/HEAD", {"Authorization": f"token {token}"}).served
    assert get(policy, "/build/gh/u/r/HEAD", {"Cookie": f'{COOKIE}="{token}"'}).served


def test_session_information_without_the_token_is_a_403_in_json() -> None:
    answer = get(local(), "/api/sessions/s1", {"Authorization": "token wrong"})
    assert not answer.served and answer.status == 403
    assert answer.headers["content-type"] == "application/json"
    assert "needs its access token" in json.loads(answer.body)["detail"]
    stream = get(local(), "/api/sessions/s1/events?resume=x")  # an event stream: its own form
    assert not stream.served and "needs its access token" in stream.failed()


@pytest.mark.parametrize("target", ["/", "/health", "/v2/gh/u/r/HEAD", "/badge_logo.svg"])
def test_pages_and_assets_need_no_token(target: str) -> None:
    assert get(local(), target).served


def test_a_cors_preflight_carries_no_credentials_and_is_let_through() -> None:
    preflight = {"Origin": "https://book.example", "Access-Control-Request-Method": "GET"}
    policy = local(allow_origins=["https://book.example"])
    assert get(policy, "/build/gh/u/r/HEAD", preflight, method="OPTIONS").served
    assert not get(policy, "/build/gh/u/r/HEAD", preflight, method="GET").served
    # An unlisted site's preflight is refused as its request would be.
    evil = get(local(), "/build/gh/u/r/HEAD", {"Origin": EVIL}, method="OPTIONS")
    assert not evil.served and "other sites" in evil.failed()


# -- other sites ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "headers", "named"),
    [
        ("/build/gh/u/r/HEAD", {"Origin": EVIL}, EVIL),
        ("/build/gh/u/r/HEAD", {"Origin": "null"}, "null"),
        ("/build/gh/u/r/HEAD", {"Sec-Fetch-Site": "cross-site"}, "another site"),
        ("/api/sessions/s1/events", {"Sec-Fetch-Site": "same-site"}, "another site"),
    ],
)
def test_requests_other_sites_make_are_refused_with_the_token(
    target: str, headers: dict[str, str], named: str
) -> None:
    answer = get(local(), target, {**AUTH, **headers})
    assert not answer.served
    assert f"a page on {named} asked for this" in answer.failed()


def test_other_sites_may_not_call_the_rest_of_the_api_either() -> None:
    answer = get(local(), "/api/events/swc", {"Origin": EVIL})
    assert not answer.served and answer.status == 403
    assert "does not accept launches from other sites" in json.loads(answer.body)["detail"]


@pytest.mark.parametrize("target", ["/", "/v2/gh/u/r/HEAD", "/health", "/e/swc-2030"])
def test_other_sites_may_link_to_pages_which_ask_before_launching(target: str) -> None:
    headers = {"Origin": EVIL, "Sec-Fetch-Site": "cross-site", "Cookie": f"{COOKIE}={TOKEN}"}
    assert get(local(), target, headers).served


def test_listed_origins_and_the_binders_own_pages_pass() -> None:
    policy = local(allow_origins=["https://book.example"])
    listed = {**AUTH, "Origin": "https://book.example", "Sec-Fetch-Site": "cross-site"}
    assert get(policy, "/build/gh/u/r/HEAD", listed).served
    own = {**AUTH, "Origin": "http://lab-pc:8585", "Host": "lab-pc:8585"}
    assert get(policy, "/build/gh/u/r/HEAD", own).served
    assert not get(policy, "/build/gh/u/r/HEAD", {**AUTH, "Origin": EVIL}).served
    anyone = local(allow_origins=["*"])  # `--allow-origin '*'`: every site, still the token
    assert get(anyone, "/build/gh/u/r/HEAD", {**AUTH, "Origin": EVIL}).served
    assert not get(anyone, "/build/gh/u/r/HEAD", {"Origin": EVIL}).served


@pytest.mark.parametrize("name", ["127.0.0.1:8585", "xxxx"])
def test_without_a_host_header_no_page_is_ours(name: str) -> None:
    # The guard refuses such a request first; the policy's own answers agree, whatever the
    # machine is called.
    policy = local(allow_origins=["https://book.example"], hosts={name})
    assert policy.foreign(connection({"Origin": f"http://{name}", "host": None}))
    assert not policy.foreign(connection({"Origin": "https://book.example", "host": None}))
    assert policy.foreign_navigation(connection({"Referer": f"http://{name}/", "host": None}))
    assert not policy.host_ok(connection({"host": None}))


def test_a_navigation_from_another_site_is_told_from_ours() -> None:
    policy = local()
    assert policy.foreign_navigation(connection({"Sec-Fetch-Site": "cross-site"}))
    assert policy.foreign_navigation(connection({"Referer": "https://evil.example/p"}))
    assert not policy.foreign_navigation(connection({"Referer": f"http://{HOST}/"}))
    assert not policy.foreign_navigation(connection({"Sec-Fetch-Site": "none"}))
    named = {"Host": "lab-pc:8585", "Referer": "http://lab-pc:8585/"}
    assert not policy.foreign_navigation(connection(named))


# -- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["/", "/health", "/build/gh/u/r/HEAD", "/static/x.css"])
def test_a_name_the_binder_does_not_serve_is_refused_first(target: str) -> None:
    # DNS rebinding: evil.example, resolved to 127.0.0.1 after the browser trusted it.
    headers = {**AUTH, "Host": "evil.example:8585", "Origin": EVIL}
    answer = get(local(), f"{target}?token={TOKEN}", headers)
    assert not answer.served and answer.status == 403
    assert answer.headers["content-type"].startswith("text/plain")
    assert answer.body == (
        "This binder does not answer to the name evil.example:8585. Open it at the address "
        "`skybinder serve` printed, or start it with --allow-host evil.example."
    )
    assert "set-cookie" not in answer.headers


@pytest.mark.parametrize("names", [{"lab-pc"}, {"xxxx"}])
def test_a_request_without_a_host_header_is_refused(names: set[str]) -> None:
    # Whatever the machine is called, a request that names nothing names no binder.
    answer = get(local(hosts=names), "/health", {"host": None})
    assert not answer.served and answer.status == 403
    assert "does not answer to the name (none)." in answer.body


@pytest.mark.parametrize("host", ["lab-pc:8585", "localhost:8585", "[::1]:8585", "192.0.2.7"])
def test_the_binders_own_names_are_served(host: str) -> None:
    assert get(local(), "/health", {"Host": host}).served
    assert local().host_ok(connection({"Host": host}))


# -- the cookie ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "back"),
    [
        (f"/?token={TOKEN}", "/"),
        (f"/v2/gh/u/r/HEAD?token={TOKEN}&labpath=a.ipynb", "/v2/gh/u/r/HEAD?labpath=a.ipynb"),
        (
            f"/v2/gh/u/r/HEAD?token=x&labpath=a.ipynb&token={TOKEN}",
            "/v2/gh/u/r/HEAD?labpath=a.ipynb",
        ),
        (f"/e/swc-2030?token={TOKEN}", "/e/swc-2030"),
        (f"/repo/u/r?token={TOKEN}", "/repo/u/r"),
    ],
)
def test_a_page_opened_with_the_token_sets_the_cookie_and_drops_the_token(
    target: str, back: str
) -> None:
    answer = get(local(), target)
    assert not answer.served and answer.status == 303
    assert answer.headers["location"] == back
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["set-cookie"] == (f"{COOKIE}={TOKEN}; Path=/; HttpOnly; SameSite=Strict")


def test_over_https_the_cookie_is_secure() -> None:
    answer = get(local(), f"/v2/gh/u/r/HEAD?token={TOKEN}", scheme="https")
    assert answer.headers["set-cookie"].endswith("; HttpOnly; SameSite=Strict; Secure")
    assert local().cookie_header() == f"{COOKIE}={TOKEN}; Path=/; HttpOnly; SameSite=Strict"
    assert local().cookie_header(secure=True) == (
        f"{COOKIE}={TOKEN}; Path=/; HttpOnly; SameSite=Strict; Secure"
    )


@pytest.mark.parametrize(
    ("target", "method"),
    [
        ("/?token=wrong", "GET"),  # a wrong token: the page says what is needed
        (f"/?token={TOKEN}", "HEAD"),
        (f"/v2/gh/u/r/HEAD?token={TOKEN}", "POST"),
        (f"/health?token={TOKEN}", "GET"),  # not a page
        (f"/v2?token={TOKEN}", "GET"),
        (f"/index.html?token={TOKEN}", "GET"),
    ],
)
def test_only_a_page_opened_with_the_right_token_is_redirected(target: str, method: str) -> None:
    answer = get(local(), target, method=method)
    assert answer.served and "set-cookie" not in answer.headers


# -- the address a page goes back to --------------------------------------------------------


def test_the_address_without_the_token_keeps_the_path_as_it_came() -> None:
    spec = quote("group/project", safe="")
    request = connection(target=f"/v2/gl/{spec}/main?token=t&labpath=a%20b.ipynb&x=1")
    assert url_without_token(request) == "/v2/gl/group%2Fproject/main?labpath=a+b.ipynb&x=1"


def test_the_address_without_the_token_never_names_another_host() -> None:
    assert url_without_token(connection(target="//evil.example/x?token=t")) == "/evil.example/x"
    idn = "///XN--80AK6AA92E.COM/?token=t"  # an internationalised name, as the URL spells it
    assert url_without_token(connection(target=idn)) == "/XN--80AK6AA92E.COM/"
    scope = scope_of("/v2/gh/u/r/HEAD?token=t")
    del scope["raw_path"]  # servers may leave it out: the decoded path serves
    assert url_without_token(HTTPConnection(scope)) == "/v2/gh/u/r/HEAD"


# -- what is not HTTP ----------------------------------------------------------------------


def test_lifespan_events_reach_the_app_whatever_the_policy() -> None:
    assert ask(local(), {"type": "lifespan", "asgi": {"version": "3.0"}}).served


def test_websockets_are_guarded_as_requests_and_refused_before_the_handshake() -> None:
    wrong_host = ask(local(), scope_of("/api/x", {"Host": "evil.example"}, kind="websocket"))
    assert not wrong_host.served
    assert (wrong_host.kind, wrong_host.status) == ("websocket.http", 403)
    foreign = ask(local(), scope_of("/api/x", {"Origin": EVIL}, kind="websocket"))
    assert not foreign.served and foreign.status == 403
    no_token = ask(local(), scope_of("/api/sessions/s1", kind="websocket"))
    assert not no_token.served and no_token.status == 403
    assert ask(local(), scope_of("/api/sessions/s1", AUTH, kind="websocket")).served
    # A WebSocket has no method: it is checked as the GET of its handshake, a page's too.
    page = ask(local(), scope_of(f"/v2/gh/u/r/HEAD?token={TOKEN}", kind="websocket"))
    assert (page.kind, page.status, page.served) == ("websocket.http", 303, False)
