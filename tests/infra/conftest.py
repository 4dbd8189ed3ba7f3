"""Runs the Pulumi program under mocks once per configuration (tests/infra/render.py)."""

from __future__ import annotations

import pytest

from tests.infra.deployment import Deployment
from tests.infra.render import render_all

KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
DOCKER_HUB = (
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:ecr-pullthroughcache/docker-hub-AbCdEf"
)
# The program as a user runs it with no settings, and with every non-default option.
SCENARIOS: dict[str, dict[str, object]] = {
    "default": {},
    "options": {
        "network": "private",
        "domain": {"name": "binder.example.org", "zone": "example.org"},
        "proxyTasks": 3,
        "proxyMaxTasks": 20,
        "proxyIdleMinutes": 30,
        "proxySpot": False,
        "githubTokenSecret": "skybinder/github-token",
        "githubTokenKmsKey": KMS_KEY,
        "dockerHubSecret": DOCKER_HUB,
        "tracing": True,
        "alarmEmail": "ops@example.org",
        "containerInsights": True,
        "sociVersion": "0.11.1",
        "sociSha256": "0" * 64,
        "lambdaArchitecture": "x86_64",
        "sessionCpu": 2048,
        "sessionMemory": 8192,
        "capacity": "on-demand",
        "builderTimeout": 90,
        "bannedSpecs": ["^gh/evil/.*"],
        "aws:profile": "operations",
        "aws:assumeRoles": [{"roleArn": "arn:aws:iam::123456789012:role/deployer"}],
    },
}


@pytest.fixture(scope="session")
def deployments() -> dict[str, Deployment]:
    return render_all({name: (config, "dev") for name, config in SCENARIOS.items()})


@pytest.fixture(params=sorted(SCENARIOS))
def deployment(request: pytest.FixtureRequest, deployments: dict[str, Deployment]) -> Deployment:
    return deployments[request.param]


@pytest.fixture
def default(deployments: dict[str, Deployment]) -> Deployment:
    return deployments["default"]


@pytest.fixture
def options(deployments: dict[str, Deployment]) -> Deployment:
    return deployments["options"]
