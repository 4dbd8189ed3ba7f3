"""Slow, half-open and vanishing servers and clients: answers in time, no hung sockets."""

from __future__ import annotations

import asyncio
import socket
import time

import aiohttp

from tests.proxy.conftest import SID, harness, run


def test_a_server_that_never_answers_is_a_504_in_time() -> None:
    async def main() -> None:
        async with harness() as h:  # read timeout: 1 s here
            h.add()
            began = time.monotonic()
            async with h.http.get(h.url(f"/s/{SID}/stall-headers")) as reply:
                assert reply.status == 504
                assert (await reply.json())["status"] == "timeout"
            assert time.monotonic() - began < 5

    run(main())


def test_a_half_open_server_that_accepts_and_stays_silent_is_a_504() -> None:
    async def main() -> None:
        silent = socket.create_server(("127.0.0.1", 0))  # accepts (backlog), never reads
        try:
            async with harness() as h:
                h.add(address=f"127.0.0.1:{silent.getsockname()[1]}")
                async with h.http.get(h.url(f"/s/{SID}/api")) as reply:
                    assert reply.status == 504
        finally:
            silent.close()

    run(main())


def test_a_server_that_stalls_mid_body_has_its_response_cut() -> None:
    async def main() -> None:
        async with harness() as h:
            h.add()
            async with h.http.get(h.url(f"/s/{SID}/stall-body")) as reply:
                assert reply.status == 200
                try:
                    await asyncio.wait_for(reply.read(), 5)
                    raise AssertionError("the body should have been cut")
                except aiohttp.ClientPayloadError:
                    pass  # cut after the read timeout, not hung

    run(main())


def test_a_client_that_leaves_mid_download_closes_the_servers_connection() -> None:
    async def main() -> None:
        async with harness() as h:
            h.add()
            reply = await h.http.get(h.url(f"/s/{SID}/stream"))
            await reply.content.readexactly(1 << 20)  # a megabyte, then the client is gone
            reply.close()
            await asyncio.wait_for(h.seen.download_aborted.wait(), 10)
            await asyncio.sleep(0.1)
            connector = h.proxy._sessions.connector  # type: ignore[union-attr]
            assert connector is not None and not connector._conns  # nothing kept half read

    run(main())


def test_an_upload_is_streamed_through() -> None:
    async def main() -> None:
        async with harness() as h:
            h.add()

            async def chunks():  # type: ignore[no-untyped-def]
                for _ in range(64):
                    yield b"\1" * 65536

            url = h.url(f"/s/{SID}/upload")
            async with h.http.put(url, data=chunks()) as reply:  # chunked, no length
                assert (await reply.json())["received"] == 64 * 65536
            headers = {"Content-Length": str(8 * 65536)}
            async with h.http.post(url, data=b"\2" * 8 * 65536, headers=headers) as reply:
                assert (await reply.json())["received"] == 8 * 65536

    run(main())
