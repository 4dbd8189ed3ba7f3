"""The AWS composition root: a Binder of AWS adapters, built from the functions' environment.

Nothing is created at import: `current()` builds the process's binder on first use, and a
Lambda container keeps it between invocations.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import botocore.session
from botocore.config import Config

from skybinder.adapters.aws.cloudwatch_logs import BuildLogs
from skybinder.adapters.aws.codebuild_builder import CodeBuildBuilder
from skybinder.adapters.aws.dynamo_rate_limit import DynamoRateLimiter
from skybinder.adapters.aws.dynamo_secret import shared_secret
from skybinder.adapters.aws.dynamo_store import DynamoSessionStore
from skybinder.adapters.aws.ecr_registry import EcrRegistry
from skybinder.adapters.aws.ecs_runner import EcsRunner, EcsSettings
from skybinder.adapters.aws.ecs_task_definitions import TaskDefinitions
from skybinder.adapters.aws.lazy import LazyProber, LazyResolver, public_url_reader
from skybinder.adapters.aws.names import ENV_SETTINGS_PARAMETER
from skybinder.adapters.aws.proxy_fleet import EcsProxyFleet
from skybinder.adapters.aws.settings import AwsSettings, load_settings, read_parameter
from skybinder.adapters.proxy_router import ProxyRouter
from skybinder.domain.jupyter import JupyterOptions
from skybinder.domain.model import Limits
from skybinder.domain.repo_policy import ProviderSettings
from skybinder.service.binder import Binder, ServiceConfig
from skybinder.service.ports import Clock, Prober, ProxyFleet, RateLimiter, Resolver

if TYPE_CHECKING:
    import httpx

# Retries with backoff for throttling; short timeouts, because a user is waiting.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=20
)


@dataclass
class AwsBinder:
    """The service wired to AWS, with the settings it was built from."""

    binder: Binder
    settings: AwsSettings
    clients: list[httpx.Client] = field(default_factory=list)
    # Windows in the same table: per-IP launches, access-code guesses, used build tokens.
    rate_limiter: RateLimiter | None = None
    build_token_secret: Callable[[], str] = lambda: ""  # the key all launch instances share

    def health_checks(self) -> dict[str, Callable[[], bool]]:
        return {"store": lambda: self.binder.store.get("health-check") is None}


class SystemClock:
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def build_aws(
    environ: Mapping[str, str] = os.environ,
    *,
    session: Any = None,
    http: httpx.Client | None = None,
    resolver: Resolver | None = None,
    clock: Clock | None = None,
) -> AwsBinder:
    """Wire the AWS adapters. `session` (a botocore Session), `http` (the prober's client),
    `resolver` and `clock` replace the defaults (tests pass moto-backed and mock ones).

    botocore rather than boto3, and the HTTP client only when first used: a function that
    never probes or resolves never imports httpx, and none imports boto3 (a cold start saved).
    """
    aws: Any = session or botocore.session.get_session()

    def client(name: str) -> Any:
        return aws.create_client(name, config=CLIENT_CONFIG)

    # The settings parameter: one read per cold start (this runs once per process).
    parameter_name = environ.get(ENV_SETTINGS_PARAMETER, "").strip()
    parameter = read_parameter(client("ssm"), parameter_name) if parameter_name else None
    settings = load_settings(environ, parameter)

    prober: Prober = LazyProber()
    if http is not None:
        from skybinder.adapters.aws.http_prober import PublicUrlProber

        prober = PublicUrlProber(http)
    registry = EcrRegistry(client("ecr"), settings.image_repository)
    logs = BuildLogs(client("logs"), settings.build_log_group, settings.build_log_stream_prefix)
    ecs = client("ecs")
    definitions = TaskDefinitions(
        ecs, settings.session_task_definition, settings.task_family_prefix, registry.uri
    )
    clock = clock or SystemClock()
    binder = Binder(
        store=DynamoSessionStore(client("dynamodb"), settings.table, clock=clock.now),
        registry=registry,
        builder=CodeBuildBuilder(client("codebuild"), logs, settings.build_project, registry.uri),
        runner=EcsRunner(ecs, _ecs_settings(settings), definitions),
        # The functions run outside the VPC (no NAT, no ENI at cold start): readiness is
        # checked through the public URL, the way users reach the session (docs/deploy.md).
        router=ProxyRouter(
            public_url_reader(
                settings.public_url, settings.public_url_parameter, lambda: client("ssm")
            ),
            probe_direct=False,
        ),
        prober=prober,
        resolver=resolver
        or LazyResolver(
            settings.github_token_secret,
            client,
            ProviderSettings(banned_specs=list(settings.banned_specs)),
            environments=bool(settings.builder_version),
        ),
        clock=clock,
        proxy=_proxy_fleet(settings, client),
        config=ServiceConfig(
            limits=Limits(
                max_sessions=settings.max_sessions,
                max_sessions_per_repo=settings.max_sessions_per_repo,
            ),
            max_age=settings.max_age,
            # The session proxy records each session's traffic: no traffic this long, it ends.
            idle_timeout=float(settings.idle_timeout),
            proxy_idle=settings.proxy_idle,
            # ECR's lifecycle policy expires images after days; a day's margin for clocks.
            image_trust=max(0, settings.image_expiry_days - 1) * 86400.0,
            builder_version=settings.builder_version,
            # Fargate pulls the whole image for every task: minutes for a large one.
            start_timeout=600.0,
            poll_interval=1.0,  # every poll of /build reads DynamoDB
            capacity=settings.capacity,
            prices=settings.prices,
            session_cpu=settings.session_cpu / 1024,
            session_memory_gb=settings.session_memory / 1024,
        ),
    )
    limiter = DynamoRateLimiter(client("dynamodb"), settings.table)
    return AwsBinder(
        binder=binder,
        settings=settings,
        clients=[http] if http else [],
        rate_limiter=limiter,
        build_token_secret=lambda: shared_secret(client("dynamodb"), settings.table, "build-token"),
    )


def _ecs_settings(settings: AwsSettings) -> EcsSettings:
    return EcsSettings(
        cluster=settings.cluster,
        subnets=settings.subnets,
        security_groups=settings.security_groups,
        assign_public_ip=settings.assign_public_ip,
        capacity=settings.capacity,
        jupyter=JupyterOptions(idle_timeout=settings.idle_timeout),
    )


def _proxy_fleet(settings: AwsSettings, client: Callable[[str], Any]) -> ProxyFleet | None:
    """The proxy's ECS service, where the deployment runs one (it always does; a binder
    assembled by hand may route elsewhere and have none)."""
    if not settings.proxy_service:
        return None
    return EcsProxyFleet(
        client("application-autoscaling"),
        settings.proxy_service,
        tasks=settings.proxy_tasks,
        max_tasks=settings.proxy_max_tasks,
    )


_lock = threading.Lock()
_current: AwsBinder | None = None


def current() -> AwsBinder:
    """The process's AwsBinder, built from the environment on first use."""
    global _current
    with _lock:
        if _current is None:
            _current = build_aws()
        return _current


def use(aws_binder: AwsBinder | None) -> None:
    """Make `current()` return `aws_binder`; None builds from the environment again."""
    global _current
    with _lock:
        _current = aws_binder
