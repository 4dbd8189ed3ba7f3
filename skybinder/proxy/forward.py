"""Relaying one HTTP request to a server and its response back, streamed both ways.

Bodies are never held whole: the request body is read from the client as the server takes
it (aiohttp's flow control pauses the client's socket), and the response is written to the
client chunk by chunk as it arrives. A client that goes away mid-response closes the
connection to the server instead of returning it to the pool.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from skybinder.proxy.headers import end_to_end, forwarded, without_cookies

NO_BODY_STATUS = frozenset({204, 304})
# aiohttp adds these to a request by itself unless told not to; the client's own pass.
SKIP_AUTO = ("Accept", "Accept-Encoding", "User-Agent", "Content-Type")


class UpstreamConnectError(Exception):
    """The server could not be connected to (nothing listens there any more)."""


class UpstreamTimeoutError(Exception):
    """The server accepted the request but did not answer in time."""


def upstream_headers(
    request: web.BaseRequest,
    *,
    trust: bool,
    websocket: bool = False,
    private_cookies: tuple[str, ...] = (),
) -> CIMultiDict[str]:
    """The request's headers as the server gets them (Host kept: the public one)."""
    headers = without_cookies(end_to_end(request.headers, websocket=websocket), private_cookies)
    peer = request.transport.get_extra_info("peername") if request.transport else None
    address = peer[0] if isinstance(peer, tuple) and peer else ""
    return forwarded(headers, peer=address, scheme=request.scheme, host=request.host, trust=trust)


async def forward(
    request: web.Request,
    client: aiohttp.ClientSession,
    target: URL,
    *,
    trust: bool,
    private_cookies: tuple[str, ...] = (),
) -> web.StreamResponse:
    """Send `request` to `target` (an encoded URL kept as it is) and relay the answer.

    Raises UpstreamConnectError or UpstreamTimeoutError before anything was sent to the
    client; after that, a failing server or client ends the response where it is.
    """
    body = request.content if request.body_exists else None
    try:
        upstream = await client.request(
            request.method,
            target,
            headers=upstream_headers(request, trust=trust, private_cookies=private_cookies),
            data=body,
            allow_redirects=False,
            skip_auto_headers=SKIP_AUTO,
        )
    except TimeoutError as err:  # aiohttp's ServerTimeoutError is one
        raise UpstreamTimeoutError(str(err)) from err
    except aiohttp.ClientError as err:  # refused, reset or closed before an answer
        raise UpstreamConnectError(str(err)) from err
    async with upstream:
        return await _relay(request, upstream)


async def _relay(request: web.Request, upstream: aiohttp.ClientResponse) -> web.StreamResponse:
    response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
    response.headers.extend(end_to_end(upstream.headers))
    length = upstream.headers.get("Content-Length")
    if length is not None and length.isdigit():
        response.content_length = int(length)  # else chunked, as aiohttp does by itself
    await response.prepare(request)
    if request.method == "HEAD" or upstream.status in NO_BODY_STATUS:
        await response.write_eof()
        return response
    try:
        async for chunk in upstream.content.iter_any():
            await response.write(chunk)
        await response.write_eof()
    except (ConnectionError, aiohttp.ClientError, TimeoutError):
        # Either side went away mid-body: drop the server's connection (never reused half
        # read) and end here; the client sees its response cut, as it would from the server.
        upstream.close()
        _abort(request)
    return response


def _abort(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.close()


Forwarder = Callable[[web.Request], Awaitable[web.StreamResponse]]
