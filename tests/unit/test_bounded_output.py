"""Tool output in bounded memory and bounded files: cut lines, capped logs, chunked reads."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from skybinder.adapters.local.bounded_output import CappedLog, lines
from skybinder.adapters.local.build_log import BuildLog, read_lines


@contextmanager
def pipe(*chunks: bytes, close: bool = True) -> Iterator[IO[bytes]]:
    """A pipe whose other end writes `chunks` (from a thread: more than a pipe's buffer),
    then closes, unless `close` is False (as a process that escaped would hold it)."""
    read_fd, write_fd = os.pipe()

    def write() -> None:
        for chunk in chunks:
            os.write(write_fd, chunk)
        if close:
            os.close(write_fd)

    writer = threading.Thread(target=write)
    writer.start()
    with os.fdopen(read_fd, "rb") as stream:
        yield stream
    writer.join()
    if not close:
        os.close(write_fd)


def test_long_lines_are_cut_with_what_was_left_out() -> None:
    with pipe(b"x" * 300_000, b"y" * 50, b"\nshort\n") as stream:
        got = list(lines(stream, max_line=1000))
    assert got == ["x" * 1000 + " [... line cut: 299050 more bytes]", "short"]


def test_carriage_returns_end_lines_and_blank_lines_are_dropped() -> None:
    with pipe(b"10%\r50%\r100%\r\n\n\ndone\r\nlast without newline") as stream:
        assert list(lines(stream)) == ["10%", "50%", "100%", "done", "last without newline"]


def test_a_character_cut_in_half_is_replaced_not_an_error() -> None:
    with pipe("é".encode() * 3 + b"\n") as stream:
        [line] = list(lines(stream, max_line=5))
    assert line == "éé\ufffd [... line cut: 1 more bytes]"


def test_reading_ends_after_the_program_ended_even_if_the_pipe_stays_open() -> None:
    ended = threading.Event()
    ended.set()
    got: list[str] = []
    with pipe(b"before the end\n", close=False) as stream:
        reader = threading.Thread(target=lambda: got.extend(lines(stream, done=ended)))
        reader.start()
        reader.join(30)
        assert not reader.is_alive()
    assert got == ["before the end"]


def capped(path: Path, head: int, tail: int) -> CappedLog:
    return CappedLog(
        path,
        head=head,
        tail=tail,
        notice=lambda h, t: f"NOTICE {h} {t}",
        gap=lambda count, size: f"GAP {count} {size}",
    )


def test_a_capped_log_keeps_its_head_and_its_tail(tmp_path: Path) -> None:
    log = capped(tmp_path / "a.log", head=30, tail=20)
    for i in range(100):
        log.write(f"line {i:03}")  # 9 bytes with the newline
    written = (tmp_path / "a.log").read_text().splitlines()
    assert written == ["line 000", "line 001", "line 002", "NOTICE 30 20"]  # live: the head
    log.close()
    written = (tmp_path / "a.log").read_text().splitlines()
    # 20 bytes of tail hold two lines: 95 of the 97 after the head were left out.
    assert written[4:] == ["GAP 95 855", "line 098", "line 099"]


def test_the_last_word_is_written_after_the_tail_whatever_the_budget(tmp_path: Path) -> None:
    log = capped(tmp_path / "a.log", head=10, tail=10)
    for i in range(5):
        log.write(f"line {i}")
    log.write_always("it failed because ...")
    log.write_always("and this too")
    log.close()
    written = (tmp_path / "a.log").read_text().splitlines()
    assert written == [
        "line 0",
        "NOTICE 10 10",
        "GAP 3 21",
        "line 4",
        "it failed because ...",
        "and this too",
    ]


def test_a_build_log_is_read_in_bounded_chunks(tmp_path: Path) -> None:
    path = tmp_path / "b.log"
    with BuildLog(path) as log:
        for i in range(40):
            log.emit("building", f"{i:04} " + "z" * 60_000)
    cursor, seen, reads = None, [], 0
    while True:
        chunk = read_lines(path, cursor)
        if not chunk.lines:
            break
        assert sum(len(line) + 1 for line in chunk.lines) <= 1024 * 1024
        seen += [json.loads(line)["message"][:4] for line in chunk.lines]
        cursor, reads = chunk.cursor, reads + 1
    assert seen == [f"{i:04}" for i in range(40)] and reads >= 3


def test_a_build_log_is_capped_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "c.log"
    with BuildLog(path, head=100_000, tail=100_000) as log:
        for i in range(20_000):
            log.emit("building", f"output line {i}")
        log.emit("failed", "postBuild failed with exit code 1")
    records = [json.loads(line) for line in path.read_text().splitlines()]
    messages = [r["message"].rstrip("\n") for r in records]
    assert path.stat().st_size < 210_000
    assert messages[0] == "output line 0" and messages[-2] == "output line 19999"
    assert records[-1] == {"phase": "failed", "message": "postBuild failed with exit code 1\n"}
    assert any(m.startswith("The build's output is over 98 KB") for m in messages)
    assert any(m.startswith("[... ") and "lines (" in m for m in messages)
