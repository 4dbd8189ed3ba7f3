"""Benchmark: request-to-`ready` time of a launch whose environment is cached, against the
time a bare Jupyter Server from the same environment takes to answer its first request.

    python3 dev.py bench [--runs 7] [--data-dir DIR]

Both are measured in the same run on this machine; the goal is a ratio within 1.3x.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from skybinder.adapters.local.images import ImageLayout
from skybinder.client import events
from skybinder.domain.jupyter import JupyterOptions, jupyter_args
from tests.e2e.conftest import build_path, free_port, make_repo

GOAL = 1.3
ACCESS_TOKEN = secrets.token_urlsafe(16)  # the benchmark's binder's: launches need it


def start_binder(data_dir: Path, idle_timeout: int = 600) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "skybinder",
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--idle-timeout",
        str(idle_timeout),
        "--token",
        ACCESS_TOKEN,
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    wait_for(url + "/health", timeout=60)
    return proc, url


def wait_for(url: str, timeout: float, **kwargs: object) -> float:
    """Poll `url` until it answers 200; return the seconds it took."""
    start = time.perf_counter()
    with httpx.Client(timeout=2) as client:
        while time.perf_counter() - start < timeout:
            try:
                if client.get(url, **kwargs).status_code == 200:  # type: ignore[arg-type]
                    return time.perf_counter() - start
            except httpx.HTTPError:
                pass
            time.sleep(0.01)
    raise SystemExit(f"{url} did not answer within {timeout} s")


def launch_once(client: httpx.Client, url: str, spec: str) -> tuple[float, str]:
    start = time.perf_counter()
    last = launch(client, url, spec)
    return time.perf_counter() - start, str(last["image"])


def launch(client: httpx.Client, url: str, spec: str) -> dict[str, object]:
    """Launch `spec` on the binder at `url`; its `ready` event."""
    last: dict[str, object] = {}
    for event in events(client, url, spec, token=ACCESS_TOKEN):
        last = event
    if last.get("phase") != "ready":
        raise SystemExit(f"launch failed: {last}")
    return last


def bare_jupyter_once(python: str, env_dir: str, source: str) -> float:
    """Start `jupyter server` from the image's environment directly; time to first answer."""
    port = free_port()
    args = jupyter_args(
        "/s/bench/", "127.0.0.1", port, JupyterOptions(allow_root=os.geteuid() == 0)
    )
    env = {**os.environ, "JUPYTER_TOKEN": "bench", "PATH": f"{env_dir}/bin:{os.environ['PATH']}"}
    with tempfile.TemporaryDirectory() as home:
        env["JUPYTER_RUNTIME_DIR"] = home
        start = time.perf_counter()
        proc = subprocess.Popen(
            [python, "-m", "jupyter_server", *args],
            cwd=source,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(f"http://127.0.0.1:{port}/s/bench/api", timeout=60)
            return time.perf_counter() - start
        finally:
            proc.terminate()
            proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--data-dir", type=Path, default=None)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = opts.data_dir or Path(tmp) / "data"
        repo = make_repo(Path(tmp) / "repo", {"requirements.txt": "tabulate==0.9.0\n"})
        spec = build_path(repo)[len("/build/") :]
        proc, url = start_binder(data_dir)
        try:
            with httpx.Client() as client:
                first, image_name = launch_once(client, url, spec)
                print(f"first launch (builds the environment unless cached): {first:.2f} s")
                launches = [launch_once(client, url, spec)[0] for _ in range(opts.runs)]
        finally:
            proc.terminate()
            proc.wait(30)
        image = ImageLayout(data_dir).load(image_name)
        assert image is not None
        bare = [bare_jupyter_once(image.python, image.env, image.source) for _ in range(opts.runs)]
    report(launches, bare)


def report(launches: list[float], bare: list[float]) -> None:
    launch, floor = statistics.median(launches), statistics.median(bare)
    ratio = launch / floor
    print(
        f"cached launch, request to ready: median {launch:.2f} s "
        f"(min {min(launches):.2f}, max {max(launches):.2f}, n={len(launches)})"
    )
    print(
        f"bare jupyter server, start to first answer: median {floor:.2f} s "
        f"(min {min(bare):.2f}, max {max(bare):.2f}, n={len(bare)})"
    )
    verdict = "within" if ratio <= GOAL else "OVER"
    print(f"ratio {ratio:.2f}x ({verdict} the {GOAL}x goal)")


if __name__ == "__main__":
    main()
