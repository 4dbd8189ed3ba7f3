"""Relaying a WebSocket: the server's handshake first, then messages both ways.

The server is connected to before the client's upgrade is accepted, so a server that
refuses (a wrong token: 403) gives the client its answer, and one that cannot be reached
gives the proxy's. Then every message is relayed as it comes, text as text and binary as
binary, and a close from either side closes the other with the same code. Pings are
answered on each hop and sent every `heartbeat`, so a half-open peer is noticed.
Compression stays off, as Jupyter's own server has it: no per-connection zlib state.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import aiohttp
from aiohttp import WSCloseCode, WSMsgType, web
from yarl import URL

from skybinder.proxy.config import ProxyConfig
from skybinder.proxy.forward import UpstreamConnectError, UpstreamTimeoutError, upstream_headers

GOING_AWAY = WSCloseCode.GOING_AWAY
# Codes an endpoint may send in a close frame (RFC 6455 §7.4); others are replaced.
_SENDABLE = range(1000, 5000)
_RESERVED = frozenset({1004, 1005, 1006, 1015})


def is_websocket(request: web.BaseRequest) -> bool:
    return (
        request.method == "GET"
        and request.headers.get("Upgrade", "").lower() == "websocket"
        and "upgrade" in request.headers.get("Connection", "").lower()
    )


class Bridge:
    """One client WebSocket and its server's, relayed both ways until either closes."""

    def __init__(self, config: ProxyConfig, on_message: Callable[[], None]) -> None:
        self.config = config
        self.on_message = on_message
        self.client: web.WebSocketResponse | None = None
        self.server: aiohttp.ClientWebSocketResponse | None = None

    async def open(
        self, request: web.Request, session: aiohttp.ClientSession, target: URL
    ) -> web.StreamResponse:
        protocols = [
            p.strip()
            for value in request.headers.getall("Sec-WebSocket-Protocol", [])
            for p in value.split(",")
            if p.strip()
        ]
        try:
            self.server = await session.ws_connect(
                target,
                headers=upstream_headers(
                    request,
                    trust=self.config.trust_forwarded,
                    websocket=True,
                    private_cookies=self.config.private_cookies,
                ),
                protocols=protocols,
                autoping=True,
                heartbeat=self.config.heartbeat,
                max_msg_size=self.config.server_message_limit,
                compress=0,
            )
        except aiohttp.WSServerHandshakeError as refused:
            return _refusal(refused)
        except TimeoutError as err:
            raise UpstreamTimeoutError(str(err)) from err
        except aiohttp.ClientError as err:
            raise UpstreamConnectError(str(err)) from err
        chosen = [self.server.protocol] if self.server.protocol else []
        self.client = web.WebSocketResponse(
            protocols=chosen,
            autoping=True,
            heartbeat=self.config.heartbeat,
            max_msg_size=self.config.client_message_limit,
            compress=False,
        )
        try:
            await self.client.prepare(request)
        except BaseException:
            await self.server.close()
            raise
        await self._relay_both()
        return self.client

    async def close(self, code: int = GOING_AWAY, message: bytes = b"") -> None:
        """Close both sides (at shutdown): the client learns to reconnect."""
        if self.client is not None:
            await self.client.close(code=code, message=message)
        if self.server is not None:
            await self.server.close(code=code, message=message)

    async def _relay_both(self) -> None:
        assert self.client is not None and self.server is not None
        up = asyncio.create_task(_pump(self.client, self.server, self.on_message))
        down = asyncio.create_task(_pump(self.server, self.client, self.on_message))
        try:
            await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (up, down):
                task.cancel()
            for task in (up, down):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await _close_with(self.client, self.server)
            await _close_with(self.server, self.client)


Socket = web.WebSocketResponse | aiohttp.ClientWebSocketResponse


async def _pump(source: Socket, sink: Socket, on_message: Callable[[], None]) -> None:
    """Relay messages from `source` to `sink` until `source` closes or fails."""
    async for message in source:
        on_message()
        if message.type == WSMsgType.TEXT:
            await sink.send_str(message.data)
        elif message.type == WSMsgType.BINARY:
            await sink.send_bytes(message.data)
        elif message.type == WSMsgType.ERROR:
            return


async def _close_with(closed: Socket, other: Socket) -> None:
    """Close `other` the way `closed` was closed (its code, or 1001 when it just vanished)."""
    if other.closed:
        return
    code = closed.close_code
    if code is None or code not in _SENDABLE or code in _RESERVED:
        code = GOING_AWAY
    with contextlib.suppress(Exception):
        await other.close(code=code)


def _refusal(refused: aiohttp.WSServerHandshakeError) -> web.Response:
    """The server's answer to the handshake, passed on (its body is not available)."""
    status = refused.status if 400 <= refused.status < 600 else 502
    return web.json_response(
        {
            "status": "refused",
            "message": f"The session's server refused the WebSocket "
            f"({refused.status} {refused.message}).",
            "reason": refused.message,
        },
        status=status,
    )
