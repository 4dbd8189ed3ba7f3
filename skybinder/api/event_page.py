"""An event's attendee page (`/e/<slug>`) and its public status (`/api/events/<slug>`).

The page shows the event and, while it is open, a form that leads to the ordinary /v2 launch
page with `?event=<slug>[&code=<code>]`; that page's stream is then
`/build/<provider>/<spec>?event=<slug>&code=<code>`, the attendee launch of issue 7's contract,
and shows the same progress as any launch. Pages are put together from our own templates only,
each rendered with every value escaped (`ui.render`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import unquote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse

from skybinder import __version__
from skybinder.api.ui import page, render, root
from skybinder.domain.errors import EventNotFoundError
from skybinder.domain.event import iso
from skybinder.domain.event_admission import seats_left
from skybinder.service.binder import Binder
from skybinder.service.events import EventStatus, event_status

router = APIRouter()
LAUNCH_MARKER = "<!-- launch -->"  # where event.html takes the launch form, when it has one


@router.get("/e/{slug}", response_class=HTMLResponse, include_in_schema=False)
def event_page(slug: str, request: Request) -> HTMLResponse:
    """The event, its window and seats; a launch form only while it is open."""
    binder: Binder = request.app.state.binder
    try:
        status = event_status(binder, slug)
    except EventNotFoundError as err:
        return missing(request, err.message)
    now = binder.clock.now()
    phase = status.phase(now)
    event = status.event
    values = {
        "root": root(request),
        "version": __version__,
        "slug": event.slug,
        "provider": event.provider,
        "spec": event.spec,
    }
    shell = render(
        "event.html",
        **values,
        title=event.title,
        phase=phase,
        repository=f"{event.provider}/{unquote(event.spec)}",  # as the /v2 page shows it
        starts_at=iso(event.starts_at),
        ends_at=iso(event.ends_at),
        starts_utc=_utc(event.starts_at),
        ends_utc=_utc(event.ends_at),
        seats=str(event.seats),
        seats_left=str(seats_left(event, status.usage)),
        max_minutes=str(event.max_minutes),
        state_message=state_message(status, phase),
    )
    form = ""
    if phase == "open":
        form = render(
            "event_launch_code.html" if event.access_code_hash else "event_launch.html", **values
        )
    # Both parts are our templates with every value escaped: joining them inserts no raw input.
    return page(shell.replace(LAUNCH_MARKER, form, 1), private=True)


@router.get("/api/events/{slug}")
def public_status(slug: str, request: Request) -> JSONResponse:
    """What anyone with the event's link may see: window, seats left, phase."""
    binder: Binder = request.app.state.binder
    try:
        status = event_status(binder, slug)
    except EventNotFoundError as err:
        raise HTTPException(404, err.message) from None
    # Seats change by the minute: a cache must ask again each time.
    return JSONResponse(status.public(binder.clock.now()), headers={"Cache-Control": "no-cache"})


def state_message(status: EventStatus, phase: str) -> str:
    """One sentence on whether the attendee can launch now, and if not, when or why not."""
    event = status.event
    if phase == "scheduled":
        return (
            f"This workshop has not started yet. It opens at {_utc(event.starts_at)} UTC; "
            "the launch button appears here then."
        )
    if phase == "ended":
        return "This workshop has ended. Thank you for taking part!"
    if phase == "closed":
        return "This workshop was closed by its organisers."
    if seats_left(event, status.usage) == 0:
        return "Every seat is taken right now. Try again in a few minutes."
    return "The workshop is open: launch your session below."


def missing(request: Request, message: str) -> HTMLResponse:
    text = render(
        "event_error.html",
        root=root(request),
        version=__version__,
        heading="There is no such event",
        message=message,
        form=f"{root(request)}/e/<event>",
    )
    return page(text, 404, private=True)  # the event may exist a minute from now


def _utc(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%A %d %B %Y, %H:%M")
