"""Benchmark: latency the session proxy adds, against Jupyter itself, in the same run.

    python -m bench.proxy_latency [--requests 500] [--executions 200]

A local binder (`skybinder serve`) launches a real session; then, interleaved, small API
requests (GET api/status) and kernel round trips over the WebSocket (execute `1+1`, until
the reply) go through the proxy (the binder's port) and straight to the session's Jupyter.
Goal: the proxy adds at most 1 ms at the median and 5 ms at the 99th percentile.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sqlite3
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from websockets.sync.client import ClientConnection, connect

from bench.launch_cached import launch, start_binder
from tests.e2e.conftest import build_path, make_repo

GOAL_P50_MS = 1.0
GOAL_P99_MS = 5.0


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def api_requests(client: httpx.Client, bases: dict[str, str], n: int) -> dict[str, list[float]]:
    """`n` GET api/status per base, interleaved so both see the same machine; in ms."""
    out: dict[str, list[float]] = {name: [] for name in bases}
    for _ in range(20):  # warm the connections
        for base in bases.values():
            client.get(base + "api/status").raise_for_status()
    for _ in range(n):
        for name, base in bases.items():
            start = time.perf_counter()
            client.get(base + "api/status").raise_for_status()
            out[name].append((time.perf_counter() - start) * 1000)
    return out


def execute_request(code: str, session: str) -> tuple[str, str]:
    msg_id = uuid.uuid4().hex
    header = {"msg_id": msg_id, "msg_type": "execute_request", "username": "bench",
              "session": session, "version": "5.3", "date": ""}  # fmt: skip
    content = {"code": code, "silent": False, "store_history": False,
               "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}  # fmt: skip
    message = {"channel": "shell", "header": header, "parent_header": {}, "metadata": {},
               "content": content, "buffers": []}  # fmt: skip
    return msg_id, json.dumps(message)


def round_trip(channel: ClientConnection, session: str) -> float:
    """Execute `1+1` and wait for its execute_reply; in ms."""
    msg_id, message = execute_request("1+1", session)
    start = time.perf_counter()
    channel.send(message)
    while True:
        reply = json.loads(channel.recv(timeout=30))
        if reply.get("parent_header", {}).get("msg_id") == msg_id and (
            reply["msg_type"] == "execute_reply"
        ):
            return (time.perf_counter() - start) * 1000


def kernel_round_trips(bases: dict[str, str], kernel: str, token: str, n: int
                       ) -> dict[str, list[float]]:  # fmt: skip
    out: dict[str, list[float]] = {name: [] for name in bases}
    session = uuid.uuid4().hex
    with contextlib.ExitStack() as stack:
        channels = {
            name: stack.enter_context(
                connect(
                    base.replace("http://", "ws://")
                    + f"api/kernels/{kernel}/channels?token={token}",
                    open_timeout=30,
                )
            )
            for name, base in bases.items()
        }
        for channel in channels.values():
            for _ in range(10):
                round_trip(channel, session)
        for _ in range(n):
            for name, channel in channels.items():
                out[name].append(round_trip(channel, session))
    return out


def report(label: str, samples: dict[str, list[float]]) -> tuple[float, float]:
    proxy, direct = samples["proxy"], samples["direct"]
    p50 = percentile(proxy, 50) - percentile(direct, 50)
    p99 = percentile(proxy, 99) - percentile(direct, 99)
    print(
        f"{label}: direct p50 {percentile(direct, 50):.2f} ms p99 {percentile(direct, 99):.2f} ms;"
        f" through the proxy p50 {percentile(proxy, 50):.2f} ms p99 {percentile(proxy, 99):.2f}"
        f" ms (n={len(proxy)})"
    )
    ratio = statistics.median(proxy) / statistics.median(direct)
    verdict = "within" if p50 <= GOAL_P50_MS and p99 <= GOAL_P99_MS else "OVER"
    print(
        f"{label}: proxy adds p50 {p50:+.2f} ms, p99 {p99:+.2f} ms, median ratio {ratio:.2f}x "
        f"({verdict} the goal of +{GOAL_P50_MS:g} ms p50, +{GOAL_P99_MS:g} ms p99)"
    )
    return p50, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--executions", type=int, default=200)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        repo = make_repo(Path(tmp) / "repo", {"requirements.txt": "\n"})
        proc, url = start_binder(data_dir, idle_timeout=3600)
        try:
            with httpx.Client(timeout=30) as client:
                spec = build_path(repo)[len("/build/") :]
                ready = launch(client, url, spec)
                sid, token = str(ready["session_id"]), str(ready["token"])
                address = session_address(data_dir, sid)
                bases = {"proxy": str(ready["url"]), "direct": f"http://{address}/s/{sid}/"}
                client.headers["Authorization"] = f"token {token}"
                kernel = client.post(bases["proxy"] + "api/kernels", json={}).json()["id"]
                print(f"session {sid}: proxy {bases['proxy']}  direct {bases['direct']}")
                load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
                print(f"machine: {os.cpu_count()} cores, load average {load} (shared: noise)")
                report("small API request (GET api/status)",
                       api_requests(client, bases, opts.requests))  # fmt: skip
                report("kernel round trip over WebSocket (execute 1+1)",
                       kernel_round_trips(bases, kernel, token, opts.executions))  # fmt: skip
        finally:
            proc.terminate()
            proc.wait(30)


def session_address(data_dir: Path, session_id: str) -> str:
    with sqlite3.connect(data_dir / "skybinder.sqlite") as db:
        row = db.execute(
            "SELECT json_extract(data, '$.address') FROM sessions WHERE id = ?", (session_id,)
        ).fetchone()
    return str(row[0])


if __name__ == "__main__":
    main()
