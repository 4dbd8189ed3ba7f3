"""What a first `pulumi up` in a real account meets: names unique per stack, the functions'
environment under Lambda's 4 KB with the largest configuration, resources created in the order
AWS needs, credentials the certificate's provider needs, the Web Adapter layer that exists, and
public images pulled through ECR's caches."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from infra import adapter_layer
from infra.config import Settings, SettingsError, validate
from skybinder.adapters.aws import names
from tests.infra.conftest import DOCKER_HUB, SCENARIOS
from tests.infra.deployment import Deployment
from tests.infra.render import render_all

LAMBDA_ENVIRONMENT_LIMIT = 4096  # bytes of keys and values, all variables together
LONG_STACK = "production-eu-west-" + "x" * 60
# The largest configuration the settings allow, with long names and values everywhere.
LARGEST: dict[str, Any] = {
    **SCENARIOS["options"],
    "proxyTasks": 50,
    "proxyMaxTasks": 100,
    "bannedSpecs": [f"^gh/{'someone-' * 6}{i}/.*" for i in range(60)],
    "githubTokenSecret": "arn:aws:secretsmanager:us-east-1:123456789012:secret:"
    + "skybinder/github-token-for-the-largest-deployment-AbCdEf",
    "domain": {"name": "binder." + "a-long-subdomain." * 6 + "example.org", "zone": "example.org"},
    "prices": {"fargate_vcpu_hour": 0.04048123, "spot_vcpu_hour": 0.0162123, "alb_hour": 0.0225},
}


@pytest.fixture(scope="module")
def stacks() -> dict[str, Deployment]:
    return render_all(
        {
            "eu": ({}, "production-eu"),
            "us": ({}, "production-us"),
            "largest": (LARGEST, LONG_STACK),
        }
    )


def account_scoped_names(deployment: Deployment) -> set[str]:
    """Every name the stack gives explicitly to a resource whose names are unique in the
    account (and region), and the prefixes of the names the functions give at run time."""
    found: set[str] = set()
    for resource in deployment.resources:
        inputs = resource.inputs
        for key in ("name", "layerName", "dashboardName", "family", "ecrRepositoryPrefix"):
            if isinstance(inputs.get(key), str):
                found.add(inputs[key])
        endpoint = inputs.get("vpcOriginEndpointConfig") or {}
        if endpoint.get("name"):
            found.add(endpoint["name"])
    variables = deployment.variables("launch")
    found.add(variables[names.ENV_TASK_FAMILY_PREFIX])
    return found


def test_two_stacks_whose_names_start_alike_share_no_name(stacks: dict[str, Deployment]) -> None:
    eu, us = account_scoped_names(stacks["eu"]), account_scoped_names(stacks["us"])
    # parameters, families, layer, dashboard, origin, mirror, target group, prefix
    assert len(eu) >= 9
    assert not eu & us, eu & us
    # Nor may one's runtime-made names (task families) fall under the other's.
    for ours, theirs in ((stacks["eu"], stacks["us"]), (stacks["us"], stacks["eu"])):
        prefix = ours.variables("reap")[names.ENV_TASK_FAMILY_PREFIX]
        other = theirs.variables("reap")[names.ENV_TASK_FAMILY_PREFIX]
        assert not prefix.startswith(other) and not other.startswith(prefix)


def test_names_stay_within_aws_limits_with_a_long_stack_name(
    stacks: dict[str, Deployment],
) -> None:
    largest = stacks["largest"]
    (group,) = largest.of_type("lb/targetGroup:TargetGroup")
    assert re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?", group.inputs["name"])
    for rule in largest.of_type("ecr/pullThroughCacheRule:PullThroughCacheRule"):
        prefix = rule.inputs["ecrRepositoryPrefix"]
        assert 2 <= len(prefix) <= 30 and re.fullmatch(r"[a-z0-9]+([._/-][a-z0-9]+)*", prefix)
    for origin in largest.of_type("cloudfront/vpcOrigin:VpcOrigin"):
        assert len(origin.inputs["vpcOriginEndpointConfig"]["name"]) <= 64


def test_the_largest_configuration_stays_well_under_lambdas_4_kb(
    stacks: dict[str, Deployment],
) -> None:
    largest = stacks["largest"]
    for role in ("launch", "build", "reap"):
        variables = largest.variables(role)
        size = sum(len(k.encode()) + len(v.encode()) for k, v in variables.items())
        assert size < LAMBDA_ENVIRONMENT_LIMIT / 2, f"{role}: {size} bytes"
    # What grows went to the settings parameter, which holds it whole.
    parameter = largest.parameter(largest.variables("reap")[names.ENV_SETTINGS_PARAMETER])
    settings = json.loads(parameter.inputs["value"])
    assert len(json.loads(settings[names.ENV_BANNED_SPECS])) == 60
    assert parameter.inputs["tier"] == "Intelligent-Tiering"  # 8 KB once past 4 KB
    assert len(parameter.inputs["value"]) < 8192


def test_the_nat_gateway_waits_for_the_internet_gateway(options: Deployment) -> None:
    igw = options.one("ec2/internetGateway:InternetGateway")
    for kind in ("natGateway:NatGateway", "ec2/eip:Eip"):
        (resource,) = options.of_type(kind)
        assert igw.urn in resource.dependencies, kind


def test_the_certificates_provider_signs_in_as_the_stack_does(
    default: Deployment, options: Deployment
) -> None:
    assert not default.of_type("pulumi:providers:aws")  # no domain: no us-east-1 provider
    (provider,) = options.of_type("pulumi:providers:aws")
    assert provider.inputs["region"] == "us-east-1"
    assert provider.inputs["profile"] == "operations"
    roles = provider.inputs["assumeRoles"]
    roles = json.loads(roles) if isinstance(roles, str) else roles
    assert roles == [{"roleArn": "arn:aws:iam::123456789012:role/deployer"}]


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "ap-southeast-2", "sa-east-1"])
@pytest.mark.parametrize("architecture", ["arm64", "x86_64"])
def test_the_web_adapter_layer_is_the_published_one(region: str, architecture: str) -> None:
    arn = adapter_layer.layer_arn(region, architecture)
    assert adapter_layer.ARN_SHAPE.fullmatch(arn)
    name = {"arm64": "LambdaAdapterLayerArm64", "x86_64": "LambdaAdapterLayerX86"}[architecture]
    assert arn == (f"arn:aws:lambda:{region}:753240598075:layer:{name}:{adapter_layer.VERSION}")
    validate(Settings(prefix="sb-dev", region=region, lambda_architecture=architecture))


@pytest.mark.parametrize("region", ["cn-north-1", "us-gov-west-1", "us-isob-east-1"])
def test_regions_without_the_published_layer_are_refused_up_front(region: str) -> None:
    with pytest.raises(SettingsError, match="commercial AWS regions"):
        validate(Settings(prefix="sb-dev", region=region))
    own = "arn:aws:lambda:cn-north-1:111122223333:layer:Mine:3"
    assert Settings(prefix="sb-dev", region=region, adapter_layer_arn=own).layer_arn == own


def test_the_layer_version_is_pinned_in_one_place() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    pinned = re.compile(r"LambdaAdapterLayer(?:X86|Arm64):[0-9]")
    for path in [*root.glob("infra/*.py"), *root.glob("skybinder/**/*.py")]:
        assert not pinned.search(path.read_text(encoding="utf-8")), path
    docs = (root / "docs" / "deploy.md").read_text(encoding="utf-8")
    assert "Upgrading the Lambda Web Adapter" in docs and "adapter_layer.py" in docs


def test_public_images_come_through_ecrs_pull_through_caches(
    default: Deployment, options: Deployment
) -> None:
    def mirrors(deployment: Deployment) -> dict[str, dict[str, Any]]:
        rules = deployment.of_type("ecr/pullThroughCacheRule:PullThroughCacheRule")
        return {rule.inputs["upstreamRegistryUrl"]: rule.inputs for rule in rules}

    assert set(mirrors(default)) == {"public.ecr.aws"}  # no credentials needed
    assert "credentialArn" not in mirrors(default)["public.ecr.aws"]
    hub = mirrors(options)["registry-1.docker.io"]  # with the operator's Docker Hub account
    assert hub["credentialArn"] == DOCKER_HUB

    def build_variables(deployment: Deployment) -> dict[str, str]:
        project = deployment.one("codebuild/project:Project").inputs
        return {v["name"]: v["value"] for v in project["environment"]["environmentVariables"]}

    plain, with_hub = build_variables(default), build_variables(options)
    public = mirrors(default)["public.ecr.aws"]["ecrRepositoryPrefix"]
    assert plain[names.BUILD_ECR_PUBLIC_MIRROR].endswith(f".amazonaws.com/{public}")
    assert plain[names.BUILD_BUILDKIT_IMAGE] == ""
    assert with_hub[names.BUILD_BUILDKIT_IMAGE].endswith(
        f"/{hub['ecrRepositoryPrefix']}/moby/buildkit:buildx-stable-1"
    )


def test_a_docker_hub_secret_must_be_one_ecr_can_use() -> None:
    with pytest.raises(SettingsError, match="ecr-pullthroughcache/"):
        validate(
            Settings(
                prefix="sb-dev",
                region="us-east-1",
                docker_hub_secret="arn:aws:secretsmanager:us-east-1:1:secret:hub-creds",
            )
        )
