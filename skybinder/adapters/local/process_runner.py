"""ProcessRunner: each session's Jupyter server as a local process in a fresh working copy.

A session runs in a process container of its own (see containment.py): when its server ends —
stopped, culled for idleness, or crashed — every process it started ends too. It runs from an
environment layer of its own over the shared one (session_layer.py), so what it installs
stays in the session; its working copy is its HOME, as in a repo2docker image.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from skybinder.adapters.local.bounded_output import CappedLog, lines
from skybinder.adapters.local.clean_env import repository_environment
from skybinder.adapters.local.containment import Contained, Containment, View, scope_of
from skybinder.adapters.local.images import ImageLayout, LocalImage
from skybinder.adapters.local.session_layer import Layer, make_layer
from skybinder.domain.errors import LaunchError
from skybinder.domain.jupyter import JupyterOptions, jupyter_args
from skybinder.domain.model import TaskStatus
from skybinder.service.ports import LaunchRequest

log = logging.getLogger(__name__)
# (session id, task id, status, address, reason) -> None; wired to the service's on_task_state.
TaskListener = Callable[[str, str, TaskStatus, str, str], None]
KILL_AFTER = 5.0  # seconds between SIGTERM and SIGKILL
LOG_TAIL = 1500  # characters of the server log quoted when it dies unexpectedly
LOG_HEAD_BYTES = 4 * 1024 * 1024  # of a session's server log kept as it comes
LOG_TAIL_BYTES = 1024 * 1024  # and of its end


def free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class _Task:
    server: Contained
    monitor: threading.Thread


class ProcessRunner:
    """Runs `jupyter server` from an image's environment, one process container per session."""

    def __init__(
        self,
        root: Path,
        on_state: TaskListener,
        *,
        containment: Containment,
        host: str = "127.0.0.1",
        options: JupyterOptions | None = None,
        pass_env: Sequence[str] = (),
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self.images = ImageLayout(root)
        self.root = root
        self.sessions_dir = root / "sessions"
        self.on_state = on_state
        self.host = host
        self.options = options or JupyterOptions(allow_root=os.geteuid() == 0)
        self.pass_env = tuple(pass_env)  # variables of `environ` sessions may see
        self.environ = environ
        self.containment = containment
        self._scope = scope_of(root)
        self._tasks: dict[str, _Task] = {}
        self._stopping: set[str] = set()
        self._closed = False
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
        shutil.rmtree(home, ignore_errors=True)
        try:
            server, address = self._start_server(request, image, home)
        except BaseException:
            shutil.rmtree(home, ignore_errors=True)  # a launch that failed leaves nothing
            raise
        monitor = threading.Thread(
            target=self._monitor,
            args=(request.session_id, task_id, server, address, home),
            name=f"session-{request.session_id}",
            daemon=True,
        )
        with self._lock:
            self._tasks[task_id] = _Task(server, monitor)
        monitor.start()
        return task_id

    def _start_server(
        self, request: LaunchRequest, image: LocalImage, home: Path
    ) -> tuple[Contained, str]:
        work = home / "work"
        (home / "tmp").mkdir(parents=True)
        shutil.copytree(image.source, work, symlinks=True)
        try:
            layer = make_layer(Path(image.env), home / "env")
        except (OSError, ValueError) as err:
            raise LaunchError(f"The environment of {image.name} cannot be used: {err}") from err
        port = free_port(self.host)
        options = self.options.with_idle_timeout(request.idle_timeout)
        command = [str(layer.python), "-m", "jupyter_server"]
        command += jupyter_args(request.base_url, self.host, port, options)
        if image.start:
            # repo2docker runs the repo's `start` script with the server command as arguments.
            command = [str(work / Path(image.start).relative_to(image.source)), *command]
        with self._lock:
            if self._closed:
                raise LaunchError("The local binder is shutting down.")
            try:
                server = self.containment.spawn(
                    command,
                    marker=f"{self._scope}/session-{request.session_id}",
                    view=self._view(home, Path(image.env)),
                    cwd=work,
                    env=self._environment(request, layer, home, work),
                )
            except OSError as err:
                raise LaunchError(f"Could not start Jupyter: {err.strerror or err}.") from err
        return server, f"{self.host}:{port}"

    def _view(self, home: Path, env: Path) -> View:
        # The shared environment (with the checkout it may install from) is read-only.
        return View(writable=(home,), readable=(env.parent,), hidden=(self.root,), tmp=home / "tmp")

    def _environment(
        self, request: LaunchRequest, layer: Layer, home: Path, work: Path
    ) -> dict[str, str]:
        """What the session's server, its kernels and `start` see (clean_env.py): none of the
        binder's own variables, only the launch's BINDER_* and the server's settings; its
        own environment layer first, then the shared environment, on PATH."""
        extra = {
            **request.env,
            **layer.env(),
            "JUPYTER_TOKEN": request.token,
            # Keep the server's runtime and config files out of the user's own Jupyter.
            "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
            "JUPYTER_CONFIG_DIR": str(home / "config"),
            "IPYTHONDIR": str(home / "ipython"),
        }
        return repository_environment(
            venv=layer.path,
            repo_dir=work,
            pass_env=self.pass_env,
            environ=self.environ,
            extra=extra,
            env_bins=[layer.bin, layer.shared / "bin"],
        )

    def _monitor(
        self, session_id: str, task_id: str, server: Contained, address: str, home: Path
    ) -> None:
        ended = threading.Event()
        drain = threading.Thread(
            target=_keep_log, args=(server, home / "server.log", ended), daemon=True
        )
        drain.start()
        self.on_state(session_id, task_id, TaskStatus.RUNNING, address, "")
        code = server.wait()
        ended.set()
        drain.join()
        with self._lock:
            asked = task_id in self._stopping
        reason = _exit_reason(code, asked, home)
        shutil.rmtree(home, ignore_errors=True)
        try:
            self.on_state(session_id, task_id, TaskStatus.STOPPED, "", reason)
        finally:
            # Alive until reported, so the reaper never reports it first with less to say.
            with self._lock:
                self._stopping.discard(task_id)
                self._tasks.pop(task_id, None)

    def stop(self, task_id: str) -> None:
        with self._lock:
            task = self._tasks.get(task_id)
            if task is None:
                return
            self._stopping.add(task_id)
        task.server.terminate()
        timer = threading.Timer(KILL_AFTER, task.server.kill)
        timer.daemon = True
        timer.start()

    def is_alive(self, task_id: str) -> bool:
        # Until its monitor has seen it end. (Polling the process would reap it, and only
        # the monitor may: it ends the rest of the container while the id is still held.)
        with self._lock:
            return task_id in self._tasks

    def stop_all(self, grace: float = KILL_AFTER) -> None:
        """Start nothing more; stop every server this runner started, kill those still up
        after `grace` seconds, and return once each has been reported stopped."""
        with self._lock:
            self._closed = True
            tasks = dict(self._tasks)
            self._stopping.update(tasks)
        for task in tasks.values():
            task.server.terminate()
        deadline = time.monotonic() + grace
        for task in tasks.values():
            task.monitor.join(max(0.0, deadline - time.monotonic()))
        for task in tasks.values():
            task.server.kill()
            task.monitor.join()

    def sweep(self) -> int:
        """End every process an earlier run of this data directory left (its containers
        carry this data directory's marker) and remove its working copies; return how many
        processes were killed."""
        killed = self.containment.sweep(self._scope)
        for home in self.sessions_dir.glob("*") if self.sessions_dir.exists() else []:
            shutil.rmtree(home, ignore_errors=True)
        return killed


def _keep_log(server: Contained, path: Path, ended: threading.Event) -> None:
    """Copy the server's output into its log, bounded whatever it prints."""
    log_file = CappedLog(
        path,
        head=LOG_HEAD_BYTES,
        tail=LOG_TAIL_BYTES,
        notice=lambda head, tail: (
            f"[skybinder: over {head} bytes of output; the last {tail} are kept]"
        ),
        gap=lambda count, size: f"[skybinder: {count} lines ({size} bytes) left out]",
    )
    try:
        assert server.proc.stdout is not None
        for line in lines(server.proc.stdout, done=ended):
            log_file.write(line)
    finally:
        log_file.close()
        if server.proc.stdout is not None:
            server.proc.stdout.close()


def _exit_reason(code: int, asked: bool, home: Path) -> str:
    if asked:
        return "stopped by skybinder"
    if code == 0:
        return "Jupyter shut down (idle culling, or shut down by the user)"
    how = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
    try:
        with (home / "server.log").open("rb") as file:
            file.seek(max(0, file.seek(0, os.SEEK_END) - 4 * LOG_TAIL))
            tail = file.read().decode("utf-8", errors="replace")[-LOG_TAIL:]
    except OSError:
        tail = ""
    return f"Jupyter {how}" + (f"; its last output:\n{tail}" if tail and code > 0 else "")
