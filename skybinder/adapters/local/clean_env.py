"""The environment repository code runs with: what a repo2docker container would see.

`skybinder serve` may hold secrets in its environment (SKYBINDER_GITHUB_TOKEN, GITHUB_TOKEN,
AWS_* credentials, whatever the user's shell exports). Repository code — postBuild, start, the
session's Jupyter server and its kernels — gets none of it: only the variables a repo2docker
image sets (PATH, HOME, LANG and its kin, the user's name, REPO_DIR and the Python prefixes),
laid out as in such an image: the repository is copied into the user's home there (REPO_DIR is
HOME), and `~/.local/bin` and `$REPO_DIR/.local/bin` come first on PATH, for postBuild, start
and the session alike; locally the working copy plays the home (the checkout while building),
the BINDER_* variables of the launch, and the variables the operator passes on by name
(`skybinder serve --pass-env HTTPS_PROXY`). Build tools (uv) also get their own settings
(UV_*, certificate bundles, proxies): they fetch packages for the build, and the build
backends of packages they run see what they see.

`repository_environment` is the one place this is decided, for builds and sessions alike.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

# Taken from the binder's own environment when set: what any login session of the user has.
BASE = ("PATH", "HOME", "LANG", "LANGUAGE", "LC_ALL")
# What uv (not repository code) reads besides: its settings, where certificates and proxies are.
TOOL_PREFIXES = ("UV_",)
TOOL_NAMES = (
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "XDG_CACHE_HOME",
    "XDG_CONFIG_HOME",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
)


def repository_environment(
    *,
    venv: Path | str,
    repo_dir: Path | str,
    pass_env: Iterable[str] = (),
    extra: Mapping[str, str] | None = None,
    environ: Mapping[str, str] = os.environ,
    env_bins: Sequence[Path] = (),
) -> dict[str, str]:
    """The whole environment of a process running repository code from `venv` in `repo_dir`.

    `extra` (BINDER_*, the server's own settings) is added last; `pass_env` names variables of
    `environ` the operator chose to pass on. `env_bins`: the folders of programs on PATH after
    the `.local/bin` ones (`venv`'s bin/ when empty; a session's layer names the shared
    environment's too).
    """
    env = {name: environ[name] for name in BASE if environ.get(name)}
    user = _user(environ)
    bins = list(env_bins) or [Path(venv) / "bin"]
    env.update(
        {
            **repo2docker_paths(Path(repo_dir), bins, environ.get("PATH") or os.defpath),
            "LANG": environ.get("LANG") or "C.UTF-8",
            "USER": user,
            "NB_USER": user,
            "NB_UID": str(os.getuid()),
            "SHELL": environ.get("SHELL") or "/bin/bash",
            "VIRTUAL_ENV": str(venv),
            "NB_PYTHON_PREFIX": str(venv),
            "KERNEL_PYTHON_PREFIX": str(venv),
        }
    )
    env.update(passed(pass_env, environ))
    env.update(extra or {})
    return env


def tool_environment(
    pass_env: Iterable[str] = (), environ: Mapping[str, str] = os.environ
) -> dict[str, str]:
    """The environment of a build tool (uv): the base, its own settings, the passed names."""
    env = {name: environ[name] for name in BASE if environ.get(name)}
    env.setdefault("HOME", str(Path.home()))
    env.update(
        {
            name: value
            for name, value in environ.items()
            if name.startswith(TOOL_PREFIXES) or name in TOOL_NAMES
        }
    )
    env.update(passed(pass_env, environ))
    return env


def repo2docker_paths(repo_dir: Path, env_bins: Sequence[Path], path: str) -> dict[str, str]:
    """HOME and REPO_DIR (both `repo_dir`), and PATH: the two `.local/bin` folders, then
    `env_bins`, then `path` (the rest of the search path), without repeating an entry."""
    home = repo_dir
    first = [home / ".local" / "bin", repo_dir / ".local" / "bin", *env_bins]
    entries: list[str] = []
    for entry in [*(str(p) for p in first), *path.split(os.pathsep)]:
        if entry and entry not in entries:
            entries.append(entry)
    return {"HOME": str(home), "REPO_DIR": str(repo_dir), "PATH": os.pathsep.join(entries)}


def passed(names: Iterable[str], environ: Mapping[str, str]) -> dict[str, str]:
    """The variables of `environ` the operator named (those that are set)."""
    return {name: environ[name] for name in names if name in environ}


def _user(environ: Mapping[str, str]) -> str:
    try:
        return environ.get("USER") or getpass.getuser()
    except OSError:  # no name for this uid (a container): the number says who it is
        return str(os.getuid())
