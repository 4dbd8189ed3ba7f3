"""Benchmark: request-to-`ready` time of a launch whose environment is cached, against the
time a bare Jupyter Server from the same environment takes to answer its first request.

    python3 dev.py bench [--runs 7] [--data-dir DIR]

Both are measured in the same run on this machine; the goal is a ratio within 1.3x. What a
launch adds to the bare server for keeping sessions apart is measured too, in the same run:
making the session's environment layer, and starting the server from that layer inside the
binder's process container; the goal is at most 0.2 s more than the bare server.
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
from collections.abc import Callable
from functools import partial
from pathlib import Path

import httpx

from skybinder.adapters.local.containment import Contained, Containment, View, detect
from skybinder.adapters.local.images import ImageLayout
from skybinder.adapters.local.session_layer import make_layer
from skybinder.client import events
from skybinder.domain.jupyter import JupyterOptions, jupyter_args
from tests.e2e.conftest import build_path, free_port, make_repo

GOAL = 1.3
CONTAINED_GOAL = 0.2  # seconds a contained server, from its own layer, may add to a bare one
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


def bare_jupyter_once(python: str, env_dir: str, source: str, wrap: Wrap | None = None) -> float:
    """Start `jupyter server` from the image's environment directly (or as `wrap` has it:
    from a session layer, in a process container); time to first answer."""
    port = free_port()
    args = jupyter_args(
        "/s/bench/", "127.0.0.1", port, JupyterOptions(allow_root=os.geteuid() == 0)
    )
    env = {**os.environ, "JUPYTER_TOKEN": "bench", "PATH": f"{env_dir}/bin:{os.environ['PATH']}"}
    with tempfile.TemporaryDirectory() as home:
        env["JUPYTER_RUNTIME_DIR"] = home
        start = time.perf_counter()
        command = [python, "-m", "jupyter_server", *args]
        if wrap is None:
            proc = subprocess.Popen(
                command, cwd=source, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            stop = partial(_stop_plain, proc)
        else:
            stop = partial(_stop_contained, wrap(command, Path(home), env, Path(source)))
        try:
            wait_for(f"http://127.0.0.1:{port}/s/bench/api", timeout=60)
            return time.perf_counter() - start
        finally:
            stop()


def _stop_plain(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(10)


def _stop_contained(server: Contained) -> None:
    server.terminate()
    server.wait()


Wrap = Callable[[list[str], Path, dict[str, str], Path], Contained]


def contained(containment: Containment, env_dir: Path) -> Wrap:
    """Start a server as the runner does: from a layer made now, in a process container."""

    def start(command: list[str], home: Path, env: dict[str, str], source: Path) -> Contained:
        layer = make_layer(env_dir, home / "env")
        env = {**env, **layer.env(), "PATH": f"{layer.bin}:{env['PATH']}"}
        (home / "tmp").mkdir()
        data_dir = env_dir.parents[2]  # <data>/envs/<key>/venv
        view = View(
            writable=(home,), readable=(env_dir.parent,), hidden=(data_dir,), tmp=home / "tmp"
        )
        return containment.spawn(
            [str(layer.python), *command[1:]],
            marker="bench/session",
            view=view,
            cwd=source,
            env=env,
            stdout=subprocess.DEVNULL,
        )

    return start


def start_ms(python: str, runs: int, containment: Containment | None = None) -> float:
    """Median milliseconds to run the environment's `python -c pass` to its end, plainly or
    in a process container (what a container adds to every start, without Jupyter's noise)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        if containment is None:
            subprocess.run([python, "-c", "pass"], check=True)
        else:
            step = containment.spawn([python, "-c", "pass"], marker="bench/start", stdout=None)
            step.wait()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def layer_ms(env_dir: Path, runs: int) -> float:
    """Median milliseconds to make a session layer over `env_dir`."""
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):
            start = time.perf_counter()
            make_layer(env_dir, Path(tmp) / str(i))
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


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
        containment = detect()
        wrap = contained(containment, Path(image.env))
        bare, boxed = [], []
        for _ in range(opts.runs):  # interleaved, so both see the same load on the machine
            bare.append(bare_jupyter_once(image.python, image.env, image.source))
            boxed.append(bare_jupyter_once(image.python, image.env, image.source, wrap))
        layer = layer_ms(Path(image.env), 50)
        plain_start = start_ms(image.python, 30)
        boxed_start = start_ms(image.python, 30, containment)
    report(launches, bare)
    report_isolation(containment.name, layer, bare, boxed)
    print(
        f"python -c pass, start to end: median {plain_start:.1f} ms plain, "
        f"{boxed_start:.1f} ms in {containment.name} ({boxed_start - plain_start:+.1f} ms)"
    )


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


def report_isolation(mechanism: str, layer: float, bare: list[float], boxed: list[float]) -> None:
    added = statistics.median(boxed) - statistics.median(bare)
    print(f"session layer, made: median {layer:.1f} ms")
    print(
        f"jupyter server from a session layer in {mechanism}: median "
        f"{statistics.median(boxed):.2f} s (min {min(boxed):.2f}, max {max(boxed):.2f}, "
        f"n={len(boxed)})"
    )
    verdict = "within" if added <= CONTAINED_GOAL else "OVER"
    print(f"added by layer and container: {added:+.2f} s ({verdict} the {CONTAINED_GOAL} s goal)")


if __name__ == "__main__":
    main()
