"""Benchmark: a cloud rehearsal — the real service layer on a simulated AWS that enforces AWS's
published limits (bench/cloud_limits.py), for the session proxy and for the ALB router it
replaced (bench/cloud_alb_model.py), side by side.

    .venv/bin/python -m bench.cloud_rehearsal [--seed N] [--scenario TEXT]

Attendees of an event open its launch link: the page and its assets and the /build stream go
through API Gateway (the account's and the stage's throttles) to Lambda (1,000 concurrent
executions, a stream holding one until its session is ready); the launch is admitted and its
server started with RunTask (throttled), Fargate launches the task (launch rate) and pulls a
prebuilt image (25-55 s), EventBridge brings the task's news to the reap function, which runs
every minute too; the stream sees `ready` once the server answers through the proxy (which
wakes from zero on the first launch) or, before, through the load balancer's health checks.
A throttled call fails as AWS fails it after botocore's retries, so the service's own retries
and queues are what they are in AWS. Printed per scenario and router: admitted, failed (and
why), time to ready p50/p90/p99, peak concurrency, AWS calls. Goals: no launch fails for
throttling, and time to ready p90 <= 90 s at the workshop starts.
"""

from __future__ import annotations

import argparse
import logging
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bench.cloud_alb_model import EVENTBRIDGE_RETRIES, AlbPool
from bench.cloud_limits import API_ACCOUNT, API_STAGE, ITEM_WRITE_UNITS, Bucket, Concurrency
from bench.cloud_world import (
    Calls,
    CountingStore,
    Fargate,
    ProxyService,
    Task,
    ThroughProxy,
    Timings,
)
from bench.workshop_platform import Timeline
from skybinder.adapters.proxy_router import ProxyRouter
from skybinder.domain.errors import AccessCodeError
from skybinder.domain.event import EventRequest
from skybinder.domain.model import Session, SessionState, TaskStatus
from skybinder.service.binder import Binder, ServiceConfig
from skybinder.service.events import create_event, request_event_launch
from skybinder.service.launch import on_build_finished
from skybinder.service.reap import reap
from skybinder.service.sessions import check_ready, on_task_state
from tests.fake_ports import FakeBuilder, FakeClock, FakeRegistry, FakeResolver

S = SessionState
SPEC, SLUG, CODE = "u/workshop/HEAD", "workshop", "tea"
PUBLIC_URL = "https://binder.example.org"
PAGE_REQUESTS = 4  # the launch page and its script, style sheet and icon: all through the API
RELOADS = 5  # a page that fails (429) is reloaded this many times, then the attendee gives up
GOAL_P90 = 90.0
REAPER_TIMEOUT = 300.0  # the reap function's timeout (infra/schedules.py)


@dataclass(frozen=True)
class Scenario:
    name: str
    attendees: int
    arrival_seconds: float
    balancers: int  # the ALB router's pool (albCount): 100 sessions each, at most 10
    hold_seconds: float = 1200.0  # simulated after the last arrival


SCENARIOS = (
    Scenario("500 attendees clicking within 5 minutes", 500, 300.0, balancers=5),
    Scenario("300 attendees clicking within 60 seconds", 300, 60.0, balancers=3),
    Scenario("2,000 concurrent sessions (launched over 10 minutes, held)", 2000, 600.0, 10),
)


@dataclass
class Attendee:
    index: int
    clicked: float = 0.0
    reloads: int = 0
    session_id: str = ""
    streaming: bool = False


@dataclass
class Result:
    admitted: int = 0
    ready: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    waits: list[float] = field(default_factory=list)
    peak: int = 0
    calls: Calls = field(default_factory=Calls)
    throttled: Counter[str] = field(default_factory=Counter)  # attempts AWS refused, by limit
    lambda_peak: int = 0
    proxy_wakes: int = 0
    reaper_pass: float = 0.0  # the longest reaper pass, in seconds (its function stops at 300)


