"""`skybinder proxy` as its own process over a local binder's SQLite store: a 1 GB upload
streamed through in bounded memory, and a restart with WebSockets open."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestServer

from skybinder.adapters.local.sqlite_store import SqliteSessionStore
from skybinder.domain.model import Session, SessionState
from tests.proxy.conftest import SID, free_port, run
from tests.proxy.upstream import TOKEN, Seen, upstream_app

GIB = 1 << 30
MIB = 1 << 20


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@contextlib.contextmanager
def proxy_process(data_dir: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    command = [sys.executable, "-m", "skybinder", "proxy", "--port", str(port),
               "--data-dir", str(data_dir), "--activity-interval", "1"]  # fmt: skip
    log = (data_dir / f"proxy-{port}.log").open("ab")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        log.close()


async def wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(200):
            assert process.poll() is None, "the proxy exited"
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(url + "/_proxy/health") as reply:
                    if reply.status == 200:
                        return
            await asyncio.sleep(0.05)
    raise AssertionError("the proxy did not become healthy")


@contextlib.asynccontextmanager
async def session_server(data_dir: Path) -> AsyncIterator[Seen]:
    seen = Seen()
    upstream = TestServer(upstream_app(seen), host="127.0.0.1")
    await upstream.start_server()
    store = SqliteSessionStore(data_dir / "skybinder.sqlite")
    store.create(Session(id=SID, provider="gh", spec="u/r/main", state=SessionState.READY,
                         address=f"127.0.0.1:{upstream.port}"))  # fmt: skip
    store.close()
    try:
        yield seen
    finally:
        await upstream.close()


@pytest.mark.timeout(300)
def test_a_gigabyte_upload_streams_through_in_bounded_memory(tmp_path: Path) -> None:
    port = free_port()

    async def main() -> None:
        async with session_server(tmp_path) as seen:
            with proxy_process(tmp_path, port) as process:
                base = f"http://127.0.0.1:{port}"
                await wait_healthy(base, process)
                before = peak_rss_mib(process.pid)

                async def body() -> AsyncIterator[bytes]:
                    chunk = b"\7" * MIB
                    for _ in range(GIB // MIB):
                        yield chunk

                headers = {"Content-Length": str(GIB)}
                timeout = aiohttp.ClientTimeout(total=240)
                async with (
                    aiohttp.ClientSession(timeout=timeout) as http,
                    http.put(f"{base}/s/{SID}/upload", data=body(), headers=headers) as reply,
                ):
                    assert reply.status == 200 and (await reply.json())["received"] == GIB
                assert seen.uploaded == GIB
                peak = peak_rss_mib(process.pid)
                print(f"proxy peak RSS: {before:.0f} MiB before, {peak:.0f} MiB after 1 GiB")
                assert peak - before < 64, f"{peak - before:.0f} MiB held for a 1 GiB upload"

    run(main())


def test_a_restart_closes_websockets_cleanly_and_clients_reconnect(tmp_path: Path) -> None:
    port = free_port()
    ws_url = f"ws://127.0.0.1:{port}/s/{SID}/ws?token={TOKEN}"

    async def main() -> None:
        async with session_server(tmp_path) as seen, aiohttp.ClientSession() as http:
            with proxy_process(tmp_path, port) as first:
                await wait_healthy(f"http://127.0.0.1:{port}", first)
                ws = await http.ws_connect(ws_url)
                await ws.send_str("before")
                assert await ws.receive_str(timeout=5) == "echo:before"
                first.send_signal(signal.SIGTERM)
                message = await ws.receive(timeout=10)
                assert (message.type, message.data) == (WSMsgType.CLOSE, 1001)
                assert await asyncio.to_thread(first.wait, 15) == 0
            # The session's server never noticed more than a closed connection.
            assert seen.ws_closes and seen.ws_closes[-1] in {1000, 1001}
            with proxy_process(tmp_path, port) as second:
                await wait_healthy(f"http://127.0.0.1:{port}", second)
                async with http.ws_connect(ws_url) as again:
                    await again.send_str("after")
                    assert await again.receive_str(timeout=5) == "echo:after"
            # Activity the first proxy saw reached the store before it exited.
            store = SqliteSessionStore(tmp_path / "skybinder.sqlite")
            found = store.get(SID)
            store.close()
            assert found is not None and found.last_activity is not None

    run(main())
