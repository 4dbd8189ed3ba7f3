"""Lambda "build": a CodeBuild "Build State Change" -> the image built (task definition
registered, waiting sessions launched) or failed (waiting sessions failed, with the log's end).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from skybinder.adapters.aws import names, telemetry
from skybinder.adapters.aws.events import BuildStateChange, build_outcome
from skybinder.bootstrap_aws import current
from skybinder.service.build_events import on_build_event

logger = telemetry.logger("skybinder-build")
metrics = telemetry.metrics("build")
tracer = telemetry.tracer("skybinder-build")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    change = parse(event=event, model=BuildStateChange)
    outcome = build_outcome(change.detail)
    if outcome is None:  # still running, or a build skybinder did not start
        logger.info("ignored", extra={"build": change.detail.build_id})
        metrics.add_metric(name=names.METRIC_IGNORED, unit=MetricUnit.Count, value=1)
        return {"ignored": change.detail.build_status}
    logger.info("build ended", extra={"image": outcome.image_name, "ok": outcome.ok})
    on_build_event(
        current().binder,
        outcome.image_name,
        outcome.build_id,
        ok=outcome.ok,
        summary=outcome.summary,
    )
    metrics.add_metric(name=names.METRIC_BUILDS, unit=MetricUnit.Count, value=1)
    if not outcome.ok:
        metrics.add_metric(name=names.METRIC_FAILURES, unit=MetricUnit.Count, value=1)
    return {"image": outcome.image_name, "ok": outcome.ok}
