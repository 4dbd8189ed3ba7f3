"""Settings: defaults that work, and errors that say which key is wrong and what to use."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from infra.config import (
    DEFAULT_PRICES,
    Settings,
    SettingsError,
    prefix_for,
    retired,
    validate,
)


def _settings(**changes: object) -> Settings:
    return dataclasses.replace(Settings(prefix="sb-dev", region="eu-west-1"), **changes)


def test_the_defaults_are_valid_and_cheap() -> None:
    settings = _settings()
    validate(settings)
    assert settings.network == "public" and settings.capacity == "spot-fallback"
    assert settings.layer_arn == (
        "arn:aws:lambda:eu-west-1:753240598075:layer:LambdaAdapterLayerArm64:30"
    )


def test_the_adapter_layer_follows_the_architecture_and_can_be_overridden() -> None:
    assert _settings(lambda_architecture="x86_64").layer_arn.endswith(":LambdaAdapterLayerX86:30")
    own = "arn:aws:lambda:eu-west-1:111122223333:layer:Mine:3"
    assert _settings(adapter_layer_arn=own).layer_arn == own


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"network": "hybrid"}, "network is 'hybrid'; use one of public, private"),
        ({"capacity": "cheap"}, "capacity"),
        ({"session_cpu": 3000}, "sessionCpu 3000"),
        ({"session_memory": 1024}, "sessionMemory 1024 MiB does not fit sessionCpu 1024"),
        ({"proxy_tasks": 0}, "proxyTasks 0"),
        ({"proxy_tasks": 5, "proxy_max_tasks": 4}, "proxyTasks 5 and proxyMaxTasks 4"),
        ({"proxy_idle_minutes": 1}, "proxyIdleMinutes 1"),
        ({"vpc_cidr": "10.0.0.0/8"}, "vpcCidr '10.0.0.0/8'"),
        ({"vpc_cidr": "not-a-network"}, "vpcCidr"),
        ({"builder_timeout": 3}, "builderTimeout"),
        ({"soci_version": "0.11.1"}, "sociVersion and sociSha256 together"),
    ],
)
def test_bad_settings_name_the_key(changes: dict[str, object], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        validate(_settings(**changes))


def test_the_prefix_is_short_and_safe_for_aws_names() -> None:
    assert prefix_for("dev") == "sb-dev"
    assert prefix_for("My_Very-Long.Stack.Name") == "sb-my-very-lo"
    assert len(prefix_for("x" * 80)) <= 13


def test_the_deploy_docs_quote_the_default_prices() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "deploy.md").read_text(encoding="utf-8")
    prices, settings = DEFAULT_PRICES, Settings(prefix="sb-dev", region="us-east-1")
    vcpu, gb = settings.session_cpu / 1024, settings.session_memory / 1024
    spot = (
        vcpu * prices["spot_vcpu_hour"] + gb * prices["spot_gb_hour"] + prices["public_ipv4_hour"]
    )
    on_demand = (
        vcpu * prices["fargate_vcpu_hour"]
        + gb * prices["fargate_gb_hour"]
        + prices["public_ipv4_hour"]
    )
    assert f"**≈ ${spot:.3f}**" in docs
    assert f"**≈ ${on_demand:.3f}**" in docs
    assert f"${prices['alb_hour'] * 730:.2f} a month" in docs


def test_a_retired_setting_is_named_with_what_replaced_it_and_how_to_remove_it() -> None:
    (message,) = retired({"albCount": "4", "maxSessions": "2000"})
    assert message.startswith("albCount is no longer a setting and is ignored")
    assert "session proxy" in message and "`pulumi config rm albCount`" in message
    assert retired({"maxSessions": "2000"}) == []
