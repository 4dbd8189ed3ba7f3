"""Build logs on disk: repo2docker-style JSON lines, appended live and read by byte cursor."""

from __future__ import annotations

import json
from pathlib import Path
from types import TracebackType

from skybinder.service.ports import LogChunk

# repo2docker's --json-logs phases that the local builder emits.
FETCHING = "fetching"
BUILDING = "building"
FAILED = "failed"


class BuildLog:
    """Appends one JSON object per line to a build's log file, flushed so readers see it live."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")

    def emit(self, phase: str, message: str) -> None:
        # ensure_ascii keeps every line pure ASCII, so byte cursors never split a character.
        record = {"phase": phase, "message": message.rstrip("\n") + "\n"}
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> BuildLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def read_lines(path: Path, cursor: str | None) -> LogChunk:
    """The complete lines of `path` after byte offset `cursor`, and the cursor after them.

    A partial last line (still being written) is left for the next call; a missing file or a
    cursor that is not a byte offset yields no lines and the cursor unchanged.
    """
    try:
        offset = int(cursor) if cursor is not None else 0
    except ValueError:
        return LogChunk(lines=[], cursor=cursor)
    if offset < 0:
        return LogChunk(lines=[], cursor=cursor)
    try:
        with path.open("rb") as file:
            file.seek(offset)
            data = file.read()
    except FileNotFoundError:
        return LogChunk(lines=[], cursor=cursor)
    end = data.rfind(b"\n")
    if end < 0:
        return LogChunk(lines=[], cursor=cursor)
    complete = data[: end + 1]
    # split("\n"), not splitlines(): only a newline ends a line, as in the byte count above.
    lines = complete.decode("utf-8", errors="replace").split("\n")[:-1]
    return LogChunk(lines=lines, cursor=str(offset + len(complete)))
