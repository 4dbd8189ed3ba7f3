"""A stand-in for a session's Jupyter server, on a real socket: it reports what reached it,
streams, stalls, counts uploads without keeping them, and speaks WebSocket."""

from __future__ import annotations

import asyncio
import gzip
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

TOKEN = "s3cret"


@dataclass
class Seen:
    requests: list[dict[str, object]] = field(default_factory=list)
    ws_closes: list[int | None] = field(default_factory=list)
    download_aborted: asyncio.Event = field(default_factory=asyncio.Event)
    uploaded: int = 0


SEEN = web.AppKey("seen", Seen)


def _seen(request: web.Request) -> Seen:
    return request.app[SEEN]


async def echo(request: web.Request) -> web.Response:
    body = await request.read()
    _seen(request).requests.append(
        {
            "method": request.method,
            "raw_path": request.raw_path,
            "headers": list(request.headers.items()),
            "body": body,
        }
    )
    response = web.json_response({"raw_path": request.raw_path, "length": len(body)})
    response.headers.add("Set-Cookie", "a=1; Path=/")
    response.headers.add("Set-Cookie", "b=2; Path=/")
    return response


async def guarded(request: web.Request) -> web.Response:
    # Jupyter's two token forms: ?token= and Authorization: token ...
    ok = request.query.get("token") == TOKEN
    ok = ok or request.headers.get("Authorization") == f"token {TOKEN}"
    return web.json_response({"ok": ok}, status=200 if ok else 403)


async def gzipped(request: web.Request) -> web.Response:
    return web.Response(
        body=gzip.compress(b"x" * 1000),
        headers={"Content-Encoding": "gzip", "Content-Type": "text/plain"},
    )


async def stream(request: web.Request) -> web.StreamResponse:
    """Endless 64 KiB chunks until the reader goes away."""
    response = web.StreamResponse()
    response.content_type = "application/octet-stream"
    await response.prepare(request)
    try:
        while True:
            await response.write(b"\0" * 65536)
            await asyncio.sleep(0)
    except BaseException:  # a reset, or the handler cancelled as its peer left
        _seen(request).download_aborted.set()
        raise
    return response


async def stall_headers(request: web.Request) -> web.Response:
    await asyncio.sleep(3600)
    return web.Response()


async def stall_body(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    await response.prepare(request)
    await response.write(b"first")
    await asyncio.sleep(3600)
    return response


async def upload(request: web.Request) -> web.Response:
    total = 0
    async for chunk in request.content.iter_any():
        total += len(chunk)
    _seen(request).uploaded = total
    return web.json_response({"received": total})


async def ws(request: web.Request) -> web.WebSocketResponse:
    if request.query.get("token") != TOKEN:
        raise web.HTTPForbidden()
    socket = web.WebSocketResponse(protocols=["v1.kernel.websocket.jupyter.org"])
    await socket.prepare(request)
    async for message in socket:
        if message.type == WSMsgType.TEXT and message.data.startswith("close:"):
            await socket.close(code=int(message.data[6:]))
        elif message.type == WSMsgType.TEXT:
            await socket.send_str("echo:" + message.data)
        elif message.type == WSMsgType.BINARY:
            await socket.send_bytes(message.data[::-1])
    _seen(request).ws_closes.append(socket.close_code)
    return socket


def upstream_app(seen: Seen) -> web.Application:
    app = web.Application(client_max_size=2**31)
    app[SEEN] = seen
    for path, handler in (
        ("/s/{sid}/api/guarded", guarded),
        ("/s/{sid}/gzip", gzipped),
        ("/s/{sid}/stream", stream),
        ("/s/{sid}/stall-headers", stall_headers),
        ("/s/{sid}/stall-body", stall_body),
        ("/s/{sid}/ws", ws),
    ):
        app.router.add_get(path, handler)
    app.router.add_post("/s/{sid}/upload", upload)
    app.router.add_put("/s/{sid}/upload", upload)
    app.router.add_route("*", "/{tail:.*}", echo)
    return app
