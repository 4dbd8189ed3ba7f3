"""Process containers for local builds and sessions: whatever a command starts ends with it.

Three mechanisms, the strongest this machine allows first (`detect`):

- **bubblewrap**: a PID namespace (when its first process ends, the kernel kills every other
  process in it, daemons included), and a view of the file system where the host is read-only
  except the paths a step needs, /tmp is private and the data directory is out of sight;
- **unshare**: a PID namespace, nothing more;
- **process group**: the command's process group, plus a sweep of /proc for every process
  that carries the container's marker in its environment (a daemon leaves the group, but
  keeps its environment).

Every mechanism puts the marker (`MARKER` = "<scope>/<name>") in the environment, so that a
binder started again on the same data directory finds what a crash left behind (`sweep`).
Processes are started from one long-lived thread: the kernel's parent-death signal, which
ends a container when the binder dies, fires when the *thread* that started it ends.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from skybinder.adapters.local.proc_scan import child_pid, kill_marked

log = logging.getLogger(__name__)

MARKER = "SKYBINDER_CONTAINER"
BUBBLEWRAP, UNSHARE, GROUP = "bubblewrap", "unshare", "process group"
MECHANISMS = {"bwrap": BUBBLEWRAP, "unshare": UNSHARE, "group": GROUP}
PROBE_TIMEOUT = 10.0
ADVICE = {
    "bwrap": "install it with `apt-get install bubblewrap`, or use --containment auto",
    "unshare": "it needs util-linux and user or PID namespaces; use --containment auto",
}


def scope_of(data_dir: Path) -> str:
    """The marker prefix of one data directory: processes of other binders never match it."""
    return hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class View:
    """What a contained command sees of the file system (bubblewrap only; the other
    mechanisms show the whole host). The host is read-only, `hidden` directories look empty,
    and `writable` and `readable` paths (inside hidden ones too) are shown as they are."""

    writable: tuple[Path, ...] = ()
    readable: tuple[Path, ...] = ()
    hidden: tuple[Path, ...] = ()
    tmp: Path | None = None  # bound at /tmp; None: the host's /tmp, read-only


@dataclass
class Containment:
    """One mechanism, with the prefix (`wrapper`) its commands are started under."""

    name: str
    wrapper: tuple[str, ...] = ()
    depth: int = 0  # processes between the one started and the command itself
    _spawner: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="skybinder-spawn"),
        repr=False,
    )

    def command(self, args: Sequence[str], view: View | None) -> list[str]:
        """`args` as this mechanism starts them, seeing `view` of the files (None: all)."""
        if self.name != BUBBLEWRAP:
            return [*self.wrapper, *args]
        return [*self.wrapper, *_bubblewrap_view(view), "--", *args]

    def spawn(
        self,
        args: Sequence[str],
        *,
        marker: str,
        view: View | None = None,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        stdout: int | IO[Any] | None = subprocess.PIPE,
    ) -> Contained:
        """Start `args` in a new container named `marker`; OSError when it cannot start."""
        environ = dict(os.environ if env is None else env)
        environ[MARKER] = marker
        if shutil.which(args[0], path=environ.get("PATH", os.defpath)) is None:
            # Said here: inside a wrapper, a missing program is only the wrapper's exit code.
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", args[0])
        popen_args = self.command(args, view)

        def start() -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                popen_args,
                cwd=cwd,
                env=environ,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: signals reach all of it, not us
            )

        return Contained(self, marker, self._spawner.submit(start).result())

    def sweep(self, scope: str) -> int:
        """Kill every process of any container of `scope` (what a crash left); how many."""
        return kill_marked(f"{scope}/", exact=False)

    def close(self) -> None:
        self._spawner.shutdown(wait=False)


class Contained:
    """One command running in its container. Only `wait` reaps it, and signals go to its
    process group only while it is not reaped, so they never reach a reused process id."""

    def __init__(
        self, containment: Containment, marker: str, proc: subprocess.Popen[bytes]
    ) -> None:
        self.containment = containment
        self.marker = marker
        self.proc = proc
        self._lock = threading.Lock()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def terminate(self) -> None:
        """Ask the command to stop: SIGTERM to it, not to the wrappers around it (which
        would end the whole container at once)."""
        with self._lock:
            if self.proc.returncode is not None:
                return
            pid = child_pid(self.proc.pid, self.containment.depth)
            if pid is None:
                _signal_group(self.proc.pid, signal.SIGTERM)
            else:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGTERM)

    def kill(self) -> None:
        """End every process of the container now."""
        with self._lock:
            if self.proc.returncode is None:
                self._destroy()

    def wait(self) -> int:
        """Wait for the command to end, end whatever it left running, and return its exit
        status (negative: the signal that killed it, also when a wrapper reports it)."""
        with contextlib.suppress(ChildProcessError):
            os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOWAIT)
        with self._lock:
            if self.proc.returncode is None:
                self._destroy()  # the exited leader still holds its group id: no reuse yet
            code = self.proc.wait()
        wrapped = self.containment.depth > 0
        return -(code - 128) if wrapped and 128 < code < 128 + 65 else code

    def _destroy(self) -> None:
        _signal_group(self.proc.pid, signal.SIGKILL)
        # In a PID namespace nothing outlives the first process; elsewhere daemons may.
        if self.containment.name == GROUP:
            kill_marked(self.marker, exact=True)


def detect(preferred: str = "auto") -> Containment:
    """The strongest mechanism that works here, or the one asked for (`bwrap`, `unshare`,
    `group`); ValueError when the one asked for does not work on this machine."""
    if preferred not in {"auto", *MECHANISMS}:
        raise ValueError(f"Unknown containment {preferred!r}: use auto, bwrap, unshare or group.")
    order = list(MECHANISMS) if preferred == "auto" else [preferred]
    for key in order:
        found = _try(key)
        if found is not None:
            return found
    hint = f" ({ADVICE[preferred]})" if preferred in ADVICE else ""
    raise ValueError(f"{MECHANISMS[preferred]} does not work on this machine{hint}.")


def _try(key: str) -> Containment | None:
    if key == "bwrap":
        return _bubblewrap()
    if key == "unshare":
        return _unshare(_setpriv())
    return Containment(GROUP, _setpriv())


def _bubblewrap() -> Containment | None:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return None
    wrapper = (bwrap, "--unshare-pid", "--die-with-parent")
    found = Containment(BUBBLEWRAP, wrapper, depth=2)
    return found if _works(found.command(["true"], View())) else None


def _unshare(deathsig: tuple[str, ...]) -> Containment | None:
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    base = (unshare, "--pid", "--fork", "--kill-child=KILL")
    # Without privileges, a user namespace (mapping us to ourselves) allows the PID namespace.
    for extra in ((), ("--map-current-user",)):
        wrapper = (*deathsig, *base[:1], *extra, *base[1:], "--")
        if _works([*wrapper, "true"]):
            return Containment(UNSHARE, wrapper, depth=1)
    return None


def _setpriv() -> tuple[str, ...]:
    """A prefix that kills the command when the binder dies, where util-linux has setpriv."""
    setpriv = shutil.which("setpriv")
    wrapper = (setpriv, "--pdeathsig", "KILL", "--") if setpriv else ()
    return wrapper if wrapper and _works([*wrapper, "true"]) else ()


def _works(args: Sequence[str]) -> bool:
    try:
        done = subprocess.run(
            list(args), capture_output=True, timeout=PROBE_TIMEOUT, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def _bubblewrap_view(view: View | None) -> list[str]:
    if view is None:  # a PID namespace, and the host as it is (git fetches from anywhere)
        return ["--dev-bind", "/", "/", "--proc", "/proc"]
    args = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    for device in _gpu_devices():
        args += ["--dev-bind-try", device, device]
    if view.tmp is not None:
        args += ["--bind", str(view.tmp), "/tmp"]
        for own in _under_tmp():
            args += ["--ro-bind", own, own]
    for path in view.hidden:
        args += ["--tmpfs", str(path)]
    for path in view.readable:
        args += ["--ro-bind", str(path), str(path)]
    for path in view.writable:
        args += ["--bind", str(path), str(path)]
    return args


def _under_tmp() -> list[str]:
    """The binder's own Python environment where it lives under /tmp (a checkout there, as CI
    machines make): a private /tmp would hide the programs it runs, so they are shown again."""
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix}
    paths = prefixes | {str(Path(p).resolve()) for p in prefixes}
    return sorted(p for p in paths if Path(p).is_relative_to("/tmp"))


def _gpu_devices() -> list[str]:
    """GPU device nodes, so notebooks that use a GPU still find it."""
    dev = Path("/dev")
    return [str(p) for p in sorted(dev.glob("nvidia*"))] + (
        ["/dev/dri"] if (dev / "dri").exists() else []
    )


def _signal_group(pid: int, sig: signal.Signals) -> None:
    # The group may be gone already: its processes ended between the check and the signal.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
