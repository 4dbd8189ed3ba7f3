"""The service's dependencies in one object: the ports and the settings the use cases read."""

from __future__ import annotations

from dataclasses import dataclass, field

from skybinder.domain.model import Limits
from skybinder.service.ports import (
    Builder,
    Clock,
    ImageRegistry,
    Prober,
    Resolver,
    Router,
    Runner,
    SessionStore,
)


@dataclass(frozen=True)
class ServiceConfig:
    """Policy the use cases apply; the same in every mode, values from configuration."""

    limits: Limits = field(default_factory=Limits)
    image_prefix: str = "skybinder-"
    build_timeout: float = 3600.0  # a session waiting longer for its image fails
    start_timeout: float = 300.0  # a server that does not answer by then fails
    max_age: float = 6 * 3600.0  # sessions are stopped at this age (0: never)
    stop_timeout: float = 120.0  # a stop not confirmed by then is asked again
    poll_interval: float = 0.5  # how often `watch` looks at the session


@dataclass
class Binder:
    """Everything a use case needs. Built by `bootstrap`, never at import time."""

    store: SessionStore
    registry: ImageRegistry
    builder: Builder
    runner: Runner
    router: Router
    prober: Prober
    resolver: Resolver
    clock: Clock
    config: ServiceConfig = field(default_factory=ServiceConfig)