class Rehearsal:
    def __init__(self, scenario: Scenario, router: str, seed: int) -> None:
        self.scenario, self.router = scenario, router
        self.rng = random.Random(seed)
        self.timeline = Timeline(FakeClock())
        self.out = Result()
        timings = Timings()
        self.counter = Bucket(ITEM_WRITE_UNITS, self.rng, "dynamodb: the counter item")
        self.store = CountingStore(self.out.calls, self.counter, self.timeline.clock.now)
        self.fargate = Fargate(self.timeline, self.rng, timings, self.out.calls)
        self.fargate.on_news = self._news
        self.api = [
            Bucket(API_ACCOUNT, self.rng, "api: account"),
            Bucket(API_STAGE, self.rng, "api: stage"),
        ]
        self.lambdas = Concurrency()
        self.proxy = ProxyService(self.timeline, self.rng, timings, self.out.calls)
        self.pool = AlbPool(self.timeline, self.rng, self.out.calls, scenario.balancers)
        registry = FakeRegistry()
        self.builder = FakeBuilder(registry)
        self.binder = Binder(
            store=self.store,
            registry=registry,
            builder=self.builder,
            runner=self.fargate,
            router=ProxyRouter(PUBLIC_URL, probe_direct=False),
            prober=ThroughProxy(self.proxy, self.store, self.fargate),
            resolver=FakeResolver({SPEC: "c" * 40}),
            clock=self.timeline.clock,
            config=ServiceConfig(start_timeout=600.0, poll_interval=1.0, image_trust=89 * 86400),
            proxy=self.proxy if router == "proxy" else None,
        )
        if router == "alb":
            self.pool.install(self.fargate)
            self.binder.prober = self  # ready once the load balancer's checks pass
        self.attendees = [Attendee(i) for i in range(scenario.attendees)]
        self.watching: dict[str, Attendee] = {}

    # -- the event, prebuilt ------------------------------------------------------------------

    def run(self) -> Result:
        now, s = self.timeline.now, self.scenario
        opens = now + 600.0
        request = EventRequest(
            slug=SLUG, title="Workshop", provider="gh", spec=SPEC,
            starts_at=datetime.fromtimestamp(opens, UTC),
            ends_at=datetime.fromtimestamp(opens + 4 * 3600, UTC),
            seats=s.attendees, budget_usd=100_000.0, max_minutes=180, access_code=CODE,
        )  # fmt: skip
        event = create_event(self.binder, request).event
        record = self.store.get_image(event.image_name)
        assert record is not None
        self.builder.succeed(record.build_id)  # prebuilt well before the event opens
        on_build_finished(self.binder, event.image_name, ok=True, build_id=record.build_id)
        self.out.calls.clear()
        self.timeline.at(opens + self.rng.uniform(0, 60), self._reap)
        for who in self.attendees:
            self.timeline.at(
                opens + self.rng.uniform(0, s.arrival_seconds), lambda w=who: self._click(w)
            )
        self.timeline.run_until(opens + s.arrival_seconds + s.hold_seconds)
        return self._result()

    # -- an attendee's page and stream -------------------------------------------------------

    def _click(self, who: Attendee) -> None:
        now = self.timeline.now
        who.clicked = who.clicked or now
        for _ in range(PAGE_REQUESTS + 1):  # the page, its assets, then /build
            refused = self._request(now)
            if refused:
                self._reload(who, refused)
                return
        if not self.lambdas.enter():  # the stream holds a launch function until it ends
            self._reload(who, "Lambda concurrency (429)")
            return
        who.streaming = True
        try:
            session = request_event_launch(self.binder, "gh", SPEC, slug=SLUG, code=CODE)
        except (AccessCodeError, RuntimeError) as err:
            self._end_stream(who, f"failed at admission: {err}")
            return
        self._launched(who, session)

    def _request(self, now: float) -> str:
        """One request through API Gateway to the launch function; why it was refused, or ""."""
        for bucket in self.api:
            if bucket.take(now, attempts=1) is None:
                return f"{bucket.name} throttled (429)"
        if not self.lambdas.enter():
            return "Lambda concurrency (429)"
        self.lambdas.leave()  # a page or an asset: served in a few milliseconds
        return ""

    def _reload(self, who: Attendee, why: str) -> None:
        self.out.throttled[why] += 1
        who.reloads += 1
        if who.reloads > RELOADS:
            self.out.failed[f"gave up: {why}"] += 1
            return
        self.timeline.at(self.timeline.now + self.rng.uniform(3, 10), lambda: self._click(who))

    def _launched(self, who: Attendee, session: Session) -> None:
        if session.state == S.FAILED:
            self._end_stream(who, session.reason)
            return
        self.out.admitted += 1
        who.session_id = session.id
        self.watching[session.id] = who
        self.timeline.at(self.timeline.now + 1.0, lambda: self._poll(who))

    def _poll(self, who: Attendee) -> None:
        """One poll of the /build stream: the store, and a probe of a starting server."""
        session = check_ready(self.binder, who.session_id)
        if session is None or not who.streaming:
            return
        if session.state == S.READY:
            self.out.ready += 1
            self.out.waits.append(self.timeline.now - who.clicked)
            self._end_stream(who, "")
        elif session.state.terminal:
            self._end_stream(who, session.reason)
        else:
            self.timeline.at(self.timeline.now + 1.0, lambda: self._poll(who))

    def _end_stream(self, who: Attendee, failure: str) -> None:
        if who.streaming:
            who.streaming = False
            self.lambdas.leave()
        if failure:
            self.out.failed[_short(failure)] += 1
            if self.router == "alb" and who.session_id:
                self.pool.remove(who.session_id)

    # -- AWS's side ----------------------------------------------------------------------------

    def ready(self, url: str) -> bool:
        """The ALB router's prober: through the load balancer, once the target is healthy."""
        session_id = url.rstrip("/").rsplit("/", 1)[-1]
        now = self.timeline.now
        route = self.store.route(session_id)
        task = self.fargate.by_address.get(route.address) if route and route.routable else None
        up = task is not None and task.up and task.alive(now)
        return up and self.pool.healthy(session_id, now)

    def _news(self, task: Task, status: TaskStatus, reason: str, attempt: int = 0) -> None:
        """EventBridge invokes the reap function with a task's change (and retries it)."""
        if not self.lambdas.enter():
            self._retry(task, status, reason, attempt)
            return
        try:
            alb_running = status == TaskStatus.RUNNING and self.router == "alb"
            if alb_running and not self.pool.register(task.session_id):
                self._retry(task, status, reason, attempt)  # the function failed
                return
            on_task_state(
                self.binder, task.session_id, task.id, status,
                address=task.address if status == TaskStatus.RUNNING else "",
                reason=reason, capacity="spot" if status == TaskStatus.RUNNING else "",
            )  # fmt: skip
        finally:
            self.lambdas.leave()

    def _retry(self, task: Task, status: TaskStatus, reason: str, attempt: int) -> None:
        if attempt < EVENTBRIDGE_RETRIES:
            later = self.timeline.now + self.rng.uniform(1, 2) * 2**attempt
            self.timeline.at(later, lambda: self._news(task, status, reason, attempt + 1))

    def _reap(self) -> None:
        if self.lambdas.enter():
            try:
                began = self.fargate.reaper_at = self.timeline.now
                done = reap(self.binder)
                self.out.reaper_pass = max(self.out.reaper_pass, self.fargate.reaper_at - began)
                self.out.throttled["reaper steps that failed (throttled)"] += done.get("error", 0)
                if self.router == "alb":
                    self.pool.sweep({s.id for s in self.store.list() if not s.state.terminal})
            finally:
                self.lambdas.leave()
        self.out.peak = max(self.out.peak, self.fargate.running(self.timeline.now))
        self.timeline.at(self.timeline.now + 60.0, self._reap)

    def _result(self) -> Result:
        out = self.out
        out.lambda_peak = self.lambdas.peak
        out.proxy_wakes = self.proxy.wakes
        for bucket in [self.counter, *self.api, self.fargate.run_task, self.fargate.launches,
                       self.fargate.describe, *self.pool.buckets.values()]:  # fmt: skip
            if bucket.throttled:
                out.throttled[f"{bucket.name}: attempts refused"] += bucket.throttled
        out.throttled["Lambda throttled"] += self.lambdas.throttled
        return out


