"""Output of build tools and servers, in bounded memory and bounded files, whatever they print.

`lines` reads a pipe in chunks and cuts lines longer than `MAX_LINE` bytes (a 100 MB line
without a newline never sits in memory). `CappedLog` keeps a log's head on disk and, beyond
its budget, only its tail in memory, written out when the log closes.
"""

from __future__ import annotations

import os
import re
import select
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

MAX_LINE = 64 * 1024  # bytes of one line that are kept; the rest is cut with a marker
CHUNK = 64 * 1024
POLL = 0.5  # seconds between looks at `done` while a pipe is quiet
DRAIN_GRACE = 2.0  # seconds a pipe is still read after its program ended
_BREAK = re.compile(rb"[\r\n]")  # carriage returns end lines too: progress bars redraw with them


def cut_marker(dropped: int) -> str:
    return f" [... line cut: {dropped} more bytes]"


def lines(
    stream: IO[bytes], max_line: int = MAX_LINE, *, done: threading.Event | None = None
) -> Iterator[str]:
    """The non-empty lines of `stream` as text, until end of file; lines over `max_line`
    bytes are cut to their first `max_line` bytes plus a marker saying how much was left out.

    Once `done` is set (the program ended), reading stops `DRAIN_GRACE` seconds later even
    without an end of file: a process that escaped its container may hold the pipe open.
    """
    fd = stream.fileno()
    kept = bytearray()
    dropped = 0
    while chunk := _read(fd, done):
        *ended, rest = _BREAK.split(chunk)
        for piece in ended:
            kept, dropped = _keep(kept, dropped, piece, max_line)
            if kept or dropped:
                yield _text(kept, dropped)
            kept, dropped = bytearray(), 0
        kept, dropped = _keep(kept, dropped, rest, max_line)
    if kept or dropped:
        yield _text(kept, dropped)


def _read(fd: int, done: threading.Event | None) -> bytes:
    """The next chunk of `fd`; b"" at its end, or once `done` has been set for a while."""
    if done is None:
        return os.read(fd, CHUNK)
    deadline: float | None = None
    while True:
        if deadline is None and done.is_set():
            deadline = time.monotonic() + DRAIN_GRACE
        if deadline is not None and time.monotonic() >= deadline:
            return b""
        ready, _, _ = select.select([fd], [], [], POLL)
        if ready:
            return os.read(fd, CHUNK)


def _keep(kept: bytearray, dropped: int, piece: bytes, max_line: int) -> tuple[bytearray, int]:
    room = max_line - len(kept)
    if room > 0:
        kept += piece[:room]
    return kept, dropped + max(0, len(piece) - max(room, 0))


def _text(kept: bytearray, dropped: int) -> str:
    text = bytes(kept).decode("utf-8", errors="replace")
    return text + cut_marker(dropped) if dropped else text


class CappedLog:
    """A line log of at most about `head + tail` bytes: the first `head` bytes go to the file
    as they come (readers follow them live); after that, lines are kept in memory up to
    `tail` bytes, oldest dropped first, and written out after a marker line on `flush_tail`
    or `close`. `notice(head, tail)` is the line written when the head is full, `gap(lines, bytes)`
    the one written before the tail; both are formatted by the caller (JSON, plain text)."""

    def __init__(
        self,
        path: Path,
        *,
        head: int,
        tail: int,
        notice: Callable[[int, int], str],
        gap: Callable[[int, int], str],
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("ab")
        self._head = head
        self._head_left = head
        self._tail_limit = tail
        self._tail: deque[bytes] = deque()
        self._tail_bytes = 0
        self._dropped_lines = 0
        self._dropped_bytes = 0
        self._notice = notice
        self._gap = gap
        self._full = False

    def write(self, line: str) -> None:
        data = (line.rstrip("\n") + "\n").encode("utf-8", errors="replace")
        if not self._full and len(data) <= self._head_left:
            self._head_left -= len(data)
            self._put(data)
            return
        if not self._full:
            self._full = True
            self._put((self._notice(self._head, self._tail_limit).rstrip("\n") + "\n").encode())
        self._tail.append(data)
        self._tail_bytes += len(data)
        while self._tail_bytes > self._tail_limit and self._tail:
            old = self._tail.popleft()
            self._tail_bytes -= len(old)
            self._dropped_lines += 1
            self._dropped_bytes += len(old)

    def write_always(self, line: str) -> None:
        """Write `line` after the tail (flushed first), whatever the budget: for the last word
        of a log, such as why it failed."""
        self.flush_tail()
        self._put((line.rstrip("\n") + "\n").encode("utf-8", errors="replace"))

    def flush_tail(self) -> None:
        if self._dropped_lines:
            gap = self._gap(self._dropped_lines, self._dropped_bytes)
            self._put((gap.rstrip("\n") + "\n").encode())
        for data in self._tail:
            self._put(data)
        self._tail.clear()
        self._tail_bytes = self._dropped_lines = self._dropped_bytes = 0

    def close(self) -> None:
        if not self._file.closed:
            self.flush_tail()
            self._file.close()

    def _put(self, data: bytes) -> None:
        self._file.write(data)
        self._file.flush()
