"""Lambda "reap": ECS "Task State Change" events -> the session's state (its address routes
it); the one-minute schedule -> `reap` (old, stuck and lost sessions, orphans, counter repair,
the session proxy woken while servers run and put to sleep when idle)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from skybinder.adapters.aws import launch_metrics, names, telemetry
from skybinder.adapters.aws.ecs_stops import SPOT_INTERRUPTION
from skybinder.adapters.aws.events import SCHEDULED, TaskStateChange, task_change
from skybinder.bootstrap_aws import current
from skybinder.domain.pricing import usd
from skybinder.service.reap import reap
from skybinder.service.sessions import on_task_state

logger = telemetry.logger("skybinder-reap")
launch_metrics.install("reap")  # launches the reaper sees end (ready, failed) count too
metrics = telemetry.metrics("reap")
tracer = telemetry.tracer("skybinder-reap")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    aws = current()
    if event.get("detail-type") == SCHEDULED:
        done = reap(aws.binder)
        logger.info("reaped", extra={"done": dict(done)})
        metrics.add_metric(name=names.METRIC_REAPED, unit=MetricUnit.Count, value=done.total())
        counters = getattr(aws.binder.store, "counters", None)  # the DynamoDB store's
        if callable(counters):
            active = counters().get(names.COUNTER_GLOBAL, 0)
            metrics.add_metric(
                name=names.METRIC_ACTIVE_SESSIONS, unit=MetricUnit.Count, value=active
            )
        return {"reaped": dict(done)}
    detail = parse(event=event, model=TaskStateChange).detail
    change = task_change(detail, aws.settings.cluster)
    if change is None:  # another cluster's task, not ours, or a step we do not act on
        metrics.add_metric(name=names.METRIC_IGNORED, unit=MetricUnit.Count, value=1)
        return {"ignored": detail.last_status}
    logger.info("task", extra={"session": change.session_id, "status": change.status})
    ended = on_task_state(
        aws.binder,
        change.session_id,
        change.task_id,
        change.status,
        address=change.address,
        reason=change.reason,
        capacity=change.capacity,
    )
    metrics.add_metric(name=names.METRIC_TASK_EVENTS, unit=MetricUnit.Count, value=1)
    if ended is not None and ended.cost_micros:  # settled by this event: counted once
        metrics.add_metric(
            name=names.METRIC_COST, unit=MetricUnit.NoUnit, value=usd(ended.cost_micros)
        )
    if change.reason == SPOT_INTERRUPTION:
        metrics.add_metric(name=names.METRIC_SPOT_INTERRUPTIONS, unit=MetricUnit.Count, value=1)
    return {"session": change.session_id, "status": str(change.status)}
