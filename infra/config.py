"""The deployment's settings: every one optional, read from `pulumi config` with defaults."""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

import pulumi

from infra import adapter_layer

# us-east-1 prices (reference/aws-facts.md); the cost model and docs/deploy.md use them. Spot's
# is conservative (60 % off, where Spot is often 70 % off), so that event budgets hold when
# Spot prices move; the same defaults as skybinder/domain/pricing.py (a test checks).
DEFAULT_PRICES: dict[str, float] = {
    "fargate_vcpu_hour": 0.04048,
    "fargate_gb_hour": 0.004445,
    "spot_vcpu_hour": 0.0162,
    "spot_gb_hour": 0.00178,
    "public_ipv4_hour": 0.005,
    "nat_gateway_hour": 0.045,
    "alb_hour": 0.0225,
}
CAPACITY_POLICIES = ("spot-fallback", "spot", "on-demand")
NETWORK_MODES = ("public", "private")
# Fargate's valid (cpu units -> memory MiB range) pairs for the sizes a notebook needs.
FARGATE_MEMORY = {
    256: (512, 2048),
    512: (1024, 4096),
    1024: (2048, 8192),
    2048: (4096, 16384),
    4096: (8192, 30720),
    8192: (16384, 61440),
    16384: (32768, 122880),
}


class SettingsError(ValueError):
    """A config value that cannot work; the message names the key and the allowed values."""


@dataclass(frozen=True)
class Domain:
    name: str
    zone: str  # the Route 53 hosted zone (a domain name) that holds `name`


@dataclass(frozen=True)
class Settings:
    prefix: str  # short and readable: the start of every resource's name
    region: str
    # A digest of the stack's full name (organization/project/stack): names that must be unique
    # in the account carry it, so two stacks whose names start alike never share one.
    stack_hash: str = "0" * 8
    network: str = "public"
    vpc_cidr: str = "10.42.0.0/16"
    # The session proxy (infra/proxy.py): tasks while awake (autoscaling's floor) and at most,
    # minutes without an admission or an end before it sleeps, and Spot for its extra tasks.
    proxy_tasks: int = 2
    proxy_max_tasks: int = 10
    proxy_idle_minutes: int = 15
    proxy_spot: bool = True
    session_cpu: int = 1024
    session_memory: int = 2048
    capacity: str = "spot-fallback"
    max_sessions: int = 100
    max_sessions_per_repo: int = 10
    idle_timeout: int = 600
    max_age: int = 6 * 3600
    launch_rate_limit: int = 10
    launch_rate_window: int = 3600
    banned_specs: tuple[str, ...] = ()
    prices: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_PRICES))
    container_insights: bool = False
    domain: Domain | None = None
    github_token_secret: str = ""
    github_token_kms_key: str = ""  # the customer-managed KMS key the token is encrypted with
    docker_hub_secret: str = ""  # a Secrets Manager secret ecr-pullthroughcache/... (optional)
    builder_compute_type: str = "BUILD_GENERAL1_MEDIUM"
    builder_image: str = "aws/codebuild/amazonlinux-x86_64-standard:5.0"
    builder_timeout: int = 60
    builder_concurrency: int = 0  # 0: the account's limit
    soci_version: str = ""
    soci_sha256: str = ""
    lambda_architecture: str = "arm64"
    adapter_layer_arn: str = ""
    log_retention_days: int = 14
    image_expiry_days: int = 90
    api_rate_limit: float = 50.0
    api_burst_limit: int = 100
    alarm_email: str = ""
    price_class: str = "PriceClass_100"
    tracing: bool = False

    @property
    def private(self) -> bool:
        return self.network == "private"

    @property
    def unique(self) -> str:
        """The prefix of names that must be unique in the account (and region): SSM
        parameters, task definition families, the layer, the dashboard, VPC origins."""
        return f"{self.prefix}-{self.stack_hash[:6]}"

    @property
    def layer_arn(self) -> str:
        if self.adapter_layer_arn:
            return self.adapter_layer_arn
        return adapter_layer.layer_arn(self.region, self.lambda_architecture)


