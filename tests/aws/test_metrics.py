"""The dashboard's metrics, as the functions write them (CloudWatch's embedded metric format
on stdout): launches and their time, active sessions, and what sessions cost."""

from __future__ import annotations

import json

import pytest

from skybinder.adapters.aws import launch_metrics
from skybinder.adapters.aws import names as n
from skybinder.domain.pricing import usd
from tests.aws.compute_fixtures import IMAGE, Cloud, launch, load_event, stream


def emitted(capsys: pytest.CaptureFixture[str]) -> dict[str, list[float]]:
    """Metric name -> the values written, from the EMF lines on stdout."""
    found: dict[str, list[float]] = {}
    for line in capsys.readouterr().out.splitlines():
        try:
            blob = json.loads(line)
        except ValueError:
            continue
        if not isinstance(blob, dict) or "_aws" not in blob:
            continue
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == n.METRIC_NAMESPACE
            assert ["service"] in directive["Dimensions"]
            for metric in directive["Metrics"]:
                value = blob[metric["Name"]]
                found.setdefault(metric["Name"], []).extend(
                    value if isinstance(value, list) else [value]
                )
    return found


def test_a_launch_its_time_its_cost_and_the_active_count(
    cloud: Cloud, capsys: pytest.CaptureFixture[str]
) -> None:
    launch_metrics.install("launch")
    cloud.push_image(IMAGE)
    session = launch(cloud)
    cloud.clock.sleep(42)
    cloud.send_reap(cloud.task_event("ecs-task-running", session.task_id))
    assert stream(cloud.binder, session.id)[-1].phase == "ready"
    cloud.send_reap(load_event("scheduled"))
    metrics = emitted(capsys)
    assert metrics[n.METRIC_LAUNCHES] == [1]
    assert metrics[n.METRIC_LAUNCH_TIME] == [42_000]
    assert metrics[n.METRIC_ACTIVE_SESSIONS] == [1]
    cloud.clock.sleep(3600)
    cloud.task_stops(session.task_id)
    cloud.send_reap(cloud.task_event("ecs-task-stopped-exited", session.task_id))
    ended = cloud.session(session.id)
    # Priced from the deployment's session size (1 vCPU, 2 GB) on Spot, where it ran, and its
    # public IPv4 address (the default network gives sessions one: no NAT gateway).
    assert ended.capacity == "spot" and ended.hourly_micros == 19_760 + 5_000
    assert ended.cost_micros > 24_760
    assert emitted(capsys)[n.METRIC_COST] == [usd(ended.cost_micros)]


def test_a_failed_launch_counts_as_a_failure(
    cloud: Cloud, capsys: pytest.CaptureFixture[str]
) -> None:
    launch_metrics.install("launch")
    cloud.push_image(IMAGE)
    session = launch(cloud)
    cloud.task_stops(session.task_id)
    cloud.send_reap(cloud.task_event("ecs-task-stopped-failed-to-start", session.task_id))
    metrics = emitted(capsys)
    assert metrics[n.METRIC_FAILURES] == [1]
    assert n.METRIC_LAUNCHES not in metrics
