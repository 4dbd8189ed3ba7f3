"""One fault scenario: a lifecycle run through the real launch service, build and reap
handlers on moto, with one fault injected, Lambda's retries, and two reaper passes after the
fault; then the invariants and the outcome against the run without the fault.

Cheap by design: one moto deployment per scenario, a fake clock, no sleeps, no threads but
the two of a concurrent delivery.
"""

from __future__ import annotations

import copy
import importlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from skybinder.service.reap import reap
from tests.aws.compute_deploy import deploy
from tests.aws.compute_events import LambdaContext, load_event
from tests.aws.compute_fixtures import Cloud, made, make_cloud
from tests.aws.conftest import mocked_aws
from tests.aws.faults.checks import Outcome, World, invariants, outcome, proxy_left_awake
from tests.aws.faults.injection import Calls, Fault, Invocation
from tests.aws.faults.lifecycles import LIFECYCLES, Step
from tests.aws.faults.world import Aws, Event

REAP_EVERY = 61.0  # seconds between reaper passes (its schedule is every minute)
REPAIR_PASSES = 2  # the passes a fault's damage must be repaired in
RETRY_DELAYS = (60.0, 120.0)  # Lambda's retries of a failed asynchronous invocation


@dataclass
class Result:
    lifecycle: str
    fault: Fault
    outcome: Outcome
    problems: list[str]
    invocations: list[Invocation] = field(default_factory=list)
    events: list[str] = field(default_factory=list)  # the scripted events, in order
    extra_seconds: float = 0.0  # time the fault cost (passes, retry delays)
    from_request: bool = False  # the fault hit a launch request (no one retries it)

    @property
    def holds(self) -> bool:
        return not self.problems


class Driver:
    """Runs the steps, delivering events and injecting the fault as it comes due."""

    def __init__(self, cloud: Cloud, calls: Calls) -> None:
        self.cloud, self.fault, self.aws = cloud, calls.fault, Aws(cloud)
        self.calls = calls
        self.events: list[str] = []
        self.held: list[Event] = []  # held back until the next step has run
        self.reordered: Event | None = None  # delivered after the next scripted event
        self.fired = False  # the event fault happened
        self.extra = 0.0
        self.passes: list[dict[str, int]] = []

    # -- steps ------------------------------------------------------------------------------

    def run(self, steps: tuple[Step, ...]) -> None:
        for step in steps:
            late, self.held = self.held, []
            fired = self.calls.fired or self.fired
            if step.kind == "aws":
                for event in step.action(self.aws) or []:
                    self._scripted(event)
            else:
                self._invoke(step.kind, step.what, lambda step=step: step.action(self.aws))
            self.cloud.clock.sleep(1)  # sessions made in turn are told apart by their time
            self._flush(late)
            self._incidental()
            if not fired and (self.calls.fired or self.fired):
                self.reap(REPAIR_PASSES, extra=True)
        self._flush(self.held)

    def reap(self, passes: int, *, extra: bool = False, faulted: bool = False) -> None:
        """Reaper passes a minute apart; after one that found nothing to do, the next would
        find nothing either (every grace the reaper waits is at most a minute). `faulted`:
        the passes are invocations a call fault may hit (a pass that dies is followed by the
        next minute's)."""
        for _ in range(passes):
            self.cloud.clock.sleep(REAP_EVERY)
            self.extra += REAP_EVERY if extra else 0.0
            done = self._pass(faulted)
            self.passes.append(done)
            self._incidental()
            if not done:
                return

    def _pass(self, faulted: bool) -> dict[str, int]:
        """One pass of the reap function's schedule: what it did ({"died": 1} if it died)."""
        answers: list[dict[str, int]] = []

        def work() -> None:
            answers.append(self.cloud.send_reap(load_event("scheduled"))["reaped"])

        if faulted:
            self._invoke("pass", "a pass of the idle binder", work)
        else:
            work()
        return answers[0] if answers else {"died": 1}

    def idle(self) -> None:
        """Nobody comes for the proxy's idle time: the reaper's passes put it to sleep. Call
        faults reach these passes too (the proxy's sleep): the next passes repair them."""
        self.cloud.clock.sleep(self.cloud.binder.config.proxy_idle)
        fired = self.calls.fired
        self.reap(REPAIR_PASSES, faulted=True)
        if not fired and self.calls.fired:
            self.reap(REPAIR_PASSES, faulted=True)

    # -- events -----------------------------------------------------------------------------

    def _scripted(self, event: Event) -> None:
        index = len(self.events)
        self.events.append(_name(event))
        pending, self.reordered = self.reordered, None
        kind = self.fault.kind if self.fault.event == index else "deliver"
        self.fired = self.fired or kind != "deliver"
        if kind == "lost":
            pass
        elif kind == "held":
            self.held.append(event)
        elif kind == "reorder":
            self.reordered = event
        elif kind == "dead-letter":
            self._dead_letter(event)
        elif kind in {"concurrent", "reaper-race"}:
            self._at_once(event, kind)
        else:
            self._deliver(event)
            if kind == "duplicate":
                self._deliver(event)
        if pending is not None:
            self._deliver(pending)

    def _flush(self, events: list[Event]) -> None:
        if self.reordered is not None:  # no event came after it: it comes last
            events, self.reordered = [*events, self.reordered], None
        for event in events:
            self._deliver(event)

    def _incidental(self) -> None:
        """ECS's news of tasks the binder stopped: delivered as they come, not faulted."""
        for event in self.aws.stopped_by_skybinder():
            self._deliver(event)

    def _deliver(self, event: Event) -> None:
        """EventBridge invokes the function; Lambda retries it twice when it fails, then
        sends the event to the dead-letter queue."""
        for delay in (*RETRY_DELAYS, None):
            try:
                self._invoke("event", _name(event), lambda: self._handle(event))
                return
            except BaseException:
                if delay is None:
                    self._dead_letter(event)
                    return
                self.cloud.clock.sleep(delay)
                self.extra += delay

    def _handle(self, event: Event) -> Any:
        if event["source"] == "aws.codebuild":
            return self.cloud.send_build(event)
        return self.cloud.send_reap(event)

    def _at_once(self, event: Event, kind: str) -> None:
        """Two functions at once: the event's twice, or the event's and the reaper's pass.
        Each runs as its own role: the handler as the event's function, the reaper's pass
        through the service layer with the reap function's binder."""
        build = event["source"] == "aws.codebuild"
        module = "functions.build.handler" if build else "functions.reap.handler"
        handler = importlib.import_module(module).handler
        context = LambdaContext("skybinder-build" if build else "skybinder-reap")

        def handle() -> Any:
            return handler(copy.deepcopy(event), context)

        def second() -> Any:
            return handle() if kind == "concurrent" else reap(self.cloud.function("reap"))

        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def run(work: Callable[[], Any]) -> None:
            barrier.wait()
            try:
                work()
            except BaseException as err:
                errors.append(err)

        with self.cloud.as_role("build" if build else "reap"):
            threads = [threading.Thread(target=run, args=(work,)) for work in (handle, second)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
        for _ in errors:  # a function that failed is retried by Lambda, alone
            self._deliver(event)

    def _dead_letter(self, event: Event) -> None:
        record = {"requestContext": {"condition": "RetriesExhausted"}, "requestPayload": event}
        sqs = self.cloud.deployment.client("sqs")
        url = self.cloud.aws.settings.dead_letter_queue
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(record))

    def _invoke(self, kind: str, what: str, work: Callable[[], Any]) -> None:
        self.calls.begin(kind, what)
        try:
            if kind == "event":
                work()
                return
            try:
                work()
            except BaseException:
                return
        finally:
            self.calls.end()


