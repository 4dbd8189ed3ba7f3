"""Launch outcomes as CloudWatch metrics: a logging handler on the launch-event logger writes
each one in the embedded metric format, which CloudWatch turns into metrics from the log.

Whichever function sees a launch end (launch, while streaming; reap, on its schedule)
reports it, so the dashboard's Launches, LaunchTime and Failures add up across functions.
"""

from __future__ import annotations

import logging
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from skybinder.adapters.aws import names
from skybinder.service.launch_events import log as launch_log


class LaunchMetrics(logging.Handler):
    """Turns `emit_launch_event` records into Launches, LaunchTime and Failures."""

    def __init__(self, service: str) -> None:
        super().__init__(level=logging.INFO)
        self.dimensions = {"service": service}

    def emit(self, record: logging.LogRecord) -> None:
        outcome: Any = getattr(record, "launch_outcome", None)
        if not isinstance(outcome, dict):
            return
        try:
            if outcome.get("status") == "success":
                self._metric(names.METRIC_LAUNCHES, MetricUnit.Count, 1)
                ms = float(outcome.get("seconds", 0)) * 1000
                self._metric(names.METRIC_LAUNCH_TIME, MetricUnit.Milliseconds, ms)
            else:
                self._metric(names.METRIC_FAILURES, MetricUnit.Count, 1)
        except Exception:  # a metric is never worth a failed launch
            self.handleError(record)

    def _metric(self, name: str, unit: MetricUnit, value: float) -> None:
        with single_metric(
            name=name,
            unit=unit,
            value=value,
            namespace=names.METRIC_NAMESPACE,
            default_dimensions=self.dimensions,
        ):
            pass  # written (printed as EMF) when the block ends


def install(service: str) -> LaunchMetrics:
    """Attach the handler to the launch-event logger once per process; return it."""
    for handler in launch_log.handlers:
        if isinstance(handler, LaunchMetrics):
            return handler
    handler = LaunchMetrics(service)
    launch_log.addHandler(handler)
    launch_log.setLevel(logging.INFO)
    return handler
