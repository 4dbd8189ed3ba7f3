"""Lambda "launch": the HTTP app (the same routes as `skybinder serve`), built on first start.

`run.sh` serves `create` with uvicorn under the Lambda Web Adapter; nothing is built at
import, so importing this module is all a cold start pays before the adapter is up.
"""

from __future__ import annotations

from fastapi import FastAPI

from skybinder.adapters.aws import launch_metrics, names
from skybinder.api.admin import iam_auth
from skybinder.api.app import AppOptions, create_app
from skybinder.api.limits import LaunchRateLimit
from skybinder.api.origin import viewer_address
from skybinder.bootstrap_aws import current

KEEPALIVE = 25.0  # seconds: API Gateway ends a stream that is silent for 5 minutes
# API Gateway ends a streamed response after 15 minutes (and the function after 900 s): a
# stream ends cleanly before that, saying the launch goes on (api/stream.py `within`).
STREAM_LIMIT = 14 * 60.0


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
        stream_limit=STREAM_LIMIT,
        health_checks=aws.health_checks(),
        build_token_secret=aws.build_token_secret,  # fetched on first use, not at start
        rate_limit=rate_limit,
        limiter=aws.rate_limiter,  # access-code guesses and used build tokens, always
        admin_auth=iam_auth,  # API Gateway authorises /api/admin/* with IAM; checked again here
        # Only requests through CloudFront carry the secret; the viewer's address is the one
        # CloudFront saw (api/origin.py). A deployment without a secret refuses every request.
        origin_header=names.ORIGIN_SECRET_HEADER,
        origin_secret=lambda: settings.origin_secret,
        client_address=viewer_address(names.VIEWER_ADDRESS_HEADER),
    )
    return create_app(aws.binder, options)
