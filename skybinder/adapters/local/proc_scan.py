"""Reading /proc: the children of a process, and the processes that carry a marker.

Signals go through pidfds (`os.pidfd_open`): a process is pinned before its environment is
read, so a pid reused in between never gets a signal meant for another process.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time
from collections.abc import Iterator
from pathlib import Path

PROC = Path("/proc")
MARKER_VARIABLE = b"SKYBINDER_CONTAINER="
MAX_PASSES = 12  # a marked process may fork while we sweep: look again until none is left
EXEC_PAUSE = 0.02  # seconds to let a process finish its execve before looking again
GONE_TIMEOUT = 2.0  # seconds a sweep waits for what it killed to exit before looking again


def child_pid(pid: int, depth: int) -> int | None:
    """The process `depth` generations below `pid` when each generation has one child
    (`pid` itself for depth 0); None when that cannot be told."""
    for _ in range(depth):
        try:
            children = (PROC / str(pid) / "task" / str(pid) / "children").read_text().split()
        except OSError:
            return None
        if len(children) != 1:
            return None
        pid = int(children[0])
    return pid


def marked_with(pid: int) -> str | None:
    """The container marker in a process's environment, or None (none, or not readable)."""
    try:
        environ = (PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return None
    for entry in environ.split(b"\0"):
        if entry.startswith(MARKER_VARIABLE):
            return entry[len(MARKER_VARIABLE) :].decode("utf-8", "replace")
    return None


def pids() -> Iterator[int]:
    me = os.getpid()
    for entry in PROC.iterdir():
        if entry.name.isdigit() and int(entry.name) != me:
            yield int(entry.name)


def kill_marked(marker: str, *, exact: bool) -> int:
    """SIGKILL every process whose marker is `marker` (or, not `exact`, starts with it);
    return how many were killed."""
    killed: set[int] = set()
    quiet = 0  # passes in a row that found nothing: two, a pause apart, end the sweep
    for _ in range(MAX_PASSES):
        looked = [pid for pid in pids() if pid not in killed]
        found = {pid for pid in looked if _kill_if_marked(pid, marker, exact)}
        killed |= found
        if found:
            _wait_gone(found)  # one killed in the middle of a fork may still add a child
            quiet = 0
            continue
        quiet += 0 if any(_in_exec(pid) for pid in looked) else 1
        if quiet == 2:
            break
        time.sleep(EXEC_PAUSE)  # an environment not readable yet is read again
    return len(killed)


def _in_exec(pid: int) -> bool:
    """True for a process that shows no environment though it runs a program: one in the
    middle of execve, whose marker (if any) is readable again a moment later. (Kernel
    threads and zombies show none either, but they run no program.)"""
    try:
        if (PROC / str(pid) / "environ").read_bytes():
            return False
        os.readlink(PROC / str(pid) / "exe")
    except OSError:
        return False
    return True


def _wait_gone(killed: set[int], timeout: float = GONE_TIMEOUT) -> None:
    """Wait (up to `timeout` in all) until the processes `killed` have exited: only then can
    none of them start another, so the next look at /proc is the last one needed."""
    deadline = time.monotonic() + timeout
    for pid in killed:
        try:
            fd = os.pidfd_open(pid)
        except OSError:  # gone already
            continue
        try:
            left = max(0.0, deadline - time.monotonic())
            select.select([fd], [], [], left)  # readable once the process has exited
        finally:
            os.close(fd)


def _kill_if_marked(pid: int, marker: str, exact: bool) -> bool:
    try:
        fd = os.pidfd_open(pid)
    except OSError:  # gone already
        return False
    try:
        found = marked_with(pid)
        if found is None or not (found == marker if exact else found.startswith(marker)):
            return False
        with contextlib.suppress(ProcessLookupError, PermissionError):
            signal.pidfd_send_signal(fd, signal.SIGKILL)
            return True
        return False
    finally:
        os.close(fd)


def count_marked(prefix: str) -> int:
    """How many processes carry a marker starting with `prefix` (zombies carry none)."""
    return sum(1 for pid in pids() if (found := marked_with(pid)) and found.startswith(prefix))
