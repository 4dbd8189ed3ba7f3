"""Lightweight stand-ins for sessions' servers in the WebSocket benchmark: N WebSocket echo
servers (aiohttp) in one process, each under its session's base URL. Prints one line per
server, `<session id> 127.0.0.1:<port>`, then serves until killed."""

from __future__ import annotations

import argparse
import asyncio

from aiohttp import WSMsgType, web


async def echo(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for message in ws:
        if message.type == WSMsgType.TEXT:
            await ws.send_str(message.data)
        elif message.type == WSMsgType.BINARY:
            await ws.send_bytes(message.data)
    return ws


async def serve(count: int) -> None:
    runners = []
    for i in range(count):
        sid = f"bench{i:011x}"
        app = web.Application()
        app.router.add_get(f"/s/{sid}/ws", echo)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        print(f"{sid} 127.0.0.1:{port}", flush=True)
        runners.append(runner)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=50)
    asyncio.run(serve(parser.parse_args().count))


if __name__ == "__main__":
    main()
