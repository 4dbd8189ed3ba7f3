"""Process containers, for each mechanism this machine has: nothing a contained command
starts outlives it, cancelling ends it whole, and bubblewrap shows it only what it may see."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from skybinder.adapters.local.containment import MARKER, View, scope_of
from skybinder.adapters.local.proc_scan import child_pid
from skybinder.adapters.local.processes import Scope, run_streamed
from skybinder.domain.errors import BuildError
from tests.containment import MECHANISMS, left_behind, processes_with, require

# Everything a careless or hostile script may leave behind, each tagged with `$1` (a number
# unique to the test, given to sleep, so a scan of /proc finds exactly these processes).
LEAVE_BEHIND = """
sleep "$1" &
nohup sleep "$1" >/dev/null 2>&1 &
setsid sleep "$1" &
(setsid sh -c 'sleep "$1" &' sh "$1" &)
echo started
"""


def token() -> str:
    return f"{1000 + secrets.randbelow(10**6)}.{secrets.randbelow(10**6)}"


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_nothing_a_step_starts_outlives_it(mechanism: str) -> None:
    scope = Scope(require(mechanism), f"test/{secrets.token_hex(4)}")
    tag = token()
    lines: list[str] = []
    done = run_streamed(
        ["sh", "-c", LEAVE_BEHIND, "sh", tag], on_line=lines.append, timeout=60, scope=scope
    )
    assert done.ok and lines == ["started"]
    assert left_behind(tag) == []


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_cancelling_ends_the_running_step_whole_and_refuses_the_next(mechanism: str) -> None:
    scope = Scope(require(mechanism), f"test/{secrets.token_hex(4)}")
    tag = token()
    started = threading.Event()
    result = []

    def run() -> None:
        script = LEAVE_BEHIND + 'sleep "$1"\n'
        result.append(
            run_streamed(
                ["sh", "-c", script, "sh", tag],
                on_line=lambda line: started.set(),
                timeout=600,
                scope=scope,
            )
        )

    step = threading.Thread(target=run)
    step.start()
    assert started.wait(60)
    scope.cancel("no launch waits for it")
    step.join(60)
    [done] = result
    assert done.cancelled == "no launch waits for it" and not done.ok
    assert left_behind(tag) == []
    with pytest.raises(BuildError, match="no launch waits for it"):
        run_streamed(["true"], on_line=print, timeout=5, scope=scope)


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_terminate_reaches_the_command_and_its_exit_status_comes_back(mechanism: str) -> None:
    containment = require(mechanism)
    script = "trap 'exit 7' TERM; echo up; while :; do sleep 0.1; done"
    step = containment.spawn(["sh", "-c", script], marker=f"test/{secrets.token_hex(4)}")
    assert step.proc.stdout is not None and step.proc.stdout.readline() == b"up\n"
    step.terminate()
    assert step.wait() == 7  # the command's own status, through every wrapper
    killed = containment.spawn(["sleep", "600"], marker=f"test/{secrets.token_hex(4)}")
    command = running("sleep", lambda: child_pid(killed.pid, containment.depth))
    os.kill(command, signal.SIGKILL)
    # The signal, not 128 + 9 as bubblewrap says it; unshare cannot pass SIGKILL on to
    # itself, and exits 1 ("sigprocmask unblock failed") instead.
    assert killed.wait() == (1 if mechanism == "unshare" else -9)


def running(program: str, find: Callable[[], int | None], timeout: float = 30) -> int:
    """The pid `find` gives once it runs `program` (wrappers exec into what they start)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = find()
        with contextlib.suppress(OSError):
            if pid is not None and Path(f"/proc/{pid}/exe").resolve().name == program:
                return pid
        time.sleep(0.01)
    raise AssertionError(f"{program} did not start within {timeout} s")


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_sweep_ends_what_a_crash_left_of_one_data_directory_only(
    mechanism: str, tmp_path: Path
) -> None:
    containment = require(mechanism)
    mine, other = scope_of(tmp_path / "mine"), scope_of(tmp_path / "other")
    tag = token()
    strays = [
        # As a binder killed with -9 leaves them in the fallbacks: daemons with the marker.
        subprocess.Popen(
            ["sleep", tag],
            env={**os.environ, MARKER: f"{scope}/session-x"},
            start_new_session=True,
        )
        for scope in (mine, other)
    ]
    assert containment.sweep(mine) == 1
    strays[0].wait(10)
    assert strays[0].returncode == -9 and strays[1].poll() is None
    assert len(processes_with(tag)) == 1
    strays[1].kill()
    strays[1].wait()


