"""Build logs on disk: repo2docker-style JSON lines, appended live and read by byte cursor.

A build's log is capped (`HEAD_BYTES` kept as they come, then its last `TAIL_BYTES`), so a
build that prints without end fills neither the disk nor the memory of whoever reads it.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import TracebackType

from skybinder.adapters.local.bounded_output import MAX_LINE, CappedLog, cut_marker
from skybinder.service.ports import LogChunk

# repo2docker's --json-logs phases that the local builder emits.
FETCHING = "fetching"
BUILDING = "building"
FAILED = "failed"
HEAD_BYTES = 5 * 1024 * 1024
TAIL_BYTES = 5 * 1024 * 1024
MAX_MESSAGE = MAX_LINE + 100  # room for the marker of a line that was cut before
READ_BYTES = 1024 * 1024  # at most this much of a log is read (and relayed) at a time


class BuildLog:
    """Appends one JSON object per line to a build's log file, flushed so readers see it live,
    within `head + tail` bytes (plus the lines that say what was left out, and the last
    word of a failed build)."""

    def __init__(self, path: Path, *, head: int = HEAD_BYTES, tail: int = TAIL_BYTES) -> None:
        self._log = CappedLog(path, head=head, tail=tail, notice=_notice, gap=_gap)

    def emit(self, phase: str, message: str) -> None:
        # Tool output comes cut already (and marked so); this bounds the builder's own lines.
        if len(message) > MAX_MESSAGE:
            message = message[:MAX_LINE] + cut_marker(len(message) - MAX_LINE)
        line = record(phase, message)
        if phase == FAILED:
            self._log.write_always(line)
        else:
            self._log.write(line)

    def close(self) -> None:
        self._log.close()

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
    """The complete lines of `path` after byte offset `cursor` (at most `READ_BYTES` of
    them), and the cursor after them.

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
            data = file.read(READ_BYTES)
    except FileNotFoundError:
        return LogChunk(lines=[], cursor=cursor)
    end = data.rfind(b"\n")
    if end < 0:
        return LogChunk(lines=[], cursor=cursor)
    complete = data[: end + 1]
    # split("\n"), not splitlines(): only a newline ends a line, as in the byte count above.
    lines = complete.decode("utf-8", errors="replace").split("\n")[:-1]
    return LogChunk(lines=lines, cursor=str(offset + len(complete)))


def record(phase: str, message: str) -> str:
    # ensure_ascii keeps every line pure ASCII, so byte cursors never split a character.
    return json.dumps({"phase": phase, "message": message.rstrip("\n") + "\n"})


def _notice(head: int, tail: int) -> str:
    message = (
        f"The build's output is over {_size(head)}: the rest is not shown as it comes; its "
        f"last {_size(tail)} are kept and shown when the build ends."
    )
    return record(BUILDING, message)


def _gap(lines: int, size: int) -> str:
    return record(BUILDING, f"[... {lines} lines ({_size(size)}) of output left out ...]")


def _size(size: int) -> str:
    return f"{size / 2**20:.1f} MB" if size >= 2**20 else f"{size / 1024:.0f} KB"
