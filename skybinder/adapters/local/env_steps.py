"""The steps that fill an environment: pick the Python, create the venv, install, run postBuild."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from skybinder.adapters.local.clean_env import repository_environment, tool_environment
from skybinder.adapters.local.containment import View
from skybinder.adapters.local.processes import Finished, Scope, run_captured, run_streamed
from skybinder.adapters.local.repo_inputs import RepoInputs
from skybinder.domain.errors import BuildError

INSTALL_TIMEOUT = 3600.0
POST_BUILD_TIMEOUT = 3600.0
QUERY_TIMEOUT = 60.0

Say = Callable[[str], None]
# realpath(sys.executable) is the binary behind a venv's symlinks: the interpreter's identity.
_PROBE = (
    "import os, platform, sys; "
    "print(platform.python_version()); print(os.path.realpath(sys.executable))"
)


@dataclass(frozen=True)
class Interpreter:
    path: str  # what to hand to `uv venv --python`
    real_path: str  # the binary behind symlinks and venvs, for the environment key
    version: str  # "3.11.7"


def uv_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """uv's environment: `base` (by default the build tools' clean one, clean_env.py)."""
    # Python downloads would need the internet and would hide a missing local interpreter.
    env = dict(base) if base is not None else tool_environment()
    return {**env, "UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"}


def uv_config_args(environ: Mapping[str, str] = os.environ) -> list[str]:
    """uv's configuration options: never a repository's own uv.toml or [tool.uv] table (they
    could name indexes on the user's network), only the operator's own configuration file."""
    if environ.get("UV_CONFIG_FILE") or environ.get("UV_NO_CONFIG"):
        return []  # the operator chose: uv then reads no configuration it discovers
    config_home = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    for candidate in (Path(config_home) / "uv" / "uv.toml", Path("/etc/uv/uv.toml")):
        if candidate.is_file():
            return ["--config-file", str(candidate)]  # replaces every discovered file
    return ["--no-config"]


def find_python(
    uv_bin: str, inputs: RepoInputs, default: str, env: Mapping[str, str] | None = None
) -> Interpreter:
    """The interpreter to build with: runtime.txt's Python if installed here, else `default`."""
    path = default
    if inputs.python_version is not None and inputs.runtime is not None:
        version = inputs.python_version
        # --system and --no-project: ignore whatever venv or .python-version the server has.
        args = [uv_bin, "python", "find", "--system", "--no-project", version]
        found = run_captured(args, timeout=QUERY_TIMEOUT, env=uv_env(env))
        lines = found.stdout.strip().splitlines()
        if found.returncode != 0 or not lines:
            raise BuildError(
                f"{inputs.runtime.as_posix()} asks for Python {version}, which is not installed "
                f"on this machine. Install it (for example `uv python install {version}`), or "
                "remove runtime.txt to build with the default Python."
            )
        path = lines[-1]
    answer = run_captured([path, "-c", _PROBE], timeout=QUERY_TIMEOUT)
    lines = answer.stdout.strip().splitlines()
    if answer.returncode != 0 or len(lines) != 2:
        raise BuildError(f"The Python interpreter {path} does not run. Check the installation.")
    return Interpreter(path=path, real_path=lines[1], version=lines[0])


@dataclass(frozen=True)
class Step:
    """Where a build's steps run: the build's container scope and what they see of the files."""

    scope: Scope
    view: View | None = None


class Build:
    """One build's container scope and private /tmp."""

    def __init__(self, scope: Scope, tmp: Path) -> None:
        self.scope = scope
        self.tmp = tmp

    def step(self, data_dir: Path, writable: tuple[Path, ...]) -> Step:
        """Steps that run repository code (setup.py, postBuild) see the host read-only except
        `writable`, a private /tmp, and nothing of the data directory but what they build."""
        return Step(self.scope, View(writable=writable, hidden=(data_dir,), tmp=self.tmp))


def uv_cache_dir(uv_bin: str, env: Mapping[str, str] | None = None) -> Path:
    """uv's cache directory under `env` (made if missing): builds that hide the rest of the
    file system still share it, so packages are downloaded once."""
    answer = run_captured([uv_bin, "cache", "dir"], timeout=QUERY_TIMEOUT, env=uv_env(env))
    lines = answer.stdout.strip().splitlines()
    if answer.returncode != 0 or not lines:
        raise BuildError(f"uv cannot say where its cache is: {answer.stderr.strip()[:200]}")
    path = Path(lines[-1])
    path.mkdir(parents=True, exist_ok=True)
    return path


def create_venv(
    uv_bin: str,
    python: Interpreter,
    venv: Path,
    say: Say,
    step: Step,
    env: Mapping[str, str] | None = None,
) -> None:
    """Create the virtual environment; --seed adds pip, which postBuild scripts often call."""
    say(f"Creating a Python {python.version} environment")
    args = [uv_bin, "venv", "--seed", "--no-project", "--python", python.path, str(venv)]
    done = run_streamed(
        args,
        on_line=say,
        timeout=QUERY_TIMEOUT * 5,
        cwd=venv.parent,
        env=uv_env(env),
        scope=step.scope,
        view=step.view,
    )
    if not done.ok:
        raise BuildError(
            f"Creating the Python environment failed: {summarize_uv_error(done)} (see the build "
            f"log). Check that {python.path} is a working Python."
        )


def install_packages(
    uv_bin: str,
    venv: Path,
    repo: Path,
    inputs: RepoInputs,
    base: Sequence[str],
    say: Say,
    step: Step,
    env: Mapping[str, str] | None = None,
) -> None:
    """Install the base packages, requirements.txt and the repository itself, in one resolve."""
    wanted: list[str] = list(base)
    named = [", ".join(base)] if base else []
    if inputs.requirements is not None:
        wanted += ["-r", inputs.requirements.as_posix()]
        named.append(inputs.requirements.as_posix())
    if inputs.install_repo:
        wanted.append(str(repo))
        named.append("the repository itself")
    if not wanted:
        return
    say(f"Installing {' and '.join(named)}")
    args = [uv_bin, "pip", "install", *uv_config_args(env or os.environ)]
    args += ["--compile-bytecode", "--python", str(venv / "bin/python")]
    # From the repository root, as repo2docker does: paths in requirements.txt are relative to it.
    done = run_streamed(
        [*args, *wanted],
        on_line=say,
        timeout=INSTALL_TIMEOUT,
        cwd=repo,
        env=uv_env(env),
        scope=step.scope,
        view=step.view,
    )
    if not done.ok:
        raise BuildError(
            f"Installing packages failed: {summarize_uv_error(done)} (see the build log). "
            f"Check {_what_to_check(inputs)}."
        )


def _what_to_check(inputs: RepoInputs) -> str:
    files = [inputs.requirements.as_posix()] if inputs.requirements is not None else []
    if inputs.install_repo:
        files.append("setup.py / pyproject.toml")
    return " and ".join(files) if files else "the base packages the builder installs"


_NOT_FOUND = re.compile(r"Because (\S+) was not found in the package registry")
_NO_VERSION = re.compile(r"Because there is no version of (\S+) and")
_ONLY = re.compile(r"Because only (.+?) (?:is|are) available and you require (.+?), we can")


def summarize_uv_error(done: Finished) -> str:
    """One plain sentence for why uv failed, from the last lines of its output."""
    if done.timed_out:
        return "it did not finish in time"
    text = "\n".join(done.tail)
    if match := _NOT_FOUND.search(text):
        return f"uv found no package named '{match.group(1)}' on the package index"
    if match := _NO_VERSION.search(text):
        return f"uv found no version matching '{match.group(1)}' on the package index"
    if match := _ONLY.search(text):
        return f"{match.group(2)} is required, but only {match.group(1)} is available"
    start = next(
        (i for i, line in enumerate(done.tail) if line.startswith("error:")), len(done.tail) - 1
    )
    relevant = [
        line.strip().removeprefix("error:").removeprefix("cause:").strip()
        for line in done.tail[max(start, 0) : start + 2]
    ]
    summary = ": ".join(line for line in relevant if line)
    return summary[:300] or f"uv exited with code {done.returncode}"


def run_post_build(
    source: Path,
    script: Path,
    venv: Path,
    say: Say,
    step: Step,
    env: Mapping[str, str] | None = None,
) -> None:
    """Run the repository's postBuild in `source`, with the environment active and HOME,
    REPO_DIR and PATH as repo2docker sets them (`source` is both HOME and REPO_DIR).

    Like repo2docker (`chmod +x postBuild && ./postBuild`), a script with a `#!` line runs as
    a program and anything else goes to bash, which is what a shell does with such a file.
    `env`: the repository environment (clean_env.py) to run it with; by default the one built
    from this process's environment.
    """
    path = source / script
    if path.read_bytes()[:2] == b"#!":
        path.chmod(path.stat().st_mode | 0o111)
        args = [str(path)]
    else:
        args = ["bash", str(path)]
    if env is None:
        env = repository_environment(venv=venv, repo_dir=source)
    say(f"Running {script.as_posix()}")
    done = run_streamed(
        args,
        on_line=say,
        timeout=POST_BUILD_TIMEOUT,
        cwd=source,
        env=env,
        scope=step.scope,
        view=step.view,
    )
    if done.timed_out:
        raise BuildError(
            f"{script.as_posix()} did not finish within {POST_BUILD_TIMEOUT / 60:.0f} minutes. "
            "Make it faster, or move slow steps out of the build."
        )
    if not done.ok:
        raise BuildError(
            f"{script.as_posix()} failed with exit code {done.returncode} (see the build log). "
            "Fix the script and build again."
        )
