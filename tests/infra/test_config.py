"""Settings: defaults that work, and errors that say which key is wrong and what to use."""

from __future__ import annotations

import dataclasses

import pytest

from infra.config import Settings, SettingsError, prefix_for, validate


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
        ({"alb_count": 0}, "albCount 0"),
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
