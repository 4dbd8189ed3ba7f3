"""Settings of the AWS functions: their environment, and the deployment's settings parameter.

Variable names are in names.py. What grows with the configuration (prices, banned specs) and
the origin secret are kept in one SSM parameter (a JSON object with the same
names as keys), read once per cold start by `read_parameter`; `load_settings` takes both.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from pydantic import ValidationError

from skybinder.adapters.aws import names as n
from skybinder.domain.model import CapacityPolicy
from skybinder.domain.pricing import Prices

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

T = TypeVar("T")
REQUIRED = (
    n.ENV_TABLE_NAME,
    n.ENV_CLUSTER,
    n.ENV_BUILD_PROJECT,
    n.ENV_BUILD_LOG_GROUP,
    n.ENV_IMAGE_REPOSITORY,
    n.ENV_SESSION_TASK_DEFINITION,
    n.ENV_SUBNETS,
    n.ENV_SECURITY_GROUPS,
)


class AwsSettingsError(ValueError):
    """The function's environment lacks a setting, or has one that cannot work."""


@dataclass(frozen=True)
class AwsSettings:
    table: str
    cluster: str
    build_project: str
    build_log_group: str
    image_repository: str  # the ECR repository URI
    session_task_definition: str
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...]
    build_log_stream_prefix: str = ""
    task_family_prefix: str = "skybinder-session-"
    assign_public_ip: bool = False
    capacity: CapacityPolicy = CapacityPolicy.SPOT_FALLBACK
    public_url: str = ""
    public_url_parameter: str = ""
    github_token_secret: str = ""
    builder_version: str = ""  # "": images are built per commit, never shared
    max_sessions: int = 100
    max_sessions_per_repo: int = 10
    idle_timeout: int = 600
    max_age: float = 6 * 3600.0
    launch_rate_limit: int = 10  # launches per client address per window (0: off), BinderHub's
    launch_rate_window: int = 3600
    prices: Prices = field(default_factory=Prices)
    session_cpu: int = 1024  # Fargate CPU units of the session task definition
    session_memory: int = 2048  # MiB
    banned_specs: tuple[str, ...] = ()  # regexes of `<provider>/<spec>` that may not launch
    origin_secret: str = ""  # requests without it did not come through CloudFront
    proxy_service: str = ""  # "service/<cluster>/<service>", or "" when there is none to tend
    proxy_tasks: int = 2  # the proxy's tasks while awake (autoscaling may add more)
    proxy_max_tasks: int = 10
    proxy_idle: float = 900.0  # seconds without admissions or ends before the proxy sleeps
    image_expiry_days: int = 0  # ECR may expire an image after this many days (0: unknown)


def read_parameter(client: SSMClient, name: str) -> dict[str, str]:
    """The settings parameter `name` (a JSON object of variable names to values, decrypted).

    AwsSettingsError when it is missing, unreadable or not such an object.
    """
    try:
        answer = client.get_parameter(Name=name, WithDecryption=True)
    except Exception as err:
        code = getattr(err, "response", {}).get("Error", {}).get("Code", type(err).__name__)
        raise AwsSettingsError(
            f"Could not read the settings parameter {name} ({code}). The deployment (infra/) "
            "creates it; check that it exists and that the function's role may read it."
        ) from err
    try:
        values = json.loads(answer["Parameter"]["Value"])
    except ValueError:
        values = None
    if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
        raise AwsSettingsError(f"The settings parameter {name} is not a JSON object of strings.")
    return {str(key): value for key, value in values.items()}


