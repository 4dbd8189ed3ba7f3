"""GET /build/<provider>/<spec>: launch (or only build) and stream the progress."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import unquote

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from skybinder.api.stream import failed_event, with_keepalive
from skybinder.service.binder import Binder
from skybinder.service.launch import request_launch
from skybinder.service.watch import watch

router = APIRouter()
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def raw_spec(request: Request, prefix: str) -> tuple[str, str]:
    """(provider, spec) from the raw, still percent-encoded path, as BinderHub reads it.

    `gl/group%2Fproject/main` must keep its `%2F`: decoding first would change the spec.
    """
    raw = request.scope.get("raw_path", b"").decode("latin-1")
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


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


@router.get("/build/{provider}/{spec:path}", response_class=StreamingResponse)
def build(request: Request) -> StreamingResponse:
    binder: Binder = request.app.state.binder
    keepalive: float = request.app.state.keepalive
    provider, spec = raw_spec(request, "/build/")
    build_only = request.query_params.get("build_only", "").lower() == "true"

    def events() -> Iterator[str]:
        if not accepts_event_stream(request):
            yield failed_event("Requests to /build must accept text/event-stream.", 400)
            return
        session = request_launch(
            binder,
            provider,
            spec,
            build_only=build_only,
            client_ip=client_ip(request),
            launch_host=str(request.base_url),
        )
        yield from with_keepalive(watch(binder, session.id), keepalive)

    return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)
