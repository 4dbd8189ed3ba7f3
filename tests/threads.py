"""Threads in tests whose every outcome reaches the test: results, errors and joins checked.

An exception raised in a plain `threading.Thread` only prints a warning, and a `join(timeout)`
that times out returns as quietly as one that did not: a test must see both.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
TIMEOUT = 60.0  # seconds a worker may take before the test fails saying so


class Worker(threading.Thread, Generic[T]):
    """A thread whose result, or the exception it raised, `result()` hands to the caller."""

    def __init__(self, work: Callable[[], T], *, name: str | None = None) -> None:
        super().__init__(name=name, daemon=True)
        self._work = work
        self._value: T | None = None
        self._error: BaseException | None = None

    def run(self) -> None:
        try:
            self._value = self._work()
        except BaseException as error:  # handed to the test's own thread by result()
            self._error = error

    def outcome(self, timeout: float = TIMEOUT) -> T | Exception:
        """The work's result or the Exception it raised; AssertionError if it is still running."""
        self.join(timeout)
        assert not self.is_alive(), f"{self.name} did not finish within {timeout} s"
        if self._error is None:
            return self._value  # type: ignore[return-value]
        if not isinstance(self._error, Exception):
            raise self._error  # KeyboardInterrupt and the like end the test run
        return self._error

    def result(self, timeout: float = TIMEOUT) -> T:
        """The work's result; what it raised is raised again here, in the test's thread."""
        outcome = self.outcome(timeout)
        if self._error is not None:
            raise self._error
        return outcome  # type: ignore[return-value]


def race(n: int, work: Callable[[int], T], timeout: float = TIMEOUT) -> list[T | Exception]:
    """Run work(0..n-1) in n threads released together; results or raised errors, in order.

    Every thread must finish within `timeout` seconds, or the test fails saying which did not.
    """
    barrier = threading.Barrier(n)

    def released(i: int) -> Callable[[], T]:
        def run() -> T:
            barrier.wait()
            return work(i)

        return run

    workers = [Worker(released(i), name=f"worker {i}") for i in range(n)]
    # Switch threads as often as the interpreter can, so that an unguarded check-then-write
    # in a fake is interleaved too (the default 5 ms lets each thread finish alone).
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for worker in workers:
            worker.start()
        return [worker.outcome(timeout) for worker in workers]
    finally:
        sys.setswitchinterval(interval)


def each(outcomes: Sequence[T | Exception]) -> list[T]:
    """`outcomes` when none is an error; otherwise the first error, raised here."""
    for outcome in outcomes:
        if isinstance(outcome, Exception):
            raise outcome
    return list(outcomes)  # type: ignore[arg-type]