def load(config: pulumi.Config, stack: str, region: str, qualified: str = "") -> Settings:
    """Settings from the stack's config; SettingsError explains the first bad value.

    `qualified` is the stack's full name (organization/project/stack), `stack` when not given.
    """
    values: dict[str, Any] = {
        "prefix": prefix_for(stack),
        "region": region,
        "stack_hash": stack_hash(qualified or stack),
    }
    for key, name, reader in _FIELDS:
        value = getattr(config, reader)(key)
        if value is not None:
            values[name] = value
    if (banned := config.get_object("bannedSpecs")) is not None:
        values["banned_specs"] = tuple(str(item) for item in banned)
    if (prices := config.get_object("prices")) is not None:
        values["prices"] = {**DEFAULT_PRICES, **{str(k): float(v) for k, v in prices.items()}}
    if (domain := config.get_object("domain")) is not None:
        values["domain"] = Domain(name=str(domain["name"]), zone=str(domain["zone"]))
    settings = Settings(**values)
    validate(settings)
    for message in retired(config):
        pulumi.log.warn(message)
    return settings


# Settings an earlier version read, and what became of them.
RETIRED = {
    "albCount": "every session is reached through the session proxy behind one load balancer, "
    "which holds any number of sessions (bounded by maxSessions and your Fargate quotas)",
}


def retired(config: Any) -> list[str]:
    """A warning for each retired setting the stack still sets: it no longer does anything."""
    return [
        f"{key} is no longer a setting and is ignored: {why}. "
        f"Remove it with `pulumi config rm {key}`."
        for key, why in RETIRED.items()
        if config.get(key) is not None
    ]


def prefix_for(stack: str) -> str:
    """A short, readable name for this deployment: the start of every resource's name. Two
    stacks may share it (it is cut to 10 characters); `stack_hash` tells them apart."""
    cleaned = re.sub(r"[^a-z0-9-]", "-", stack.lower()).strip("-") or "stack"
    return f"sb-{cleaned[:10]}".rstrip("-")


def stack_hash(qualified: str) -> str:
    """8 hex digits of SHA-256 of the stack's full name."""
    return hashlib.sha256(qualified.encode("utf-8")).hexdigest()[:8]


def validate(settings: Settings) -> None:
    _choice("network", settings.network, NETWORK_MODES)
    if not settings.adapter_layer_arn:
        try:
            adapter_layer.layer_arn(settings.region, settings.lambda_architecture)
        except adapter_layer.AdapterLayerError as err:
            raise SettingsError(str(err)) from None
    _choice("capacity", settings.capacity, CAPACITY_POLICIES)
    _choice("lambdaArchitecture", settings.lambda_architecture, ("arm64", "x86_64"))
    if settings.session_cpu not in FARGATE_MEMORY:
        raise SettingsError(
            f"sessionCpu {settings.session_cpu} is not a Fargate size; use one "
            f"of {sorted(FARGATE_MEMORY)} (1024 = 1 vCPU)."
        )
    low, high = FARGATE_MEMORY[settings.session_cpu]
    if not low <= settings.session_memory <= high or settings.session_memory % 1024:
        raise SettingsError(
            f"sessionMemory {settings.session_memory} MiB does not fit "
            f"sessionCpu {settings.session_cpu}: use a multiple of 1024 "
            f"from {low} to {high}."
        )
    try:
        network = ipaddress.IPv4Network(settings.vpc_cidr)
    except ValueError:
        network = None
    if network is None or not 16 <= network.prefixlen <= 24:
        raise SettingsError(
            f"vpcCidr {settings.vpc_cidr!r} is not an IPv4 network from /16 to "
            "/24, e.g. 10.42.0.0/16."
        )
    _check_proxy(settings)
    if not 5 <= settings.builder_timeout <= 2160:
        raise SettingsError("builderTimeout is in minutes, from 5 to 2160 (CodeBuild's range).")
    if bool(settings.soci_version) != bool(settings.soci_sha256):
        raise SettingsError(
            "Set sociVersion and sociSha256 together (the checksum of the "
            "soci-snapshotter release archive), or neither."
        )
    _check_secret_names(settings)


