"""The admin API of events under /api/admin/events: declare, list, show, close, report.

The same operators' credentials as the rest of the admin API (`admin.authorise`). Creating an
event resolves its repository (a network call), so that route runs in a worker thread.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from skybinder.api.admin import authorise
from skybinder.domain.errors import SkybinderError
from skybinder.domain.event import EventRequest, iso
from skybinder.domain.model import Session
from skybinder.domain.pricing import usd
from skybinder.service.events import (
    EventStatus,
    close_event,
    create_event,
    event_sessions,
    event_status,
    list_events,
)

router = APIRouter(prefix="/api/admin/events")
MAX_BODY = 64 * 1024  # an event declaration is a few hundred bytes


@router.post("", status_code=201)
async def create(request: Request) -> JSONResponse:
    """Declare an event from the JSON of issue 7's contract; 201 with what an operator sees."""
    binder = authorise(request)
    body = await request.body()
    if len(body) > MAX_BODY:
        return _problem(413, "The event declaration is too large; it is a small JSON object.")
    try:
        data = json.loads(body or b"null")
    except ValueError:
        return _problem(400, "The request body is not JSON. Send the event as a JSON object.")
    if not isinstance(data, dict):
        return _problem(400, "The request body must be a JSON object describing the event.")
    try:
        event_request = EventRequest.model_validate(data)
    except ValidationError as err:
        return _invalid(err)
    try:
        status = await run_in_threadpool(create_event, binder, event_request)
    except SkybinderError as err:
        return _problem(err.status_code, err.message)
    return JSONResponse(status.payload(binder.clock.now()), status_code=201)


@router.get("")
def list_(request: Request) -> list[dict[str, object]]:
    """Every event, by start time."""
    binder = authorise(request)
    now = binder.clock.now()
    return [status.payload(now) for status in list_events(binder)]


@router.get("/{slug}")
def show(slug: str, request: Request) -> dict[str, object]:
    binder = authorise(request)
    return _status_or_404(lambda: event_status(binder, slug)).payload(binder.clock.now())


@router.post("/{slug}/close")
def close(slug: str, request: Request) -> dict[str, object]:
    """Close the event now: nobody is admitted any more and its sessions are stopped."""
    binder = authorise(request)
    return _status_or_404(lambda: close_event(binder, slug)).payload(binder.clock.now())


@router.get("/{slug}/sessions")
def sessions(slug: str, request: Request) -> list[dict[str, object]]:
    """The event's sessions, admitted and refused, oldest first."""
    binder = authorise(request)
    _status_or_404(lambda: event_status(binder, slug))
    now = binder.clock.now()
    return [session_row(s, now) for s in event_sessions(binder, slug)]


def session_row(session: Session, now: float) -> dict[str, object]:
    """One line of an event's report: what the session held, ran and cost."""
    end = session.ended_at if session.ended_at is not None else now
    minutes = 0.0 if session.launched_at is None else max(0.0, end - session.launched_at) / 60
    return {
        "id": session.id,
        "state": session.state.value,
        "reason": session.reason,
        "status_code": session.status_code,
        "admitted": session.reserved_micros > 0,  # a refused attempt never held anything
        "capacity": session.capacity,
        "created_at": iso(session.created_at),
        "launched_at": None if session.launched_at is None else iso(session.launched_at),
        "ended_at": None if session.ended_at is None else iso(session.ended_at),
        "minutes": round(minutes, 2),
        "cost_usd": usd(session.cost_micros),
        "reserved_usd": usd(session.reserved_micros),
        "interruptions": session.interruptions,
        "warm": session.warm,
        "client_ip": session.client_ip,
    }


def _status_or_404(get: Callable[[], EventStatus]) -> EventStatus:
    try:
        return get()
    except SkybinderError as err:  # EventNotFoundError: 404 with the service's message
        raise HTTPException(err.status_code, err.message) from None


def _invalid(err: ValidationError) -> JSONResponse:
    """422 listing each problem as `field: message`, in words an operator can act on."""
    problems = []
    for error in err.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in error["loc"]) or "event"
        message = str(error["msg"]).removeprefix("Value error, ")
        problems.append({"field": where, "message": message})
    listed = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
    detail = f"The event is not valid — {listed}. Fix these fields and send it again."
    return JSONResponse({"detail": detail, "problems": problems}, status_code=422)


def _problem(status_code: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status_code)
