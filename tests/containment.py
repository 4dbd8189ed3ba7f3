"""The process containers tests run builds and servers in, and how they count what is left."""

from __future__ import annotations

import os
import time
from functools import cache
from pathlib import Path

from skybinder.adapters.local.containment import Containment, detect
from tests.requires import missing

MECHANISMS = ("bwrap", "unshare", "group")
INSTALL = {"bwrap": "apt-get install bubblewrap", "unshare": "apt-get install util-linux"}


@cache
def containment(preferred: str = "auto") -> Containment:
    return detect(preferred)


def require(mechanism: str) -> Containment:
    """The mechanism, or the test skips saying how to get it (and fails under CI=true, where a
    layer that cannot run must not pass unseen: tests/requires.py)."""
    try:
        return containment(mechanism)
    except ValueError as err:
        missing(mechanism, f"{err} ({INSTALL.get(mechanism, 'see the README')})")


def processes_with(token: str) -> list[int]:
    """Pids of the processes with `token` as one of their arguments (scripts under test put
    a unique one on everything they start, so what is left is counted by a scan of /proc)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if token.encode() in argv:
            found.append(int(proc.name))
    return found


def left_behind(token: str, timeout: float = 10.0) -> list[int]:
    """The processes with `token` still there once SIGKILLs sent have had `timeout` seconds
    to take effect (a killed process is gone when the kernel has torn it down, not at once)."""
    deadline = time.monotonic() + timeout
    while (found := processes_with(token)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return found
