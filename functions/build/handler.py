"""Lambda "build": a CodeBuild "Build State Change" -> the image built (task definition
registered, waiting sessions launched) or failed (waiting sessions failed, with the log's end).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from skybinder.adapters.aws import names, telemetry
from skybinder.adapters.aws.dispatch import handle_build
from skybinder.bootstrap_aws import current

logger = telemetry.logger("skybinder-build")
metrics = telemetry.metrics("build")
tracer = telemetry.tracer("skybinder-build")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    status, outcome = handle_build(current().binder, event)
    if outcome is None:  # still running, or a build skybinder did not start
        logger.info("ignored", extra={"status": status})
        metrics.add_metric(name=names.METRIC_IGNORED, unit=MetricUnit.Count, value=1)
        return {"ignored": status}
    logger.info("build ended", extra={"image": outcome.image_name, "ok": outcome.ok})
    metrics.add_metric(name=names.METRIC_BUILDS, unit=MetricUnit.Count, value=1)
    if not outcome.ok:
        metrics.add_metric(name=names.METRIC_FAILURES, unit=MetricUnit.Count, value=1)
    return {"image": outcome.image_name, "ok": outcome.ok}
