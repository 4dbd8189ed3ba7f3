"""powertools' Logger, Metrics and Tracer for the functions, configured in one place.

The Tracer needs the X-Ray SDK (powertools' `tracer` extra). Where it is not installed the
functions get a Tracer whose provider records nothing, instead of failing at import.
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncGenerator, Generator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.tracing.base import BaseProvider, BaseSegment

from skybinder.adapters.aws import names


class _NoSegment(BaseSegment):
    def close(self, end_time: int | None = None) -> None: ...
    def add_subsegment(self, subsegment: Any) -> None: ...
    def remove_subsegment(self, subsegment: Any) -> None: ...
    def put_annotation(self, key: str, value: Any) -> None: ...
    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None: ...
    def add_exception(self, exception: BaseException, stack: Any, remote: bool = False) -> None: ...


class _NoTracing(BaseProvider):
    @contextmanager
    def in_subsegment(self, name: Any = None, **kwargs: Any) -> Generator[BaseSegment, None, None]:
        yield _NoSegment()

    @asynccontextmanager
    async def in_subsegment_async(
        self, name: Any = None, **kwargs: Any
    ) -> AsyncGenerator[BaseSegment, None]:
        yield _NoSegment()

    def put_annotation(self, key: str, value: Any) -> None: ...
    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None: ...
    def patch(self, modules: Sequence[str]) -> None: ...
    def patch_all(self) -> None: ...


def tracer(service: str) -> Tracer:
    if importlib.util.find_spec("aws_xray_sdk") is not None:
        return Tracer(service=service)
    return Tracer(service=service, disabled=False, auto_patch=False, provider=_NoTracing())


def logger(service: str) -> Logger:
    return Logger(service=service)


def metrics(service: str) -> Metrics:
    return Metrics(namespace=names.METRIC_NAMESPACE, service=service)