def _name(event: Event) -> str:
    detail = event["detail"]
    if event["source"] == "aws.codebuild":
        return f"build {detail['build-status']}"
    if detail.get("lastStatus") == "RUNNING" and detail.get("desiredStatus") == "STOPPED":
        return "task Spot warning"
    if detail.get("lastStatus") == "STOPPED":
        return f"task STOPPED ({detail.get('stopCode', '')})"
    return f"task {detail['lastStatus']}"


def run(lifecycle: str, fault: Fault | None = None) -> Result:
    """Run `lifecycle` with `fault` (None: none); the result holds its invariants' problems
    (its outcome is judged against the run without the fault by `judge`)."""
    fault = fault or Fault()
    with mocked_aws():
        calls = Calls(fault)
        cloud = make_cloud(deploy(), hooks=calls.hooks())
        driver = Driver(cloud, calls)
        driver.run(LIFECYCLES[lifecycle])
        world = World.read(driver.aws)
        problems = invariants(driver.aws, world)
        driver.idle()
        problems += proxy_left_awake(driver.aws)
        if any("counter-repair" in done for done in driver.passes):
            problems.append("the reaper had to repair counters: they drifted")
        problems += _dead_letters_left(cloud)
        # Every call was checked against its function's rendered policy (tests/aws/iam).
        problems += [f"IAM: {p}" for p in dict.fromkeys(cloud.guard.problems)]
        made.remove(cloud)  # checked here: the pytest-wide check need not hold on to it
        request = fault.invocation >= 0 and driver.calls.invocations[fault.invocation].kind
        return Result(
            lifecycle,
            fault,
            outcome(driver.aws, world),
            problems,
            driver.calls.invocations,
            driver.events,
            driver.extra,
            from_request=request == "request",
        )


def _dead_letters_left(cloud: Cloud) -> list[str]:
    sqs = cloud.deployment.client("sqs")
    url = cloud.aws.settings.dead_letter_queue
    left = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    count = int(left["Attributes"]["ApproximateNumberOfMessages"])
    return [f"{count} events left in the dead-letter queue"] if count else []


def judge(result: Result, reference: Result) -> list[str]:
    """The scenario's problems: its invariants', and how its outcome differs from the run
    without the fault. A fault in a launch request (which nobody retries) may leave the
    launch failed, with a reason, or never made: nothing else."""
    if result.from_request:
        return result.problems + _request_differences(result, reference)
    return result.problems + result.outcome.differences(reference.outcome, result.extra_seconds)


def _request_differences(result: Result, reference: Result) -> list[str]:
    """Sessions of a lifecycle whose launch request failed: each one failed with a reason,
    or as it would have been without the fault."""
    unmatched = list(reference.outcome.sessions)
    problems = []
    for got in result.outcome.sessions:
        if got.state == "failed" and got.reason:
            continue
        same = [
            want
            for want in unmatched
            if not Outcome((got,), (), 0).differences(Outcome((want,), (), 0), result.extra_seconds)
        ]
        if same:
            unmatched.remove(same[0])
        else:
            problems.append(f"a session ended {got.state} ({got.reason[:70]!r}), unlike any")
    return problems