def _short(reason: str) -> str:
    return reason.split(". ")[0][:90]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def report(scenario: Scenario, router: str, r: Result) -> None:
    label = {"proxy": "session proxy", "alb": f"ALB router ({scenario.balancers} load balancers)"}
    waits = r.waits
    launches = max(1, r.admitted)
    print(f"  {label[router]}:")
    print(
        f"    admitted {r.admitted}, ready {r.ready}, failed {sum(r.failed.values())}; "
        f"time to ready p50 {percentile(waits, 50):.0f} s, p90 {percentile(waits, 90):.0f} s, "
        f"p99 {percentile(waits, 99):.0f} s; peak concurrency {r.peak}"
    )
    for why, n in r.failed.most_common():
        print(f"      failed: {n} x {why}")
    services = Counter[str]()
    for call, n in r.calls.items():
        services[call.split(".", 1)[0]] += n
    detail = ", ".join(f"{s} {n}" for s, n in services.most_common())
    total = sum(r.calls.values())
    print(f"    AWS calls {total} ({total / launches:.1f} a launch): {detail}")
    print(
        f"    Lambda peak concurrency {r.lambda_peak}; proxy woken {r.proxy_wakes}x; "
        f"longest reaper pass {r.reaper_pass:.0f} s"
    )
    for what, n in sorted(r.throttled.items()):
        print(f"    throttled: {what} {n}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scenario", default="", help="run the scenarios whose name has this")
    args = parser.parse_args()
    logging.getLogger("skybinder").setLevel(logging.CRITICAL)  # the figures are the output
    verdicts = []
    for scenario in SCENARIOS:
        if args.scenario not in scenario.name:
            continue
        print(f"\n{scenario.name} (seed {args.seed})")
        for router in ("proxy", "alb"):
            result = Rehearsal(scenario, router, args.seed).run()
            report(scenario, router, result)
            if router == "proxy":
                throttled = sum(
                    n for why, n in result.failed.items() if "hrottl" in why or "429" in why
                )
                verdicts.append((scenario, result, throttled))
    print()
    for scenario, result, throttled in verdicts:
        p90 = percentile(result.waits, 90)
        workshop = scenario.attendees <= 500
        ok = throttled == 0 and (not workshop or p90 <= GOAL_P90)
        print(
            f"cloud rehearsal, {scenario.name}: {throttled} launches failed by throttling, "
            f"time to ready p90 {p90:.0f} s"
            + (f" (goal <= {GOAL_P90:.0f} s)" if workshop else "")
            + f": {'met' if ok else 'missed'}"
        )
        if result.reaper_pass > REAPER_TIMEOUT:
            print(
                f"  warning: a reaper pass needs {result.reaper_pass:.0f} s of DescribeTasks (one "
                f"call a session, 20 a second): more than its function's {REAPER_TIMEOUT:.0f} s"
            )


if __name__ == "__main__":
    main()
