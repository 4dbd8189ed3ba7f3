"""Lambda "launch": the HTTP app (the same routes as `skybinder serve`), built on first start.

`run.sh` serves `create` with uvicorn under the Lambda Web Adapter; nothing is built at
import, so importing this module is all a cold start pays before the adapter is up.
"""

from __future__ import annotations

from fastapi import FastAPI

from skybinder.adapters.aws import launch_metrics
from skybinder.api.admin import iam_auth
from skybinder.api.app import AppOptions, create_app
from skybinder.api.limits import LaunchRateLimit
from skybinder.bootstrap_aws import current

KEEPALIVE = 25.0  # seconds: API Gateway ends a stream that is silent for 5 minutes
# CloudFront, then API Gateway, each append to X-Forwarded-For: the viewer is 2 from the end.
TRUSTED_PROXIES = 2


def create() -> FastAPI:
    """The app over the process's AWS binder (uvicorn's `--factory` calls this once)."""
    aws = current()
    launch_metrics.install("launch")  # streams see most launches reach `ready`
    settings = aws.settings
    rate_limit = None
    if aws.rate_limiter is not None and settings.launch_rate_limit > 0:
        rate_limit = LaunchRateLimit(
            aws.rate_limiter, settings.launch_rate_limit, settings.launch_rate_window
        )
    options = AppOptions(
        keepalive=KEEPALIVE,
        health_checks=aws.health_checks(),
        build_token_secret=aws.build_token_secret,  # fetched on first use, not at start
        rate_limit=rate_limit,
        limiter=aws.rate_limiter,  # access-code guesses and used build tokens, always
        trusted_proxies=TRUSTED_PROXIES,
        admin_auth=iam_auth,  # API Gateway authorises /api/admin/* with IAM; checked again here
    )
    return create_app(aws.binder, options)
