"""Benchmark: 1,000 concurrent WebSockets across 50 sessions through one proxy process.

    python -m bench.proxy_websockets [--connections 1000] [--sessions 50] [--hold 20]

`skybinder proxy` runs as its own process over a SQLite store holding 50 ready sessions.
The sessions' servers are lightweight WebSocket echo servers (bench/ws_echo.py, one process),
not 50 Jupyters: the proxy's cost per connection is what is measured. Every connection sends
a message each second for `--hold` seconds and must get each one back; the proxy's memory
(resident, and its peak) and CPU are read from /proc. Goal: at most 200 MB resident and no
dropped connection.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from skybinder.adapters.local.sqlite_store import SqliteSessionStore
from skybinder.domain.model import Session, SessionState
from tests.e2e.conftest import free_port

GOAL_MB = 200


def proc_status(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM in MB, and CPU seconds (user + system) of a process."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in {"VmRSS", "VmHWM"}:
            out[key] = int(value.split()[0]) / 1024
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    out["cpu"] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def start_echo_servers(count: int) -> tuple[subprocess.Popen[str], dict[str, str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.ws_echo", "--count", str(count)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    servers = dict(proc.stdout.readline().split() for _ in range(count))
    return proc, servers


async def wait_healthy(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(url + "/_proxy/health") as reply:
                    if reply.status == 200:
                        return
            await asyncio.sleep(0.05)
    raise SystemExit("the proxy did not start")


async def hold(url: str, sessions: list[str], n: int, seconds: float, pid: int) -> None:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        idle = proc_status(pid)
        began = time.perf_counter()
        sockets = await asyncio.gather(
            *(http.ws_connect(f"{url}/s/{sessions[i % len(sessions)]}/ws") for i in range(n))
        )
        opened = time.perf_counter() - began
        print(f"opened {n} WebSockets across {len(sessions)} sessions in {opened:.2f} s")
        start = proc_status(pid)
        results = await asyncio.gather(*(talk(ws, i, seconds) for i, ws in enumerate(sockets)))
        end = proc_status(pid)
        dropped = sum(1 for r in results if r != "ok")
        await asyncio.gather(*(ws.close() for ws in sockets))
    cpu = (end["cpu"] - start["cpu"]) / seconds * 100
    rounds = n * int(seconds)
    print(f"proxy memory: {idle['VmRSS']:.0f} MB idle, {end['VmRSS']:.0f} MB resident with "
          f"{n} open (peak {end['VmHWM']:.0f} MB); CPU {cpu:.0f}% of one core for "
          f"{rounds / seconds:.0f} messages/s each way")  # fmt: skip
    reasons = sorted({r for r in results if r != "ok"})
    print(f"dropped connections: {dropped} of {n}" + (f" ({reasons[:3]})" if reasons else ""))
    verdict = "within" if end["VmHWM"] <= GOAL_MB and dropped == 0 else "OVER"
    print(f"1,000 WebSockets goal: {verdict} (<= {GOAL_MB} MB resident, none dropped)")


async def talk(ws: aiohttp.ClientWebSocketResponse, i: int, seconds: float) -> str:
    await asyncio.sleep((i % 100) / 100)  # spread the messages over each second
    for k in range(int(seconds)):
        try:
            await ws.send_str(f"{i}:{k}")
            reply = await ws.receive(timeout=10)
        except Exception as err:
            return type(err).__name__
        if reply.type != aiohttp.WSMsgType.TEXT or reply.data != f"{i}:{k}":
            return f"got {reply.type.name}"
        await asyncio.sleep(1)
    return "ok"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--hold", type=float, default=20)
    opts = parser.parse_args()
    print("upstreams: lightweight WebSocket echo servers standing in for Jupyter (one process)")
    echo, servers = start_echo_servers(opts.sessions)
    with tempfile.TemporaryDirectory() as data_dir:
        store = SqliteSessionStore(Path(data_dir) / "skybinder.sqlite")
        for sid, address in servers.items():
            store.create(Session(id=sid, provider="gh", spec="u/r/main",
                                 state=SessionState.READY, address=address))  # fmt: skip
        store.close()
        port = free_port()
        proxy = subprocess.Popen(
            [sys.executable, "-m", "skybinder", "proxy", "--port", str(port),
             "--data-dir", data_dir],
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            asyncio.run(wait_healthy(url))
            asyncio.run(hold(url, list(servers), opts.connections, opts.hold, proxy.pid))
        finally:
            proxy.terminate()
            proxy.wait(30)
            echo.terminate()
            echo.wait(10)


if __name__ == "__main__":
    main()