SEEN_FROM_INSIDE = """
cat "$DATA/secret/admin-token" 2>/dev/null && echo "data visible"
touch "$WORK/ok" "$INDATA/ok" && echo "work writable"
cat "$ENV/lib.py" >/dev/null && echo "env readable"
touch "$ENV/new" 2>/dev/null && echo "env writable"
touch "$HOST/new" 2>/dev/null && echo "host writable"
touch /tmp/private-$$ 2>/dev/null && echo "tmp writable"
test -e "$HOST_TMP_FILE" && echo "host tmp visible"
true
"""


def test_a_private_tmp_still_shows_a_binder_installed_under_tmp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkout under /tmp (as CI machines clone) runs its builders from its own virtual
    environment there: a step with a /tmp of its own must still find those programs."""
    containment = require("bwrap")
    prefix = Path(f"/tmp/skybinder-prefix-{secrets.token_hex(8)}")
    tool = prefix / "bin" / "tool"
    tool.parent.mkdir(parents=True)
    tool.write_text("#!/bin/sh\necho tool ran\n")
    tool.chmod(0o755)
    monkeypatch.setattr("sys.prefix", str(prefix))
    private = tmp_path / "tmp"
    private.mkdir()
    lines: list[str] = []
    try:
        done = run_streamed(
            [str(tool)],
            on_line=lines.append,
            timeout=60,
            scope=Scope(containment, "test/prefix"),
            view=View(writable=(tmp_path / "tmp",), tmp=private),
        )
    finally:
        tool.unlink()
        tool.parent.rmdir()
        prefix.rmdir()
    assert done.ok and lines == ["tool ran"], lines


@pytest.mark.parametrize("private_tmp", [False, True])
def test_bubblewrap_shows_the_host_read_only_but_what_a_step_needs(
    tmp_path: Path, private_tmp: bool
) -> None:
    containment = require("bwrap")
    data, work, env, host, tmp = (
        tmp_path / name for name in ("data", "work", "env", "host", "tmp")
    )
    for path in (data / "secret", work, env, host, tmp):
        path.mkdir(parents=True)
    (data / "secret" / "admin-token").write_text("s3cret")
    work_in_data = data / "sessions" / "s1"
    work_in_data.mkdir(parents=True)
    (env / "lib.py").write_text("x = 1\n")
    view = View(
        writable=(work, work_in_data),
        readable=(env,),
        hidden=(data,),
        tmp=tmp if private_tmp else None,
    )
    names = {"DATA": data, "WORK": work, "INDATA": work_in_data, "ENV": env, "HOST": host}
    variables = {**os.environ, **{k: str(v) for k, v in names.items()}}
    host_tmp_file = Path(f"/tmp/skybinder-test-{secrets.token_hex(8)}")
    variables["HOST_TMP_FILE"] = str(host_tmp_file)
    lines: list[str] = []
    host_tmp_file.touch()
    try:
        done = run_streamed(
            ["sh", "-c", SEEN_FROM_INSIDE],
            on_line=lines.append,
            timeout=60,
            scope=Scope(containment, "test/view"),
            env=variables,
            view=view,
        )
    finally:
        host_tmp_file.unlink()
    assert done.ok, lines
    if private_tmp:  # a /tmp of its own, on disk: writable, and nothing of the host's
        assert lines == ["work writable", "env readable", "tmp writable"]
        assert len(list(tmp.glob("private-*"))) == 1
    else:  # the host's /tmp, read-only like the rest
        assert lines == ["work writable", "env readable", "host tmp visible"]
    assert (work / "ok").exists() and (work_in_data / "ok").exists()
    assert not (env / "new").exists() and not (host / "new").exists()


def test_bubblewrap_shares_the_network_so_servers_listen_where_the_runner_chose(
    tmp_path: Path,
) -> None:
    containment = require("bwrap")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    path = tmp_path / "server.sock"
    serve = (
        "import socket, sys\n"
        "tcp = socket.create_server(('127.0.0.1', int(sys.argv[1])))\n"
        "unix = socket.socket(socket.AF_UNIX); unix.bind(sys.argv[2]); unix.listen()\n"
        "print('listening', flush=True)\n"
        "for server in (tcp, unix): server.accept()[0].sendall(b'hello')\n"
    )
    view = View(writable=(tmp_path,), hidden=(), tmp=None)
    server = containment.spawn(
        ["python3", "-c", serve, str(port), str(path)], marker="test/net", view=view
    )
    assert server.proc.stdout is not None and server.proc.stdout.readline() == b"listening\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as tcp:
        assert tcp.recv(5) == b"hello"
    with socket.socket(socket.AF_UNIX) as unix:
        unix.connect(str(path))
        assert unix.recv(5) == b"hello"
    assert server.wait() == 0
