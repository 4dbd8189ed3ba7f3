"""WebSockets through the proxy: messages both ways, closes from either side, refusals, and
the proxy's own shutdown."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import WSMsgType

from skybinder.proxy import SessionProxy
from skybinder.proxy import server as proxy_server
from tests.proxy.conftest import SID, harness, run
from tests.proxy.upstream import TOKEN

PROTOCOL = "v1.kernel.websocket.jupyter.org"


def ws_url(h, path: str = "ws") -> str:  # type: ignore[no-untyped-def]
    return h.url(f"/s/{SID}/{path}?token={TOKEN}").replace("http://", "ws://")


def test_messages_cross_both_ways_and_the_subprotocol_is_the_servers() -> None:
    async def main() -> None:
        async with harness() as h:
            h.add()
            async with h.http.ws_connect(ws_url(h), protocols=[PROTOCOL, "other"]) as ws:
                assert ws.protocol == PROTOCOL
                await ws.send_str("1+1")
                assert await ws.receive_str(timeout=5) == "echo:1+1"
                await ws.send_bytes(b"abc")
                assert await ws.receive_bytes(timeout=5) == b"cba"
                assert len(h.proxy.bridges) == 1

    run(main())


def test_a_close_by_the_client_reaches_the_server_with_its_code() -> None:
    async def main() -> None:
        async with harness() as h:
            h.add()
            ws = await h.http.ws_connect(ws_url(h))
            await ws.send_str("x")
            await ws.receive_str(timeout=5)
            await ws.close(code=4000)
            for _ in range(50):
                if h.seen.ws_closes:
                    break
                await asyncio.sleep(0.05)
            assert h.seen.ws_closes == [4000]
            await asyncio.sleep(0.05)
            assert not h.proxy.bridges

    run(main())


def test_a_close_by_the_server_reaches_the_client_with_its_code() -> None:
    async def main() -> None:
        async with harness() as h:
            h.add()
            async with h.http.ws_connect(ws_url(h)) as ws:
                await ws.send_str("close:4001")
                message = await ws.receive(timeout=5)
                assert message.type == WSMsgType.CLOSE and ws.close_code == 4001

    run(main())


def test_a_servers_refusal_is_passed_on() -> None:
    async def main() -> None:
        async with harness() as h:
            h.add()
            url = ws_url(h).replace(TOKEN, "wrong")
            try:
                await h.http.ws_connect(url)
                raise AssertionError("the handshake should have been refused")
            except aiohttp.WSServerHandshakeError as err:
                assert err.status == 403

    run(main())


def test_a_websocket_to_an_ended_session_is_refused_with_its_answer() -> None:
    async def main() -> None:
        from skybinder.domain.model import SessionState

        async with harness() as h:
            h.add(state=SessionState.STOPPED)
            try:
                await h.http.ws_connect(ws_url(h))
                raise AssertionError("an ended session has no WebSocket")
            except aiohttp.WSServerHandshakeError as err:
                assert err.status == 410

    run(main())


def test_shutdown_closes_websockets_with_going_away_and_the_server_lives_on() -> None:
    async def main() -> None:
        async with harness() as h:
            h.add()
            ws = await h.http.ws_connect(ws_url(h))
            await ws.send_str("hello")
            await ws.receive_str(timeout=5)
            await proxy_server.stop(h.runner)
            message = await ws.receive(timeout=5)
            assert (message.type, message.data) == (WSMsgType.CLOSE, 1001)
            assert message.extra == "the session proxy is restarting"
            await ws.close()
            # The session's server still serves a new connection (a restarted proxy's).
            direct = f"ws://{h.upstream_address}/s/{SID}/ws?token={TOKEN}"
            async with h.http.ws_connect(direct) as again:
                await again.send_str("still here")
                assert await again.receive_str(timeout=5) == "echo:still here"
            again_proxy = SessionProxy(h.store.route, h.store.record_activity, h.proxy.config)
            h.runner = await proxy_server.start(again_proxy, "127.0.0.1", h.port)

    run(main())
