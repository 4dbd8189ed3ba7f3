"""Settings of the local binder, from the command line (and later the environment)."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field


def default_data_dir() -> Path:
    """`$XDG_DATA_HOME/skybinder`, i.e. ~/.local/share/skybinder by default."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "skybinder"


class LocalSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8585
    data_dir: Path = Field(default_factory=default_data_dir)
    max_sessions: int = 20  # BinderHub's pod quota, for one machine
    max_sessions_per_repo: int = 10
    idle_timeout: int = 600  # seconds: Jupyter culls idle kernels, then shuts down
    max_age: float = 6 * 3600.0
    github_token: str | None = None
    reap_interval: float = 10.0
    poll_interval: float = 0.1  # local stores are cheap to read: watch closely
    keepalive: float = 25.0
