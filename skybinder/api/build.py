"""GET /build/<provider>/<spec>: launch (or only build) and stream the progress."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from functools import partial
from typing import TypeVar, cast
from urllib.parse import quote, unquote

import anyio.to_thread
from anyio import CapacityLimiter
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.convertors import PathConvertor, register_url_convertor

from skybinder.api.limits import LaunchRateLimit, check_launch_rate, rate_limit_message
from skybinder.api.stream import Closing, failed_event, with_keepalive, within
from skybinder.api.tokens import BuildTokens, first_use, token_origin
from skybinder.domain.errors import SkybinderError
from skybinder.domain.model import Session
from skybinder.service.access_codes import check_access_code
from skybinder.service.binder import Binder
from skybinder.service.events import request_event_launch
from skybinder.service.launch import request_launch
from skybinder.service.ports import RateLimiter
from skybinder.service.resume import attach_resume, with_resume
from skybinder.service.watch import watch

log = logging.getLogger(__name__)


class AnyPath(PathConvertor):
    """Like `path`, but also across newlines: a spec holding one must reach the spec rules
    (and end in a `failed` event), not stop the route from matching (a bare 404)."""

    regex = r"[\s\S]*"


register_url_convertor("anypath", AnyPath())
router = APIRouter()
T = TypeVar("T")
_END = object()
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
BUILD_ONLY_EVENT = (
    "An event launch starts a session for an attendee, so it cannot be build_only. "
    "Leave out build_only, or event."
)


def raw_spec(request: Request, prefix: str) -> tuple[str, str]:
    """(provider, spec) from the raw, still percent-encoded path, as BinderHub reads it.

    `gl/group%2Fproject/main` must keep its `%2F`: decoding first would change the spec.
    """
    raw_path = request.scope.get("raw_path")  # optional in ASGI: some servers leave it out
    if raw_path:
        raw = raw_path.decode("latin-1")
    else:  # the decoded path, encoded again, is the best we have then
        raw = quote(request.scope["path"], safe="/:@!$&'()*+,;=~")
    root = request.scope.get("root_path", "")
    if root and raw.startswith(root):
        raw = raw[len(root) :]
    rest = raw[len(prefix) :].rstrip("/")
    provider, _, spec = rest.partition("/")
    return unquote(provider), spec


def accepts_event_stream(request: Request) -> bool:
    """EventSource sends `Accept: text/event-stream`; curl-style clients often send none."""
    accept = request.headers.get("accept", "")
    return not accept or "text/event-stream" in accept or "*/*" in accept


@router.get("/build/{provider}/{spec:anypath}", response_class=StreamingResponse)
def build(request: Request) -> StreamingResponse:
    binder: Binder = request.app.state.binder
    keepalive: float = request.app.state.keepalive
    limit: float = request.app.state.stream_limit
    provider, spec = raw_spec(request, "/build/")
    ip = request.app.state.client_address(request)
    headers = dict(SSE_HEADERS)
    refusal, exempt = _admit(request, binder, provider, spec, ip, headers)
    launch = _launcher(request, binder, provider, spec, ip=ip, token_ok=exempt)
    closing = Closing(request.app.state.closing)

    async def events() -> AsyncIterator[str]:
        if refusal is not None:
            yield failed_event(*refusal)
            return
        # A stream lasts as long as its build. Its blocking steps run one at a time in a thread
        # of its own, not in the pool the other endpoints share, and a step is at most one poll,
        # so a client that leaves is let go of within a poll.
        limiter = CapacityLimiter(1)
        try:
            session = await anyio.to_thread.run_sync(launch, limiter=limiter)
            # The first event hands the page a secret to reattach with if the stream drops.
            resume = await anyio.to_thread.run_sync(
                lambda: attach_resume(binder, session.id), limiter=limiter
            )
            steps = in_thread(with_resume(watch(binder, session.id), session.id, resume), limiter)
            bounded = within(steps, limit, lambda: session.id)
            async for frame in with_keepalive(closing.items(bounded), keepalive):
                yield frame
            for frame in closing.last():
                yield frame
        except SkybinderError as err:  # refused before anything was written (a wrong code)
            yield failed_event(err.message, err.status_code)
        except Exception:  # a fault below the app ends the stream with a failed event, not a cut
            log.exception("the /build stream for %s/%s failed", provider, spec)
            yield failed_event("Something went wrong on our side. Please try again.", 500)

    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


def _admit(
    request: Request, binder: Binder, provider: str, spec: str, ip: str, headers: dict[str, str]
) -> tuple[tuple[str, int] | None, bool]:
    """Why the request is refused, as (message, status), or None; and whether its build token
    exempts it from the launch rate limit. Decided before anything is resolved or written.

    An event's access code is checked (and a wrong one counted) before the rate limit, whose
    exemption for events depends on the code: the limit's answer must not tell a guesser
    whether a code was right.
    """
    query = request.query_params
    if not accepts_event_stream(request):
        return ("Requests to /build must accept text/event-stream.", 400), False
    slug = query.get("event")
    if slug and query.get("build_only", "").lower() == "true":
        return (BUILD_ONLY_EVENT, 400), False
    try:
        exempt = _token_exempts(request, binder, f"{provider}/{spec}", ip)
        if slug:
            _check_code(request, binder, slug, ip)
    except SkybinderError as err:
        return (err.message, err.status_code), False
    rate_limit: LaunchRateLimit | None = request.app.state.rate_limit
    if rate_limit is None or _rate_exempt(binder, request, provider, spec, exempt):
        return None, exempt
    result = check_launch_rate(rate_limit, ip, binder.clock.now())
    headers.update(result.headers())
    if not result.allowed:
        return (rate_limit_message(result), 429), exempt
    return None, exempt


def _token_exempts(request: Request, binder: Binder, provider_spec: str, ip: str) -> bool:
    """True when the request's build token is valid, was issued to this client, and is used
    for the first time; BuildTokenError when it is invalid."""
    tokens: BuildTokens = request.app.state.build_tokens
    token = request.query_params.get("build_token", "")
    token_id = tokens.check(token, provider_spec, token_origin(request), client=ip)
    if token_id is None:
        return False
    limiter: RateLimiter | None = request.app.state.limiter
    return limiter is None or first_use(limiter, token_id, tokens.lifetime, binder.clock.now())


def _check_code(request: Request, binder: Binder, slug: str, ip: str) -> None:
    """AccessCodeError for a wrong code (counted) or while this address's guesses are
    throttled; the launch checks the rest of the event (its window, its repository)."""
    limiter: RateLimiter | None = request.app.state.limiter
    event = binder.store.get_event(slug)
    if limiter is not None and event is not None:
        check_access_code(binder, limiter, event, request.query_params.get("code"), ip)


def _launcher(
    request: Request, binder: Binder, provider: str, spec: str, *, ip: str, token_ok: bool
) -> Callable[[], Session]:
    """The launch the request asks for: an attendee's into `?event=` or an ordinary one."""
    query = request.query_params
    host = str(request.base_url)
    if query.get("event"):
        return partial(
            request_event_launch,
            binder,
            provider,
            spec,
            slug=query["event"],
            code=query.get("code") or None,
            client_ip=ip,
            launch_host=host,
        )
    return partial(
        request_launch,
        binder,
        provider,
        spec,
        client_ip=ip,
        launch_host=host,
        build_only=query.get("build_only", "").lower() == "true",
        build_token=token_ok,
    )


def _rate_exempt(
    binder: Binder, request: Request, provider: str, spec: str, token_ok: bool
) -> bool:
    """A valid build token (from our own /v2 page) exempts a launch, as in BinderHub. So does
    a launch into an open event with its access code, for the event's own repository: a
    workshop room shares one address, and the event's seats and budget bound it. Guesses at
    a code, events without a code, and launches outside the window still count."""
    slug = request.query_params.get("event")
    if token_ok or not slug:
        return token_ok
    event = binder.store.get_event(slug)
    if event is None or not event.access_code_hash or not event.spec_matches(provider, spec):
        return False
    now = binder.clock.now()
    if event.closed_at is not None or not event.starts_at <= now < event.ends_at:
        return False
    return event.code_ok(request.query_params.get("code") or None)


async def in_thread(items: Iterator[T], limiter: CapacityLimiter) -> AsyncIterator[T]:
    """The items of a blocking iterator, each `next` run in a worker thread of `limiter`."""
    while True:
        item = await anyio.to_thread.run_sync(lambda: next(items, _END), limiter=limiter)
        if item is _END:
            return
        yield cast(T, item)
