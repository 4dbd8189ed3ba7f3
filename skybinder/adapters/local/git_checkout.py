"""Fetching a repository at a ref with git, for the local builder."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from skybinder.adapters.local.processes import Finished, Scope, run_streamed
from skybinder.domain.errors import BuildError

GIT_TIMEOUT = 600.0


def git_env() -> dict[str, str]:
    """The environment for git: never wait for a password or a host-key answer nobody gives."""
    return {
        **os.environ,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_SSH_COMMAND": "ssh -o BatchMode=yes",
    }


def fetch(
    repo_url: str,
    ref: str,
    dest: Path,
    say: Callable[[str], None],
    scope: Scope,
    timeout: float = GIT_TIMEOUT,
) -> None:
    """Clone `repo_url` (a URL, `file://` URL or local path) into `dest` and check out `ref`,
    each git command in a container of `scope` (seeing the whole host: a local repository
    may be anywhere).

    Raises BuildError, saying what to check, when the repository or the ref cannot be had.
    """
    if not ref or ref.startswith("-"):
        # git would read a leading "-" as an option.
        raise BuildError(f"'{ref}' is not a ref git can check out. Use a branch, tag or commit.")
    say(f"Fetching {repo_url} at {ref}")
    clone = ["git", "clone", "--quiet", "--no-checkout", "--", repo_url, str(dest)]
    done = run_streamed(clone, on_line=say, timeout=timeout, env=git_env(), scope=scope)
    if not done.ok:
        raise BuildError(
            f"Could not fetch the repository {repo_url}{_why(done, timeout)}. Check that the "
            "address is right and the repository is public."
        )
    checkout = ["git", "-C", str(dest), "checkout", "--quiet", ref]
    done = run_streamed(checkout, on_line=say, timeout=timeout, env=git_env(), scope=scope)
    if not done.ok:
        raise BuildError(
            f"Could not check out '{ref}' in {repo_url}{_why(done, timeout)}. Check that the "
            "branch, tag or commit exists there."
        )
    if (dest / ".gitmodules").is_file():
        # repo2docker fetches submodules too; notebooks often live in one.
        update = ["git", "-C", str(dest), "submodule", "update", "--init", "--recursive"]
        done = run_streamed(update, on_line=say, timeout=timeout, env=git_env(), scope=scope)
        if not done.ok:
            raise BuildError(
                f"Could not fetch the submodules of {repo_url}{_why(done, timeout)}. Check that "
                "they are public and their commits exist."
            )
    say(f"Checked out {ref}")


def _why(done: Finished, timeout: float) -> str:
    if done.timed_out:
        return f" (git did not finish within {timeout:.0f} seconds)"
    last = done.tail[-1].strip() if done.tail else f"git exited with code {done.returncode}"
    return f" ({last[:200]})"
