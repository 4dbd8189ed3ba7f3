"""The data directory of a local binder: one binder at a time, and what a crash left in it."""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path
from typing import IO

from skybinder.domain.errors import SkybinderError

LOCK = "serve.lock"


class DataDirInUseError(SkybinderError):
    """Another binder serves from this data directory."""


class DataDirLock:
    """An exclusive lock on a data directory, held while the binder runs (the kernel drops
    it when the process dies, however it dies). Its file names the holder's pid."""

    def __init__(self, root: Path) -> None:
        self.path = root / LOCK
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock; DataDirInUseError when another process holds it."""
        file = self.path.open("a+")
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.seek(0)
            holder = file.read().strip() or "another process"
            file.close()
            raise DataDirInUseError(
                f"Another skybinder (pid {holder}) is serving from {self.path.parent}. Stop "
                "it, or give this one its own --data-dir."
            ) from None
        file.seek(0)
        file.truncate()
        file.write(str(os.getpid()))
        file.flush()
        self._file = file

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the descriptor drops the lock
            self._file = None


def remove_leftovers(root: Path) -> int:
    """Remove what unfinished work left: private /tmp folders of builds and sessions, and
    half-made checkouts of images. Only for a data directory whose lock is held. Returns
    how many were removed."""
    leftovers = [*root.glob("tmp/*"), *root.glob("images/*/source.tmp-*")]
    for path in leftovers:
        shutil.rmtree(path, ignore_errors=True)
    return len(leftovers)
