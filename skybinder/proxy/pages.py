"""What the proxy answers when it cannot forward: a page for browsers, JSON for programs.

Never a bare 502: each answer says what happened and what to do, with the session's launch
link when it is known. Browsers (Accept: text/html) get a small self-contained page; a
session still starting gets one that reloads itself. Everything else gets JSON in Jupyter
Server's error shape ({"message": ..., "reason": ...}) plus a `status` word.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from html import escape

from aiohttp import web

from skybinder.domain.model import SessionRoute

RETRY_SECONDS = 2
REASON_CHARS = 300


@dataclass(frozen=True)
class Answer:
    status: int
    word: str  # the `status` of the JSON answer: malformed, unknown, starting, ended, ...
    title: str
    message: str
    launch: str = ""  # where to launch the session again ("" when not known)
    refresh: bool = False  # the page reloads itself (the session is on its way)


def malformed() -> Answer:
    return Answer(
        400,
        "malformed",
        "Not a session address",
        "This address does not name a session: session addresses look like "
        "/s/<session id>/. Check the link you followed.",
    )


def unknown() -> Answer:
    return Answer(
        404,
        "unknown",
        "No such session",
        "No session has this address. The link may be mistyped, or the session "
        "ended long ago. Launch the repository again from its Binder link.",
    )


def starting(route: SessionRoute) -> Answer:
    return Answer(
        503,
        "starting",
        "Your session is still starting",
        "The server of this session is starting. This page reloads itself until it is ready.",
        launch=route.launch_path(),
        refresh=True,
    )


def ended(route: SessionRoute) -> Answer:
    why = _reason(route.reason)
    message = "This session has ended" + (f" ({why})" if why else "") + ". Launch it again"
    message += " to get a new one." if route.launch_path() else " from its Binder link."
    return Answer(
        410,
        "ended",
        "This session has ended — launch it again",
        message,
        launch=route.launch_path(),
    )


def unreachable(route: SessionRoute) -> Answer:
    return Answer(
        502,
        "unreachable",
        "The session's server is not answering",
        "The server of this session could not be reached: it may have just "
        "stopped. Reload in a moment, or launch it again.",
        launch=route.launch_path(),
    )


def timed_out(route: SessionRoute) -> Answer:
    return Answer(
        504,
        "timeout",
        "The session's server did not answer in time",
        "The server of this session took too long to answer. It may be busy or "
        "stuck; reload to try again, or launch it again.",
        launch=route.launch_path(),
    )


def store_unavailable() -> Answer:
    return Answer(
        503,
        "unavailable",
        "Sessions cannot be looked up right now",
        "The binder could not look up this session just now. Reload in a few seconds.",
        refresh=True,
    )


def binder_unreachable() -> Answer:
    return Answer(
        502,
        "unreachable",
        "The binder is not answering",
        "The binder behind this address is not answering. It may be restarting: "
        "reload in a few seconds.",
    )


def respond(request: web.BaseRequest, answer: Answer, session_id: str = "") -> web.Response:
    headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    if answer.status == 503:
        headers["Retry-After"] = str(RETRY_SECONDS)
    if _wants_html(request):
        headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
        )
        return web.Response(
            status=answer.status,
            text=_page(answer),
            headers=headers,
            content_type="text/html",
            charset="utf-8",
        )
    body: dict[str, object] = {
        "status": answer.word,
        "message": answer.message,
        "reason": answer.title,
    }
    if session_id:
        body["session_id"] = session_id
    if answer.launch:
        body["launch"] = answer.launch
    return web.Response(
        status=answer.status,
        text=json.dumps(body),
        headers=headers,
        content_type="application/json",
    )


def _wants_html(request: web.BaseRequest) -> bool:
    return "text/html" in request.headers.get("Accept", "") and request.method in {"GET", "HEAD"}


def _reason(reason: str) -> str:
    first = reason.strip().splitlines()[0] if reason.strip() else ""
    return first if len(first) <= REASON_CHARS else first[: REASON_CHARS - 1] + "…"


def _page(answer: Answer) -> str:
    refresh = f'<meta http-equiv="refresh" content="{RETRY_SECONDS}">' if answer.refresh else ""
    link = (
        f'<p><a class="button" href="{escape(answer.launch)}">Launch it again</a></p>'
        if answer.launch and not answer.refresh
        else ""
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">{refresh}
<title>{escape(answer.title)} · skybinder</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto;
       padding: 0 1rem; color: #1f2328; line-height: 1.5 }}
h1 {{ font-size: 1.5rem }} .code {{ color: #59636e }}
.button {{ display: inline-block; padding: .5rem 1rem; background: #e66581; color: #fff;
          border-radius: .3rem; text-decoration: none }}
</style></head>
<body><main>
<h1>{escape(answer.title)}</h1>
<p>{escape(answer.message)}</p>
{link}
<p class="code">{answer.status} · <a href="/">skybinder home</a></p>
</main></body></html>
"""
