"""End to end: what repository code sees. A session's `pip install` stays in the session
(the environment it shares with other repositories stays as built), and postBuild, start and
the session get HOME, REPO_DIR and PATH as a repo2docker image gives them."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Server, build_path, make_repo, start_server, stop_server
from tests.e2e.kernel import execute, start_kernel
from tests.e2e.lifecycle_repos import probe_wheel

pytestmark = pytest.mark.e2e
REQUIREMENTS = "tabulate==0.9.0\n"  # the same in both repositories: one shared environment


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A binder that culls nothing while a test goes from one session to another."""
    started = start_server(tmp_path_factory.mktemp("patient-binder"), idle_timeout=600)
    yield started
    stop_server(started)


def launch(server: Server, repo: Path) -> tuple[str, str, str]:
    ready = server.events(build_path(repo))[-1]
    assert ready["phase"] == "ready", ready
    url, token = str(ready["url"]), str(ready["token"])
    return url, token, start_kernel(url, token)


def run(session: tuple[str, str, str], code: str) -> str:
    url, token, kernel = session
    return execute(url, token, kernel, code, timeout=180)


CAN_IMPORT = "import importlib.util; print(importlib.util.find_spec('skybinder_probe') is not None)"


def test_a_sessions_pip_install_is_invisible_to_another_session_on_the_same_environment(
    server: Server, tmp_path: Path
) -> None:
    first = make_repo(tmp_path / "first", {"requirements.txt": REQUIREMENTS})
    wheel = probe_wheel(first)
    subprocess.run(["git", "-C", str(first), "add", wheel.name], check=True)
    subprocess.run(
        [
            "git",
            "-C",
            str(first),
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-qm",
            "w",
        ],
        check=True,
    )
    second = make_repo(tmp_path / "second", {"requirements.txt": REQUIREMENTS})

    one = launch(server, first)
    # As a user would in a terminal: `pip` from PATH, with no index (the wheel is here).
    installed = run(
        one,
        "import subprocess; r = subprocess.run(['pip', 'install', '--no-index', "
        f"'{wheel.name}'], capture_output=True, text=True); print(r.returncode)",
    )
    assert installed.strip() == "0"
    assert run(one, "import skybinder_probe; print(skybinder_probe.VALUE)").strip() == "42"

    two = launch(server, second)
    assert run(two, CAN_IMPORT).strip() == "False"
    shared = json.loads(run(two, "import json, sys; print(json.dumps(sys.path))"))
    envs = [p for p in shared if "/envs/" in p and p.endswith("site-packages")]
    assert envs, shared  # the session reaches the shared environment ...
    for path in envs:  # ... which holds nothing of what the first session installed
        assert not list(Path(path).glob("skybinder_probe*"))
    assert run(one, CAN_IMPORT).strip() == "True"  # the first session keeps its own


RECORD_ENV = (
    "python -c 'import json, os; "
    'print(json.dumps({k: os.environ.get(k) for k in ("HOME", "REPO_DIR", "PATH")}))\''
)
POST_BUILD = f"""#!/bin/bash
set -e
mkdir -p "$HOME/.local/bin"
printf '#!/bin/sh\\necho tool from postBuild\\n' > "$HOME/.local/bin/r2d-tool"
chmod +x "$HOME/.local/bin/r2d-tool"
{RECORD_ENV} > "$HOME/postbuild-env.json"
pwd > "$HOME/postbuild-pwd.txt"
"""
START = f"""#!/bin/bash
{RECORD_ENV} > "$HOME/start-env.json"
exec "$@"
"""
SEEN = (
    "import json, os, subprocess; print(json.dumps({"
    "'cwd': os.getcwd(), 'env': {k: os.environ.get(k) for k in ('HOME', 'REPO_DIR', 'PATH')}, "
    "'tool': subprocess.run(['r2d-tool'], capture_output=True, text=True).stdout.strip(), "
    "'postbuild': json.load(open('postbuild-env.json')), "
    "'postbuild_pwd': open('postbuild-pwd.txt').read().strip(), "
    "'start': json.load(open('start-env.json'))}))"
)


def test_repository_code_sees_home_repo_dir_and_path_as_in_repo2docker(
    server: Server, tmp_path: Path
) -> None:
    repo = make_repo(
        tmp_path / "parity",
        {"requirements.txt": REQUIREMENTS, "postBuild": POST_BUILD, "start": START},
    )
    seen = json.loads(run(launch(server, repo), SEEN))
    work = seen["cwd"]
    assert seen["env"]["HOME"] == seen["env"]["REPO_DIR"] == work
    assert seen["start"]["HOME"] == seen["start"]["REPO_DIR"] == work
    for env in (seen["env"], seen["start"]):
        assert env["PATH"].split(":")[0] == f"{work}/.local/bin"
    # postBuild ran in the checkout, which was its HOME and REPO_DIR (never the serving
    # user's home), and what it put in ~/.local/bin is on every session's PATH.
    build = seen["postbuild"]
    assert build["HOME"] == build["REPO_DIR"] == seen["postbuild_pwd"] != str(Path.home())
    assert build["PATH"].split(":")[0] == f"{build['HOME']}/.local/bin"
    assert seen["tool"] == "tool from postBuild"
