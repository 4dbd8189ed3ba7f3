"""The service's dependencies in one object: the ports and the settings the use cases read."""

from __future__ import annotations

from dataclasses import dataclass, field

from skybinder.domain.model import CapacityPolicy, Limits
from skybinder.domain.pricing import Prices
from skybinder.service.ports import (
    Builder,
    Clock,
    ImageRegistry,
    Prober,
    ProxyFleet,
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
    # Part of every environment key: images built by another builder (another repo2docker,
    # another launcher) are never reused. "" where images are not shared (locally).
    builder_version: str = ""
    build_timeout: float = 3600.0  # a session waiting longer for its image fails
    start_timeout: float = 300.0  # a server that does not answer by then fails
    max_age: float = 6 * 3600.0  # sessions are stopped at this age (0: never)
    stop_timeout: float = 120.0  # a stop not confirmed by then is asked again
    # A ready session with no traffic through the session proxy for this long is stopped,
    # even when its kernel is busy (0: only Jupyter's own culling ends idle sessions).
    idle_timeout: float = 0.0
    poll_interval: float = 0.5  # how often `watch` looks at the session
    # Where sessions outside events run (in AWS): a Spot interruption before `ready` is
    # relaunched on-demand only when this allows it.
    capacity: CapacityPolicy = CapacityPolicy.SPOT_FALLBACK
    max_relaunches: int = 2  # Spot interruptions before `ready` that a launch survives
    # Events (DESIGN.md §7), and the cost of every session where sessions cost money.
    prices: Prices = field(default_factory=Prices)
    session_cpu: float = 0  # vCPUs of a session outside events; 0: such sessions are free
    session_memory_gb: float = 0
    # Minutes a session may be billed beyond its max minutes; admission reserves max minutes
    # plus this. It covers the reaper's interval (1), the stop (the container's 120 s stop
    # timeout and the teardown: 3), Fargate's minimum minute of each server Spot took back
    # (max_relaunches before ready, one after: 3), and one to spare.
    event_grace_minutes: float = 8.0
    event_warning: float = 300.0  # seconds of notice before an event session is stopped
    warm_lead: float = 600.0  # warm sessions start this many seconds before an event opens
    warm_wave: int = 20  # warm sessions started at once (Fargate: bursts of 100, 20/s after)
    # The session proxy's fleet (where it has one) sleeps once no session is active and none
    # has been admitted or ended for this long; a launch wakes it.
    proxy_idle: float = 900.0
    # A built image's record younger than this is proof that the image is in the registry
    # (nothing removes it sooner: in AWS, ECR's lifecycle policy expires images after days),
    # so a launch need not ask the registry. 0: always ask.
    image_trust: float = 0.0


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
    proxy: ProxyFleet | None = None  # the session proxy's tasks, where they are a fleet
