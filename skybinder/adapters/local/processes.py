"""Running a build tool (git, uv, postBuild) while streaming its output lines to the build log."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from skybinder.domain.errors import BuildError

TAIL_LINES = 40


@dataclass
class Finished:
    """How a streamed process ended; `tail` holds its last output lines, for error messages."""

    returncode: int
    timed_out: bool = False
    tail: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


def run_streamed(
    args: Sequence[str],
    *,
    on_line: Callable[[str], None],
    timeout: float,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Finished:
    """Run `args` (never through a shell), passing each non-empty output line to `on_line`.

    stderr is merged into stdout, so lines arrive in the order the tool wrote them. After
    `timeout` seconds the whole process group is killed: a postBuild that starts background
    children would otherwise keep the pipe, and the build, open forever.
    Raises BuildError when the program cannot be started at all.
    """
    proc = _start(args, cwd, env)
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        _kill_group(proc.pid)

    timer = threading.Timer(timeout, kill)
    timer.daemon = True
    timer.start()
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip()
            if line:
                tail.append(line)
                on_line(line)
        returncode = proc.wait()
    finally:
        timer.cancel()
        if proc.poll() is None:
            _kill_group(proc.pid)
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    return Finished(returncode=returncode, timed_out=timed_out.is_set(), tail=list(tail))


def _start(
    args: Sequence[str], cwd: Path | None, env: Mapping[str, str] | None
) -> subprocess.Popen[str]:
    try:
        return subprocess.Popen(
            list(args),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            # Its own process group, so a timeout can kill everything it started.
            start_new_session=True,
        )
    except OSError as err:
        raise BuildError(f"Could not run {Path(args[0]).name}: {err.strerror or err}.") from err


def _kill_group(pid: int) -> None:
    # The group may already be gone: the process ended between the check and the kill.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def run_captured(
    args: Sequence[str], *, timeout: float, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a quick query (`uv python find`, `python -c`) and capture its output.

    Raises BuildError when it cannot be started or does not answer within `timeout`.
    """
    try:
        return subprocess.run(
            list(args),
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as err:
        raise BuildError(f"{Path(args[0]).name} did not answer within {timeout:.0f} s.") from err
    except OSError as err:
        raise BuildError(f"Could not run {Path(args[0]).name}: {err.strerror or err}.") from err
