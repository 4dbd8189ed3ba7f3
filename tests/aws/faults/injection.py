"""What a fault scenario injects, and the botocore hooks that inject it into the binder's calls.

A scenario has one fault: something done to one event of the lifecycle (duplicated, delivered
by two functions at once, raced by the reaper, reordered, held back, lost, or failed on every
retry into the dead-letter queue), a crash of one function right after one of its AWS calls
that changes something (a store write, RunTask, CreateRule...: a crash after a read is the
crash after the write before it), or any one call throttled past botocore's retries.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse

# Faults done to one event of the lifecycle.
EVENT_FAULTS = (
    "duplicate",  # delivered twice
    "concurrent",  # delivered twice at once: two functions handle it from the same reads
    "reaper-race",  # handled while the reaper, which sees the same change in AWS, runs
    "reorder",  # delivered after the event that follows it
    "held",  # held back: delivered after the next step of the lifecycle (and reaper passes)
    "lost",  # never delivered
    "dead-letter",  # its function failed on every retry: it waits in the dead-letter queue
)
CALL_FAULTS = ("crash", "throttle")
READS = ("Get", "Describe", "List", "Query", "Scan", "BatchGet", "Receive")
THROTTLED = "ThrottlingException"  # what ECS, CodeBuild, DynamoDB... answer past the retries


class Crash(BaseException):
    """The function's process died here (a timeout, out of memory): no `except Exception`
    below it runs, as none would in Lambda."""


@dataclass(frozen=True)
class Fault:
    kind: str = "none"
    event: int = -1  # the n-th scripted event of the lifecycle (event faults)
    invocation: int = -1  # the n-th function invocation of the lifecycle (call faults)
    call: int = -1  # the n-th AWS call of that invocation (call faults)
    what: str = ""  # the event's or the call's name, for people

    @property
    def label(self) -> str:
        if self.kind == "none":
            return "no fault"
        if self.kind in EVENT_FAULTS:
            return f"{self.kind} {self.what} (event {self.event})"
        return f"{self.kind} {self.what} (invocation {self.invocation}, call {self.call})"


def mutates(operation: str) -> bool:
    return not operation.startswith(READS)


@dataclass
class Invocation:
    """One invocation of a function in the lifecycle, and the AWS calls it made."""

    kind: str  # "request", "probe" or "event"
    what: str
    calls: list[str] = field(default_factory=list)


class Calls:
    """Counts the binder's AWS calls per invocation and fires a call fault at its place."""

    def __init__(self, fault: Fault) -> None:
        self.fault = fault
        self.fired = False
        self.invocations: list[Invocation] = []
        self.current: int | None = None  # the invocation running now (None: a reaper pass)
        self._lock = threading.Lock()

    def hooks(self) -> list[tuple[str, Any]]:
        """The botocore event hooks, for the binder's session before it makes its clients."""
        return [("before-call.*.*", self._before), ("after-call.*.*", self._after)]

    def begin(self, kind: str, what: str) -> int:
        with self._lock:
            self.invocations.append(Invocation(kind, what))
            self.current = len(self.invocations) - 1
            return self.current

    def end(self) -> None:
        self.current = None

    def _position(self, operation: str) -> tuple[int, int] | None:
        if self.current is None:
            return None
        calls = self.invocations[self.current].calls
        calls.append(operation)
        return self.current, len(calls) - 1

    def _is_due(self, kind: str, invocation: int, call: int) -> bool:
        f = self.fault
        due = not self.fired and (f.kind, f.invocation, f.call) == (kind, invocation, call)
        if due:
            self.fired = True
        return due

    def _before(self, model: Any, **_: Any) -> Any:
        with self._lock:
            position = self._position(model.name)
            if position is None or not self._is_due("throttle", *position):
                return None
        body = {"Error": {"Code": THROTTLED, "Message": "Rate exceeded"}, "ResponseMetadata": {}}
        return AWSResponse("https://aws.invalid", status_code=400, headers={}, raw=None), body

    def _after(self, model: Any, **_: Any) -> None:
        with self._lock:
            if self.current is None:
                return
            position = (self.current, len(self.invocations[self.current].calls) - 1)
            due = self._is_due("crash", *position)
        if due:
            raise Crash(f"the function died after {model.name}")


def call_faults(invocations: list[Invocation]) -> list[Fault]:
    """The call faults of a lifecycle whose fault-free run made `invocations`: a crash after
    every call that changes something, and every call throttled."""
    faults: list[Fault] = []
    for i, invocation in enumerate(invocations):
        for j, operation in enumerate(invocation.calls):
            where = f"{operation} in {invocation.what}"
            if mutates(operation):
                faults.append(Fault("crash", invocation=i, call=j, what=where))
            faults.append(Fault("throttle", invocation=i, call=j, what=where))
    return faults
