"""bootstrap_aws: settings from the environment, the binder built on moto, nothing at import."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from skybinder import bootstrap_aws
from skybinder.adapters.aws import names as n
from skybinder.adapters.aws.codebuild_builder import CodeBuildBuilder
from skybinder.adapters.aws.dynamo_store import DynamoSessionStore
from skybinder.adapters.aws.ecr_registry import EcrRegistry
from skybinder.adapters.aws.ecs_runner import EcsRunner
from skybinder.adapters.aws.lazy import LazyResolver, public_url_reader
from skybinder.adapters.aws.proxy_fleet import EcsProxyFleet
from skybinder.adapters.aws.settings import REQUIRED, AwsSettingsError, load_settings
from skybinder.adapters.proxy_router import ProxyRouter
from skybinder.domain.errors import LaunchError
from skybinder.domain.model import CapacityPolicy
from tests.aws.compute_deploy import botocore_session
from tests.aws.compute_fixtures import PUBLIC_URL, deploy
from tests.aws.conftest import ApiCalls, client, mocked_aws

ROOT = Path(__file__).resolve().parents[2]
ENV = {name: f"value-of-{name}" for name in REQUIRED}


def test_every_missing_variable_is_named() -> None:
    partial = {k: v for k, v in ENV.items() if k not in {n.ENV_CLUSTER, n.ENV_SUBNETS}}
    with pytest.raises(AwsSettingsError) as raised:
        load_settings(partial)
    assert f"lacks {n.ENV_CLUSTER}, {n.ENV_SUBNETS}." in str(raised.value)


def test_values_that_cannot_work_are_named() -> None:
    bad = {**ENV, n.ENV_CAPACITY: "cheap", n.ENV_PROXY_IDLE: "30"}
    with pytest.raises(AwsSettingsError) as raised:
        load_settings(bad)
    assert n.ENV_CAPACITY in str(raised.value) and n.ENV_PROXY_IDLE in str(raised.value)
    with pytest.raises(AwsSettingsError, match=f"{n.ENV_PROXY_MAX_TASKS}=1 is below"):
        load_settings({**ENV, n.ENV_PROXY_TASKS: "2", n.ENV_PROXY_MAX_TASKS: "1"})


def test_defaults_and_lists() -> None:
    settings = load_settings(
        {**ENV, n.ENV_SUBNETS: "subnet-a, subnet-b,", n.ENV_ASSIGN_PUBLIC_IP: "true"}
    )
    assert settings.subnets == ("subnet-a", "subnet-b")
    assert settings.assign_public_ip is True
    assert settings.capacity == CapacityPolicy.SPOT_FALLBACK
    assert (settings.proxy_service, settings.proxy_tasks, settings.proxy_max_tasks) == ("", 2, 10)
    assert (settings.proxy_idle, settings.image_expiry_days) == (900.0, 0)


def test_the_binder_is_built_from_the_environment_once_per_process() -> None:
    with mocked_aws():
        environment = deploy().env
        with pytest.MonkeyPatch.context() as patch:
            for key, value in environment.items():
                patch.setenv(key, value)
            bootstrap_aws.use(None)
            try:
                built = bootstrap_aws.current()
                assert bootstrap_aws.current() is built
            finally:
                bootstrap_aws.use(None)
        binder = built.binder
        assert isinstance(binder.store, DynamoSessionStore)
        assert isinstance(binder.registry, EcrRegistry)
        assert isinstance(binder.builder, CodeBuildBuilder)
        assert isinstance(binder.runner, EcsRunner)
        assert isinstance(binder.router, ProxyRouter) and not binder.router.probe_direct
        assert isinstance(binder.proxy, EcsProxyFleet)
        assert isinstance(binder.resolver, LazyResolver)
        # The proxy records each session's traffic in AWS too: idle sessions end.
        assert binder.config.idle_timeout == 600 and binder.config.proxy_idle == 900
        assert binder.config.image_trust == 89 * 86400
        assert built.health_checks()["store"]()


def test_importing_the_functions_builds_nothing() -> None:
    """No settings, no credentials, no network: importing every entry module still works,
    because clients and the binder are made on the first invocation. The build and reap
    functions do not even load httpx (only the reap function needs it, once it probes), which
    keeps their cold starts short."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SKYBINDER_"))}
    environment["PYTHONPATH"] = str(ROOT)
    code = (
        "import importlib, sys, botocore.session\n"
        "made = []\n"
        "real = botocore.session.Session.create_client\n"
        "botocore.session.Session.create_client = lambda *a, **k: made.append(a) or real(*a, **k)\n"
        "for name in ('build.handler', 'reap.handler'):\n"
        "    importlib.import_module('functions.' + name)\n"
        "assert 'httpx' not in sys.modules, 'httpx imported'\n"
        "importlib.import_module('functions.launch.app')\n"
        "assert made == [], made\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=environment, cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_the_github_token_is_read_on_the_first_resolve_only() -> None:
    with mocked_aws():
        ssm = client("ssm")
        ssm.put_parameter(Name="/skybinder/github-token", Value="ghp_x", Type="SecureString")
        calls = ApiCalls(ssm)
        asked: list[str] = []

        def factory(service: str) -> Any:
            asked.append(service)
            return ssm

        resolver = LazyResolver("/skybinder/github-token", factory)
        assert asked == []
        assert {c["id"] for c in resolver.display_configs()} >= {"gh", "zenodo"}
        resolver.display_configs()
        assert asked == ["ssm"] and calls.names == ["GetParameter"]


def test_the_public_url_comes_from_its_value_or_once_from_ssm() -> None:
    assert public_url_reader(PUBLIC_URL + "/", "", lambda: None)() == PUBLIC_URL
    with mocked_aws():
        ssm = client("ssm")
        ssm.put_parameter(
            Name="/skybinder/public-url", Value="https://d1.cloudfront.net", Type="String"
        )
        calls = ApiCalls(ssm)
        read = public_url_reader("", "/skybinder/public-url", lambda: ssm)
        assert read() == read() == "https://d1.cloudfront.net"
        assert calls.names == ["GetParameter"]
    with pytest.raises(LaunchError, match="does not know its public URL"):
        public_url_reader("", "", lambda: None)()


def test_what_grows_is_read_once_from_the_settings_parameter() -> None:
    with mocked_aws():
        deployment = deploy(config={"bannedSpecs": ["^gh/evil/.*"]})
        environment = dict(deployment.env)
        assert n.ENV_BANNED_SPECS not in environment  # not a variable: in the parameter
        session = botocore_session()
        calls: list[str] = []
        session.register("before-call.ssm.*", lambda model, **_: calls.append(model.name))
        built = bootstrap_aws.build_aws(environment, session=session)
        assert calls == ["GetParameter"]  # the cold start's one read
        settings = built.settings
        assert settings.banned_specs == ("^gh/evil/.*",)
        assert settings.origin_secret == deployment.origin_secret
        # A variable set in the environment wins over the parameter.
        again = bootstrap_aws.build_aws(
            {**environment, n.ENV_BANNED_SPECS: "[]"}, session=botocore_session()
        )
        assert again.settings.banned_specs == ()


def test_banned_specs_are_refused_by_the_functions_resolver() -> None:
    from skybinder.domain.errors import SpecBannedError

    with mocked_aws():
        deployment = deploy(config={"bannedSpecs": ["^gh/evil/.*"]})
        built = bootstrap_aws.build_aws(deployment.env, session=botocore_session())
        with pytest.raises(SpecBannedError):
            built.binder.resolver.resolve("gh", "evil/repo/HEAD")


def test_a_missing_settings_parameter_is_named() -> None:
    with mocked_aws():
        environment = {**ENV, n.ENV_SETTINGS_PARAMETER: "/sb-x/settings"}
        with pytest.raises(AwsSettingsError, match="settings parameter /sb-x/settings"):
            bootstrap_aws.build_aws(environment, session=botocore_session())
