"""The whole fault suite: every lifecycle's fault-free run, then every fault of every
lifecycle in its own moto deployment, spread over the machine's cores.

Faults are not repeated where they would meet the very same code: an event that a lifecycle
sends twice alike (two sessions' RUNNING) is faulted once, and a call fault in an invocation
that another lifecycle makes alike (the same function, the same calls) is injected there once.
The reaper's passes of the idle binder (which put the session proxy to sleep) differ between
lifecycles only in what they list: their faults are those of each call that is not a listing,
injected once whatever the lifecycle (a listing that fails ends one step of one pass, alike).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from tests.aws.faults.injection import EVENT_FAULTS, Fault, Invocation, call_faults
from tests.aws.faults.lifecycles import LIFECYCLES
from tests.aws.faults.run import Result, judge, run

KINDS = (*EVENT_FAULTS, "crash", "throttle")
LISTINGS = ("Query", "ListTasks", "ReceiveMessage")  # a pass's reads of what there is


@dataclass(frozen=True)
class Verdict:
    lifecycle: str
    fault: Fault
    problems: tuple[str, ...]

    @property
    def holds(self) -> bool:
        return not self.problems


def references() -> dict[str, Result]:
    """Every lifecycle run without a fault: what each fault's run is held to."""
    return {name: run(name) for name in LIFECYCLES}


def scenarios(refs: dict[str, Result]) -> Iterator[tuple[str, Fault]]:
    seen: set[tuple[object, ...]] = set()
    for name, reference in refs.items():
        for index, event in enumerate(reference.events):
            if event in reference.events[:index]:
                continue  # the same event again (another session's): faulted once
            for kind in EVENT_FAULTS:
                yield name, Fault(kind, event=index, what=event)
        for fault in call_faults(reference.invocations):
            alike = _alike(reference.invocations[fault.invocation], fault)
            if alike is not None and alike not in seen:
                seen.add(alike)
                yield name, fault


def _alike(invocation: Invocation, fault: Fault) -> tuple[object, ...] | None:
    """What a call fault meets, to inject it once; None: not worth a scenario."""
    if invocation.kind != "pass":
        return (fault.kind, invocation.what, tuple(invocation.calls), fault.call)
    operation = invocation.calls[fault.call]
    if operation in LISTINGS:
        return None
    return (fault.kind, invocation.what, operation, invocation.calls[: fault.call].count(operation))


def _quiet() -> None:
    """A worker's own output (the functions' JSON logs and metrics) goes nowhere."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    logging.disable(logging.CRITICAL)


def _judge(job: tuple[str, Fault, Result]) -> Verdict:
    name, fault, reference = job
    try:
        problems = judge(run(name, fault), reference)
    except Exception as err:
        problems = [f"the scenario itself failed: {err!r}"]
    return Verdict(name, fault, tuple(problems))


def run_all(workers: int | None = None) -> tuple[dict[str, Result], list[Verdict]]:
    """The references, and a verdict for every scenario (in a stable order)."""
    refs = references()
    jobs = [(name, fault, refs[name]) for name, fault in scenarios(refs)]
    count = workers or os.cpu_count() or 1
    if count == 1:
        return refs, [_judge(job) for job in jobs]
    with ProcessPoolExecutor(max_workers=count, initializer=_quiet) as pool:
        return refs, list(pool.map(_judge, jobs, chunksize=4))


def by_kind(verdicts: Iterable[Verdict], lifecycle: str, kind: str) -> list[Verdict]:
    return [v for v in verdicts if v.lifecycle == lifecycle and v.fault.kind == kind]
