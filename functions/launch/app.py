"""Lambda "launch": the HTTP app (the same routes as `skybinder serve`), built on first start.

`run.sh` serves `create` with uvicorn under the Lambda Web Adapter; nothing is built at
import, so importing this module is all a cold start pays before the adapter is up.
"""

from __future__ import annotations

from fastapi import FastAPI

from skybinder.api.app import AppOptions, create_app
from skybinder.bootstrap_aws import current

KEEPALIVE = 25.0  # seconds: API Gateway ends a stream that is silent for 5 minutes


def create() -> FastAPI:
    """The app over the process's AWS binder (uvicorn's `--factory` calls this once)."""
    aws = current()
    options = AppOptions(keepalive=KEEPALIVE, health_checks=aws.health_checks())
    return create_app(aws.binder, options)