def load_settings(
    environ: Mapping[str, str], parameter: Mapping[str, str] | None = None
) -> AwsSettings:
    """AwsSettings from `environ`, and from the settings `parameter` for what the environment
    does not set; AwsSettingsError names every variable that is wrong."""
    merged = {**(parameter or {}), **environ}
    env = {key: value.strip() for key, value in merged.items()}
    missing = [name for name in REQUIRED if not env.get(name)]
    if missing:
        raise AwsSettingsError(
            f"The function's environment lacks {', '.join(missing)}. The deployment (infra/) "
            "sets them; redeploy, or set them by hand when running the functions elsewhere."
        )
    problems: list[str] = []

    def read(name: str, parse: Callable[[str], T], default: T) -> T:
        if not env.get(name):
            return default
        try:
            return parse(env[name])
        except ValueError as err:
            problems.append(f"{name}={env[name]!r} ({err})")
            return default

    public_ip = read(n.ENV_ASSIGN_PUBLIC_IP, _flag, False)
    settings = AwsSettings(
        table=env[n.ENV_TABLE_NAME],
        cluster=env[n.ENV_CLUSTER],
        build_project=env[n.ENV_BUILD_PROJECT],
        build_log_group=env[n.ENV_BUILD_LOG_GROUP],
        image_repository=env[n.ENV_IMAGE_REPOSITORY],
        session_task_definition=env[n.ENV_SESSION_TASK_DEFINITION],
        subnets=_list(env[n.ENV_SUBNETS]),
        security_groups=_list(env[n.ENV_SECURITY_GROUPS]),
        build_log_stream_prefix=env.get(n.ENV_BUILD_LOG_STREAM_PREFIX, ""),
        task_family_prefix=env.get(n.ENV_TASK_FAMILY_PREFIX) or AwsSettings.task_family_prefix,
        assign_public_ip=public_ip,
        capacity=read(n.ENV_CAPACITY, CapacityPolicy, CapacityPolicy.SPOT_FALLBACK),
        public_url=env.get(n.ENV_PUBLIC_URL, ""),
        public_url_parameter=env.get(n.ENV_PUBLIC_URL_PARAMETER, ""),
        github_token_secret=env.get(n.ENV_GITHUB_TOKEN_SECRET, ""),
        builder_version=env.get(n.ENV_BUILDER_VERSION, ""),
        max_sessions=read(n.ENV_MAX_SESSIONS, _count(0), 100),
        max_sessions_per_repo=read(n.ENV_MAX_SESSIONS_PER_REPO, _count(0), 10),
        idle_timeout=read(n.ENV_IDLE_TIMEOUT, _count(60), 600),
        max_age=float(read(n.ENV_MAX_AGE, _count(0), 6 * 3600)),
        launch_rate_limit=read(n.ENV_LAUNCH_RATE_LIMIT, _count(0), 10),
        launch_rate_window=read(n.ENV_LAUNCH_RATE_WINDOW, _count(1), 3600),
        session_cpu=read(n.ENV_SESSION_CPU, _count(256, 16384), 1024),
        session_memory=read(n.ENV_SESSION_MEMORY, _count(512, 122880), 2048),
        prices=read(n.ENV_PRICES, _prices(public_ip), Prices(public_ip=public_ip)),
        banned_specs=read(n.ENV_BANNED_SPECS, _patterns, ()),
        origin_secret=env.get(n.ENV_ORIGIN_SECRET, ""),
        proxy_service=env.get(n.ENV_PROXY_SERVICE, ""),
        proxy_tasks=read(n.ENV_PROXY_TASKS, _count(1, 100), 2),
        proxy_max_tasks=read(n.ENV_PROXY_MAX_TASKS, _count(1, 1000), 10),
        proxy_idle=float(read(n.ENV_PROXY_IDLE, _count(120), 900)),
        image_expiry_days=read(n.ENV_IMAGE_EXPIRY_DAYS, _count(0), 0),
    )
    if settings.proxy_max_tasks < settings.proxy_tasks:
        problems.append(
            f"{n.ENV_PROXY_MAX_TASKS}={settings.proxy_max_tasks} is below "
            f"{n.ENV_PROXY_TASKS}={settings.proxy_tasks}"
        )
    if problems:
        raise AwsSettingsError(f"Invalid settings: {'; '.join(problems)}.")
    return settings


# The deployment's price keys (infra/config.py DEFAULT_PRICES) -> the cost model's fields.
PRICE_KEYS = {
    "fargate_vcpu_hour": "vcpu_hour",
    "fargate_gb_hour": "gb_hour",
    "spot_vcpu_hour": "spot_vcpu_hour",
    "spot_gb_hour": "spot_gb_hour",
    "public_ipv4_hour": "public_ipv4_hour",
}


def _prices(public_ip: bool) -> Callable[[str], Prices]:
    """Parse the deployment's JSON prices; keys not about sessions (NAT, ALB) are skipped."""

    def parse(value: str) -> Prices:
        try:
            given = json.loads(value)
        except json.JSONDecodeError as err:
            raise ValueError(f"not JSON: {err.msg}") from None
        if not isinstance(given, dict):
            raise ValueError("expected a JSON object of prices")
        fields = {PRICE_KEYS[k]: v for k, v in given.items() if k in PRICE_KEYS}
        try:
            return Prices(**fields, public_ip=public_ip)
        except ValidationError as err:
            raise ValueError(str(err.errors()[0]["msg"])) from None

    return parse


def _patterns(value: str) -> tuple[str, ...]:
    """A JSON list of regular expressions, each one checked."""
    try:
        given = json.loads(value)
    except json.JSONDecodeError as err:
        raise ValueError(f"not JSON: {err.msg}") from None
    if not isinstance(given, list) or not all(isinstance(p, str) for p in given):
        raise ValueError("expected a JSON list of regular expressions")
    for pattern in given:
        try:
            re.compile(pattern)
        except re.error as err:
            raise ValueError(f"{pattern!r} is not a regular expression: {err}") from None
    return tuple(given)


def _list(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def _flag(value: str) -> bool:
    lowered = value.lower()
    if lowered in {"true", "1", "yes"}:
        return True
    if lowered in {"false", "0", "no"}:
        return False
    raise ValueError("expected true or false")


def _count(low: int, high: int | None = None) -> Callable[[str], int]:
    def parse(value: str) -> int:
        number = int(value)
        if number < low or (high is not None and number > high):
            upper = f" and at most {high}" if high is not None else ""
            raise ValueError(f"expected a whole number of at least {low}{upper}")
        return number

    return parse
