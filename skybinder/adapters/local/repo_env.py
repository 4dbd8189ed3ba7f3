"""Where repository code finds itself, as in a repo2docker image: HOME, REPO_DIR and PATH.

repo2docker copies the repository into the user's home (REPO_DIR defaults to HOME) and puts
`~/.local/bin` and `$REPO_DIR/.local/bin` before the environment's own `bin` on PATH, for
postBuild, start and the session alike. Locally the working copy plays the home.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path


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
