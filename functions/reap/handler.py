"""Lambda "reap": ECS "Task State Change" events -> the session's state (its address routes
it); the one-minute schedule -> the events the dead-letter queue holds, replayed, then `reap`
(old, stuck and lost sessions, what lost events left behind, orphans, counter repair, the
session proxy woken while servers run and put to sleep when idle)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from skybinder.adapters.aws import launch_metrics, names, telemetry
from skybinder.adapters.aws.dispatch import handle_task, replay
from skybinder.adapters.aws.ecs_stops import SPOT_INTERRUPTION
from skybinder.adapters.aws.events import SCHEDULED
from skybinder.bootstrap_aws import AwsBinder, current
from skybinder.domain.pricing import usd
from skybinder.service.reap import reap
from skybinder.service.steps import isolated

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
        return _scheduled(aws)
    news = handle_task(aws.binder, aws.settings.cluster, event)
    if news.change is None:  # another cluster's task, not ours, or a step we do not act on
        metrics.add_metric(name=names.METRIC_IGNORED, unit=MetricUnit.Count, value=1)
        return {"ignored": news.status}
    change = news.change
    logger.info("task", extra={"session": change.session_id, "status": change.status})
    metrics.add_metric(name=names.METRIC_TASK_EVENTS, unit=MetricUnit.Count, value=1)
    if news.ended is not None and news.ended.cost_micros:  # settled by this event: counted once
        cost = usd(news.ended.cost_micros)
        metrics.add_metric(name=names.METRIC_COST, unit=MetricUnit.NoUnit, value=cost)
    if change.reason == SPOT_INTERRUPTION:
        metrics.add_metric(name=names.METRIC_SPOT_INTERRUPTIONS, unit=MetricUnit.Count, value=1)
    return {"session": change.session_id, "status": str(change.status)}


def _scheduled(aws: AwsBinder) -> dict[str, Any]:
    done: Counter[str] = Counter()
    if aws.dead_letters is not None:  # news that missed its function first, then the pass
        binder, cluster = aws.binder, aws.settings.cluster
        # A queue that cannot be read this minute must not keep the pass from its deadlines.
        with isolated(done, "the dead-letter queue"):
            done.update(aws.dead_letters.drain(lambda event: replay(binder, cluster, event)))
    done.update(reap(aws.binder))
    logger.info("reaped", extra={"done": dict(done)})
    metrics.add_metric(name=names.METRIC_REAPED, unit=MetricUnit.Count, value=done.total())
    counters = getattr(aws.binder.store, "counters", None)  # the DynamoDB store's
    if callable(counters):
        active = counters().get(names.COUNTER_GLOBAL, 0)
        metrics.add_metric(name=names.METRIC_ACTIVE_SESSIONS, unit=MetricUnit.Count, value=active)
    return {"reaped": dict(done)}
