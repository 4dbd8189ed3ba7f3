"""ProcessRunner: each session's Jupyter server as a local process in a fresh working copy."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from skybinder.adapters.local.clean_env import repository_environment
from skybinder.adapters.local.images import ImageLayout
from skybinder.domain.errors import LaunchError
from skybinder.domain.jupyter import JupyterOptions, jupyter_args
from skybinder.domain.model import TaskStatus
from skybinder.service.ports import LaunchRequest

log = logging.getLogger(__name__)
# (session id, task id, status, address, reason) -> None; wired to the service's on_task_state.
TaskListener = Callable[[str, str, TaskStatus, str, str], None]
KILL_AFTER = 5.0  # seconds between SIGTERM and SIGKILL
LOG_TAIL = 1500  # characters of the server log quoted when it dies unexpectedly


def free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class ProcessRunner:
    """Runs `jupyter server` from an image's environment, one process group per session."""

    def __init__(
        self,
        root: Path,
        on_state: TaskListener,
        *,
        host: str = "127.0.0.1",
        options: JupyterOptions | None = None,
        pass_env: Sequence[str] = (),
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self.images = ImageLayout(root)
        self.sessions_dir = root / "sessions"
        self.on_state = on_state
        self.host = host
        self.options = options or JupyterOptions(allow_root=os.geteuid() == 0)
        self.pass_env = tuple(pass_env)  # variables of `environ` sessions may see
        self.environ = environ
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._stopping: set[str] = set()
        self._lock = threading.Lock()

    def prepare(self, image_name: str) -> str:
        """Nothing to prepare: a built environment is started as it is."""
        return ""

    def start(self, request: LaunchRequest) -> str:
        image = self.images.load(request.image_name)
        if image is None:
            raise LaunchError(f"The image {request.image_name} is not built on this machine.")
        task_id = f"local-{request.session_id}"
        home = self.sessions_dir / request.session_id
        work = home / "work"
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        shutil.copytree(image.source, work, symlinks=True)
        port = free_port(self.host)
        command = [image.python, "-m", "jupyter_server"]
        options = self.options.with_idle_timeout(request.idle_timeout)
        command += jupyter_args(request.base_url, self.host, port, options)
        if image.start:
            # repo2docker runs the repo's `start` script with the server command as arguments.
            command = [str(work / Path(image.start).relative_to(image.source)), *command]
        env = self._environment(request, image.env, home, work)
        with (home / "server.log").open("wb") as out:
            proc = subprocess.Popen(
                command,
                cwd=work,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        (home / "pid").write_text(str(proc.pid))
        with self._lock:
            self._procs[task_id] = proc
        address = f"{self.host}:{port}"
        threading.Thread(
            target=self._monitor, args=(request.session_id, task_id, proc, address), daemon=True
        ).start()
        return task_id

    def _environment(
        self, request: LaunchRequest, env_dir: str, home: Path, work: Path
    ) -> dict[str, str]:
        """What the session's server, its kernels and `start` see (clean_env.py): none of the
        binder's own variables, only the launch's BINDER_* and the server's settings."""
        extra = {
            **request.env,
            "JUPYTER_TOKEN": request.token,
            # Keep the server's runtime and config files out of the user's own Jupyter.
            "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
            "JUPYTER_CONFIG_DIR": str(home / "config"),
            "IPYTHONDIR": str(home / "ipython"),
        }
        return repository_environment(
            venv=env_dir, repo_dir=work, pass_env=self.pass_env, environ=self.environ, extra=extra
        )

    def _monitor(
        self, session_id: str, task_id: str, proc: subprocess.Popen[bytes], address: str
    ) -> None:
        self.on_state(session_id, task_id, TaskStatus.RUNNING, address, "")
        code = proc.wait()
        with self._lock:
            asked = task_id in self._stopping
            self._stopping.discard(task_id)
            self._procs.pop(task_id, None)
        home = self.sessions_dir / session_id
        reason = self._exit_reason(code, asked, home)
        shutil.rmtree(home, ignore_errors=True)
        self.on_state(session_id, task_id, TaskStatus.STOPPED, "", reason)

    @staticmethod
    def _exit_reason(code: int, asked: bool, home: Path) -> str:
        if asked:
            return "stopped by skybinder"
        if code == 0:
            return "Jupyter shut down (idle culling, or shut down by the user)"
        how = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
        try:
            tail = (home / "server.log").read_text(errors="replace")[-LOG_TAIL:]
        except OSError:
            tail = ""
        return f"Jupyter {how}" + (f"; its last output:\n{tail}" if tail and code > 0 else "")

    def stop(self, task_id: str) -> None:
        with self._lock:
            proc = self._procs.get(task_id)
            if proc is None:
                return
            self._stopping.add(task_id)
        _signal_group(proc.pid, signal.SIGTERM)
        timer = threading.Timer(KILL_AFTER, _kill_if_alive, args=(proc,))
        timer.daemon = True
        timer.start()

    def is_alive(self, task_id: str) -> bool:
        with self._lock:
            proc = self._procs.get(task_id)
        return proc is not None and proc.poll() is None

    def stop_all(self) -> None:
        """Stop every server this runner started and wait for them (used at shutdown)."""
        with self._lock:
            procs = list(self._procs.items())
        for task_id, _ in procs:
            self.stop(task_id)
        for _, proc in procs:
            try:
                proc.wait(KILL_AFTER + 1)
            except subprocess.TimeoutExpired:
                _signal_group(proc.pid, signal.SIGKILL)

    def sweep(self) -> int:
        """Kill servers left behind by an earlier run of this data directory; return how many.

        A pid is only trusted when that process still runs with the session's base_url in its
        command line, so a reused pid never gets a signal meant for a dead server.
        """
        killed = 0
        for home in self.sessions_dir.glob("*") if self.sessions_dir.exists() else []:
            pid_file = home / "pid"
            if pid_file.exists() and _is_session_process(pid_file, home.name):
                _signal_group(int(pid_file.read_text()), signal.SIGKILL)
                killed += 1
            shutil.rmtree(home, ignore_errors=True)
        return killed


def _is_session_process(pid_file: Path, session_id: str) -> bool:
    try:
        cmdline = Path(f"/proc/{int(pid_file.read_text())}/cmdline").read_bytes()
    except (OSError, ValueError):
        return False
    return f"/s/{session_id}/".encode() in cmdline


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _kill_if_alive(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        _signal_group(proc.pid, signal.SIGKILL)
