"""Running a build tool (git, uv, postBuild) while streaming its output lines to the build log."""

from __future__ import annotations

import subprocess
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from skybinder.adapters.local.bounded_output import lines
from skybinder.adapters.local.containment import Contained, Containment, View
from skybinder.domain.errors import BuildError

TAIL_LINES = 40


@dataclass
class Finished:
    """How a streamed process ended; `tail` holds its last output lines, for error messages."""

    returncode: int
    timed_out: bool = False
    tail: list[str] = field(default_factory=list)
    cancelled: str = ""  # why the build was cancelled while this ran; "" when it was not

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out and not self.cancelled


class Scope:
    """The container of one build: every step runs in a container named by `marker`, and
    `cancel` ends the step that runs and refuses the ones after it."""

    def __init__(self, containment: Containment, marker: str) -> None:
        self.containment = containment
        self.marker = marker
        self._running: set[Contained] = set()
        self._cancelled = ""
        self._lock = threading.Lock()

    @property
    def cancelled(self) -> str:
        return self._cancelled

    def start(
        self,
        args: Sequence[str],
        *,
        cwd: Path | None,
        env: Mapping[str, str] | None,
        view: View | None,
    ) -> Contained:
        """Start a step; BuildError when it cannot start or the build was cancelled."""
        with self._lock:
            if self._cancelled:
                raise BuildError(self._cancelled)
            try:
                step = self.containment.spawn(args, marker=self.marker, view=view, cwd=cwd, env=env)
            except OSError as err:
                name = Path(args[0]).name
                raise BuildError(f"Could not run {name}: {err.strerror or err}.") from err
            self._running.add(step)
            return step

    def done(self, step: Contained) -> None:
        with self._lock:
            self._running.discard(step)

    def cancel(self, reason: str) -> None:
        """End the running step and refuse the next ones, with `reason` as the build's error."""
        with self._lock:
            self._cancelled = self._cancelled or reason
            running = list(self._running)
        for step in running:
            step.kill()


def run_streamed(
    args: Sequence[str],
    *,
    on_line: Callable[[str], None],
    timeout: float,
    scope: Scope,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    view: View | None = None,
) -> Finished:
    """Run `args` (never through a shell) in a container of `scope`, passing each non-empty
    output line (cut to `MAX_LINE` bytes) to `on_line`.

    stderr is merged into stdout, so lines arrive in the order the tool wrote them. When the
    program ends, so does everything it started (a `postBuild` that leaves `cmd &` behind
    does not keep the build open); after `timeout` seconds, or on `scope.cancel`, the whole
    container is killed. Raises BuildError when the program cannot be started at all.
    """
    step = scope.start(args, cwd=cwd, env=env, view=view)
    waiter = _Waiter(step, timeout)
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    try:
        assert step.proc.stdout is not None
        for raw in lines(step.proc.stdout, done=waiter.ended):
            line = raw.rstrip()
            if line:
                tail.append(line)
                on_line(line)
        waiter.join()  # a program may close its output and go on: the timer still holds
    except BaseException:
        step.kill()  # on_line raised: nothing may outlive the step
        raise
    finally:
        waiter.finish()
        scope.done(step)
    return Finished(
        returncode=waiter.code,
        timed_out=waiter.timed_out.is_set(),
        tail=list(tail),
        cancelled=scope.cancelled,
    )


class _Waiter(threading.Thread):
    """The only reaper of a step: it ends the container as soon as the program exits, which
    closes the pipe that daemons of a process group would otherwise hold open; and it kills
    the container when the step runs out of time."""

    def __init__(self, step: Contained, timeout: float) -> None:
        super().__init__(daemon=True)
        self.step = step
        self.code = -9  # until it is known
        self.ended = threading.Event()
        self.timed_out = threading.Event()
        self._timer = threading.Timer(timeout, self._time_out)
        self._timer.daemon = True
        self._timer.start()
        self.start()

    def run(self) -> None:
        self.code = self.step.wait()
        self.ended.set()

    def finish(self) -> None:
        """Once the step is over (or killed): no timer left, reaped, its pipe closed."""
        self._timer.cancel()
        self.join()
        if self.step.proc.stdout is not None:
            self.step.proc.stdout.close()

    def _time_out(self) -> None:
        self.timed_out.set()
        self.step.kill()


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
