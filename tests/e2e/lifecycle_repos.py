"""Repositories that misbehave as real ones do, a gate that holds a build where a test wants
it, and a /build stream read in the background."""

from __future__ import annotations

import json
import secrets
import threading
import time
import zipfile
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from tests.e2e.conftest import Server, make_repo

Event = dict[str, object]


def token() -> str:
    """A number no other process has as an argument: `sleep <token>` marks what a script
    started, so a scan of /proc counts exactly what it left behind."""
    return f"{100000 + secrets.randbelow(10**6)}.{secrets.randbelow(10**6)}"


def leave_behind(tag: str) -> str:
    """Shell lines that start what outlived sessions and builds before: a background job, a
    nohup'd one, a setsid daemon and a double-forked daemon."""
    return (
        f"sleep {tag} &\n"
        f"nohup sleep {tag} >/dev/null 2>&1 &\n"
        f"setsid sleep {tag} &\n"
        f"(setsid sh -c 'sleep {tag} &' &)\n"
    )


class Gate:
    """An HTTP server on a free loopback port that a postBuild polls: while the gate is
    closed the build waits there (the network is shared with every container)."""

    def __init__(self) -> None:
        self.open = False
        self.reached = threading.Event()  # something waits at the gate
        gate = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                gate.reached.set()
                body = b"go" if gate.open else b"wait"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def wait_line(self) -> str:
        """A shell line that waits until the gate opens."""
        check = (
            "import sys, urllib.request; "
            f"sys.exit(urllib.request.urlopen('http://127.0.0.1:{self.port}/').read() != b'go')"
        )
        return f'until python -c "{check}" 2>/dev/null; do sleep 0.2; done\n'

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def misbehaving_repo(
    path: Path, *, build_tag: str, start_tag: str, gate: Gate | None = None
) -> Path:
    """A repository whose postBuild and start leave processes behind (tagged), and whose
    postBuild says `postbuild-started` and then waits at `gate`, when given."""
    post_build = "#!/bin/bash\n" + leave_behind(build_tag) + "echo postbuild-started\n"
    if gate is not None:
        post_build += gate.wait_line()
    start = "#!/bin/bash\n" + leave_behind(start_tag) + 'exec "$@"\n'
    return make_repo(
        path,
        {"requirements.txt": "tabulate==0.9.0\n", "postBuild": post_build, "start": start},
    )


def stalling_package_repo(path: Path, *, tag: str, gate: Gate) -> Path:
    """A repository installed as a package, whose own build backend (run by uv, in a Python
    worker of its own) starts processes tagged `tag` and then waits at `gate`."""
    backend = (
        "import subprocess, time, urllib.request\n"
        "def get_requires_for_build_wheel(config_settings=None):\n"
        f"    subprocess.Popen(['sleep', '{tag}'])\n"
        f"    subprocess.Popen(['sleep', '{tag}'], start_new_session=True)\n"
        f"    while urllib.request.urlopen('http://127.0.0.1:{gate.port}/').read() != b'go':\n"
        "        time.sleep(0.2)\n"
        "    return []\n"
    )
    pyproject = (
        '[project]\nname = "stalling"\nversion = "1.0"\n'
        '[build-system]\nrequires = []\nbuild-backend = "stall_backend"\nbackend-path = ["."]\n'
    )
    return make_repo(path, {"pyproject.toml": pyproject, "stall_backend.py": backend})


def probe_wheel(directory: Path) -> Path:
    """A pure-Python wheel of a package `skybinder_probe`, made by hand: pip installs it with
    no index and no build step."""
    name = "skybinder_probe-1.0-py3-none-any.whl"
    info = "skybinder_probe-1.0.dist-info"
    files = {
        "skybinder_probe.py": "VALUE = 42\n",
        f"{info}/METADATA": "Metadata-Version: 2.1\nName: skybinder-probe\nVersion: 1.0\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = "".join(f"{file},,\n" for file in [*files, f"{info}/RECORD"])
    with zipfile.ZipFile(directory / name, "w") as wheel:
        for file, text in {**files, f"{info}/RECORD": record}.items():
            wheel.writestr(file, text)
    return directory / name


class Stream:
    """A /build stream read in a thread, so a test can act while it is open."""

    def __init__(self, server: Server, path: str) -> None:
        self.events: list[Event] = []
        self._changed = threading.Condition()
        self._done = False
        headers = {"Accept": "text/event-stream", **server.auth}
        self._thread = threading.Thread(target=self._read, args=(server.url + path, headers))
        self._thread.start()

    def _read(self, url: str, headers: dict[str, str]) -> None:
        try:
            with (
                httpx.Client(timeout=httpx.Timeout(30, read=900)) as client,
                client.stream("GET", url, headers=headers) as reply,
            ):
                for line in reply.iter_lines():
                    if line.startswith("data: "):
                        with self._changed:
                            self.events.append(json.loads(line[6:]))
                            self._changed.notify_all()
        except httpx.HTTPError:
            pass  # the server went away: the events so far are what the client saw
        finally:
            with self._changed:
                self._done = True
                self._changed.notify_all()

    def wait_for(self, found: Callable[[Event], bool], timeout: float = 300) -> Event:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                hit = next((event for event in self.events if found(event)), None)
                if hit is not None:
                    return hit
                left = deadline - time.monotonic()
                if self._done or left <= 0:
                    raise AssertionError(f"no such event; the stream had: {self.events[-5:]}")
                self._changed.wait(left)

    def wait_message(self, text: str, timeout: float = 300) -> Event:
        return self.wait_for(lambda event: text in str(event.get("message", "")), timeout)

    def end(self, timeout: float = 300) -> list[Event]:
        """Every event, once the stream has ended."""
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the stream did not end"
        return self.events
