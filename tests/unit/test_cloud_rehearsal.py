"""The cloud rehearsal's AWS: its token buckets refuse as AWS's do after botocore's retries,
and a small rehearsal runs the real service layer through them, for both routers."""

from __future__ import annotations

import dataclasses
import random

from bench.cloud_limits import Bucket, Concurrency, Rate
from bench.cloud_rehearsal import SCENARIOS, Rehearsal, percentile


def test_a_bucket_lets_its_burst_through_then_its_rate() -> None:
    bucket = Bucket(Rate(20, 100), random.Random(1))
    times = [bucket.take(0.0) for _ in range(150)]
    assert times[:100] == [0.0] * 100  # the burst, at once
    later = [t for t in times[100:] if t is not None]
    assert later and all(t > 0 for t in later)  # the rest after retries, as tokens come
    assert bucket.throttled > 0


def test_a_bucket_fails_calls_that_outlast_their_retries() -> None:
    bucket = Bucket(Rate(3, 20), random.Random(2))
    results = [bucket.take(i * 0.2) for i in range(300)]  # 5 a second against 3
    assert sum(1 for r in results if r is None) == bucket.failed > 50
    served = sorted(r for r in results if r is not None)
    # Never more than the burst plus what the rate refills, over any span.
    assert len(served) <= 20 + 3 * (served[-1] - served[0]) + 1


def test_a_browser_request_gets_one_attempt() -> None:
    bucket = Bucket(Rate(1, 1), random.Random(3))
    assert bucket.take(0.0, attempts=1) == 0.0
    assert bucket.take(0.0, attempts=1) is None


def test_lambda_concurrency_refuses_beyond_its_limit() -> None:
    lambdas = Concurrency(limit=2)
    assert lambdas.enter() and lambdas.enter() and not lambdas.enter()
    lambdas.leave()
    assert lambdas.enter() and lambdas.peak == 2 and lambdas.throttled == 1


def test_a_small_rehearsal_serves_everyone_through_the_proxy_and_overflows_the_albs() -> None:
    scenario = dataclasses.replace(
        SCENARIOS[1], name="40 in 10 s", attendees=40, arrival_seconds=10.0, balancers=1
    )
    proxied = Rehearsal(scenario, "proxy", seed=3).run()
    assert proxied.admitted == proxied.ready == 40 and not proxied.failed
    assert proxied.proxy_wakes == 1  # asleep until the first launch
    assert 25 < percentile(proxied.waits, 50) < 90
    assert proxied.calls["ecs.RunTask"] == 40
    assert not any(call.startswith("elasticloadbalancing") for call in proxied.calls)
    small = dataclasses.replace(scenario, attendees=120, arrival_seconds=600.0)
    albs = Rehearsal(small, "alb", seed=3).run()  # one load balancer: 100 target groups
    assert albs.ready <= 100 < albs.admitted + sum(albs.failed.values())
    assert any("at capacity" in why for why in albs.failed)
    assert albs.calls["elasticloadbalancing.CreateTargetGroup"] >= albs.ready
