"""Benchmark: AWS API calls per cached and per uncached launch, end to end, counted on moto.

    .venv/bin/python -m bench.aws_calls

Every call the binder's botocore session makes is counted by a `before-call` event hook, per
step of the launch: the request (the launch function), the build's end (the build function),
the task's RUNNING event (the reap function), the /build stream up to `ready`, and the task's
STOPPED event. Goal: a cached launch makes at most 8 calls from request to `ready` (the ALB
router, a target group and a rule per session, made 15 on this bench: BASELINE). Also counted:
the first launch after the session proxy went to sleep, which wakes it.
bench/content_only.py adds a commit that changes only content, on images shared by
environment key: no StartBuild, at most 2 calls more than a cached launch, and a simulated
launch time within 10 % of a cached one.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

from skybinder.service.launch import request_launch
from tests.aws.compute_fixtures import IMAGE, SPEC, Cloud, deploy, load_event, make_cloud, stream
from tests.aws.conftest import mocked_aws

GOAL = 8
BASELINE = 15  # the ALB router's cached launch (commit bb751cb, before the session proxy)
IDLE = 900.0  # the deployment's default proxyIdleMinutes, in seconds
TO_READY = ("launch request", "build succeeded event", "task RUNNING event", "/build to ready")


class Calls:
    """AWS operations by step, as `service.Operation`."""

    def __init__(self) -> None:
        self.step = ""
        self.by_step: dict[str, Counter[str]] = {}

    def hook(self, model: Any, **_: Any) -> None:
        service = model.service_model.service_id.hyphenize()
        self.by_step.setdefault(self.step, Counter())[f"{service}.{model.name}"] += 1


def run() -> tuple[dict[str, Counter[str]], ...]:
    """Calls of a first launch (the image is built), of a second one (it is cached), and of a
    third after the session proxy went to sleep (it is woken)."""
    calls = Calls()
    with mocked_aws():
        cloud = make_cloud(deploy(), hooks=[("before-call.*.*", calls.hook)])
        _launch(cloud, calls, cached=False)
        uncached, calls.by_step = calls.by_step, {}
        cloud.clock.sleep(600)  # a later visitor: the build is history for their stream
        _launch(cloud, calls, cached=True)
        cached, calls.by_step = calls.by_step, {}
        cloud.clock.sleep(IDLE + 60)  # nobody came for a while: the reaper puts it to sleep
        assert cloud.send_reap(load_event("scheduled"))["reaped"] == {"proxy-slept": 1}
        calls.by_step = {}
        _launch(cloud, calls, cached=True)
    return uncached, cached, calls.by_step


def _launch(cloud: Cloud, calls: Calls, *, cached: bool, spec: str = SPEC) -> None:
    calls.step = "launch request"
    session = request_launch(cloud.binder, "gh", spec)
    if not cached:
        calls.step = ""
        cloud.push_image(IMAGE)  # what the build pushed
        event = cloud.build_event("codebuild-succeeded", cloud.build_id(IMAGE))
        calls.step = "build succeeded event"
        cloud.send_build(event)
    calls.step = ""
    task = cloud.session(session.id).task_id
    running = cloud.task_event("ecs-task-running", task)
    calls.step = "task RUNNING event"
    cloud.send_reap(running)
    calls.step = "/build to ready"
    assert stream(cloud.binder, session.id)[-1].phase == "ready"
    calls.step = ""
    cloud.task_stops(task)
    stopped = cloud.task_event("ecs-task-stopped-exited", task)
    calls.step = "task STOPPED event"
    cloud.send_reap(stopped)
    calls.step = ""
    assert cloud.session(session.id).state.value == "stopped"


def report(title: str, by_step: dict[str, Counter[str]]) -> tuple[int, int]:
    print(f"\n{title}")
    to_ready = 0
    for step, counts in by_step.items():
        if not step:
            continue
        total = sum(counts.values())
        if step in TO_READY:
            to_ready += total
        detail = ", ".join(f"{name} {n}" for name, n in sorted(counts.items()))
        print(f"  {step:<22} {total:>3}  {detail}")
    control = sum(
        n
        for step, counts in by_step.items()
        if step in TO_READY
        for name, n in counts.items()
        if not name.startswith("dynamodb.")
    )
    print(f"  request to ready: {to_ready} calls ({control} outside DynamoDB)")
    return to_ready, control


def main() -> None:
    # The functions' own logs and metrics would drown the figures.
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    uncached, cached, woken = run()
    report("uncached launch (a CodeBuild build, then as below)", uncached)
    to_ready, control = report("cached launch (the image and its task definition exist)", cached)
    waking, _ = report("cached launch while the session proxy sleeps (it is woken)", woken)
    print(
        f"\ncached launch, request to ready: {to_ready} AWS calls, {control} of them outside "
        f"DynamoDB (ECS, ECR, Application Auto Scaling); goal <= {GOAL}: "
        f"{'met' if to_ready <= GOAL else 'missed'} counting every call, "
        f"{'met' if control <= GOAL else 'missed'} counting the control plane only; "
        f"{BASELINE} with a target group and a rule per session "
        f"({to_ready / BASELINE:.2f}x)"
    )
    print(
        f"cached launch while the session proxy sleeps: {waking} AWS calls "
        f"(+{waking - to_ready}: its admission is refused, the proxy marked awake and woken, "
        "the session admitted again; once per idle period)"
    )
    from bench import content_only

    content_only.main(cached, report)


if __name__ == "__main__":
    main()