def _check_proxy(settings: Settings) -> None:
    if not 1 <= settings.proxy_tasks <= settings.proxy_max_tasks <= 100:
        raise SettingsError(
            f"proxyTasks {settings.proxy_tasks} and proxyMaxTasks {settings.proxy_max_tasks}: "
            "use 1 <= proxyTasks <= proxyMaxTasks <= 100 (one task holds ~1,000 WebSockets)."
        )
    if not 2 <= settings.proxy_idle_minutes <= 1440:
        raise SettingsError(
            f"proxyIdleMinutes {settings.proxy_idle_minutes}: use 2 to 1440 minutes without a "
            "launch before the session proxy sleeps."
        )


def _check_secret_names(settings: Settings) -> None:
    hub = settings.docker_hub_secret
    if hub and not re.fullmatch(
        r"arn:aws:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:ecr-pull"
        r"throughcache/[A-Za-z0-9/_+=.@-]+",
        hub,
    ):
        raise SettingsError(
            "dockerHubSecret must be the ARN of a Secrets Manager secret whose name starts "
            "with ecr-pullthroughcache/ (as ECR's pull-through cache requires), holding "
            '{"username": ..., "accessToken": ...} of a Docker Hub account.'
        )
    key = settings.github_token_kms_key
    if key and not re.fullmatch(r"arn:aws:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+", key):
        raise SettingsError(
            "githubTokenKmsKey must be the ARN of the KMS key (arn:aws:kms:<region>:<account>:"
            "key/<id>) that encrypts the GitHub token's parameter or secret."
        )


def _choice(key: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise SettingsError(f"{key} is {value!r}; use one of {', '.join(allowed)}.")


# (config key, Settings field, pulumi.Config reader) for the scalar settings.
_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("network", "network", "get"),
    ("vpcCidr", "vpc_cidr", "get"),
    ("proxyTasks", "proxy_tasks", "get_int"),
    ("proxyMaxTasks", "proxy_max_tasks", "get_int"),
    ("proxyIdleMinutes", "proxy_idle_minutes", "get_int"),
    ("proxySpot", "proxy_spot", "get_bool"),
    ("sessionCpu", "session_cpu", "get_int"),
    ("sessionMemory", "session_memory", "get_int"),
    ("capacity", "capacity", "get"),
    ("maxSessions", "max_sessions", "get_int"),
    ("maxSessionsPerRepo", "max_sessions_per_repo", "get_int"),
    ("idleTimeout", "idle_timeout", "get_int"),
    ("maxAge", "max_age", "get_int"),
    ("launchRateLimit", "launch_rate_limit", "get_int"),
    ("launchRateWindow", "launch_rate_window", "get_int"),
    ("containerInsights", "container_insights", "get_bool"),
    ("githubTokenSecret", "github_token_secret", "get"),
    ("githubTokenKmsKey", "github_token_kms_key", "get"),
    ("dockerHubSecret", "docker_hub_secret", "get"),
    ("builderComputeType", "builder_compute_type", "get"),
    ("builderImage", "builder_image", "get"),
    ("builderTimeout", "builder_timeout", "get_int"),
    ("builderConcurrency", "builder_concurrency", "get_int"),
    ("sociVersion", "soci_version", "get"),
    ("sociSha256", "soci_sha256", "get"),
    ("lambdaArchitecture", "lambda_architecture", "get"),
    ("lambdaAdapterLayerArn", "adapter_layer_arn", "get"),
    ("logRetentionDays", "log_retention_days", "get_int"),
    ("imageExpiryDays", "image_expiry_days", "get_int"),
    ("apiRateLimit", "api_rate_limit", "get_float"),
    ("apiBurstLimit", "api_burst_limit", "get_int"),
    ("alarmEmail", "alarm_email", "get"),
    ("priceClass", "price_class", "get"),
    ("tracing", "tracing", "get_bool"),
)
