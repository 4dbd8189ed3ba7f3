"""The program's shape: components and their children, outputs, and what each option changes."""

from __future__ import annotations

import json
from pathlib import Path

from infra import adapter_layer
from skybinder.adapters.aws import names
from tests.infra.deployment import Deployment

ROOT = Path(__file__).resolve().parents[2]
# Where each kind of resource belongs.
HOME = {
    "ec2/vpc:Vpc": "Network",
    "ec2/subnet:Subnet": "Network",
    "ec2/securityGroup:SecurityGroup": "Network",
    "ecr/repository:Repository": "Registry",
    "ecr/pullThroughCacheRule:PullThroughCacheRule": "Registry",
    "codebuild/project:Project": "Builder",
    "ecs/cluster:Cluster": "Sessions",
    "lb/loadBalancer:LoadBalancer": "Balancer",
    "lb/targetGroup:TargetGroup": "Balancer",
    "ecs/service:Service": "Proxy",
    "appautoscaling/target:Target": "Proxy",
    "s3/bucket:Bucket": "Proxy",
    "cloudfront/distribution:Distribution": "Edge",
    "cloudfront/vpcOrigin:VpcOrigin": "Edge",
    "apigateway/restApi:RestApi": "Api",
    "dynamodb/table:Table": "State",
    "cloudwatch/eventRule:EventRule": "Schedules",
    "cloudwatch/dashboard:Dashboard": "Observability",
    "cloudwatch/metricAlarm:MetricAlarm": "Observability",
    "random/randomPassword:RandomPassword": "RuntimeSettings",
}
COMPONENTS = {
    "Network",
    "Registry",
    "Builder",
    "Sessions",
    "Balancer",
    "Proxy",
    "Edge",
    "Api",
    "State",
    "Schedules",
    "Observability",
    "RuntimeSettings",
}


def test_one_component_per_concern_under_the_stack(deployment: Deployment) -> None:
    kinds = [c.type.rsplit(":", 1)[1] for c in deployment.components]
    assert sorted(kinds) == sorted(COMPONENTS)
    assert all(c.parent_type == "pulumi:pulumi:Stack" for c in deployment.components)


def test_every_resource_is_a_child_of_its_component(deployment: Deployment) -> None:
    others = [r for r in deployment.resources if r not in deployment.components]
    assert len(others) > 80
    for resource in others:
        assert resource.parent_type.startswith("skybinder:infra:"), resource.name
    for resource in others:
        for suffix, component in HOME.items():
            if resource.type.endswith(suffix):
                assert resource.parent_type == f"skybinder:infra:{component}", resource.name


def test_outputs_name_everything_an_operator_needs(deployment: Deployment) -> None:
    outputs = deployment.outputs
    assert outputs["binder_url"].startswith("https://")
    assert outputs["api_url"].startswith("https://") and outputs["api_url"].endswith("/binder")
    assert outputs["admin_endpoint"] == outputs["api_url"] + "/api/admin"
    for key in ("table_name", "cluster_name", "repository_url", "build_project_name"):
        assert outputs[key], key
    assert outputs["binder_url"] + "/badge_logo.svg" in outputs["badge_markdown"]


def test_the_table_is_what_the_store_expects(deployment: Deployment) -> None:
    table = deployment.one("dynamodb/table:Table").inputs
    assert table["billingMode"] == "PAY_PER_REQUEST"
    assert (table["hashKey"], table["rangeKey"]) == (names.PARTITION_KEY, names.SORT_KEY)
    assert table["ttl"] == {"attributeName": names.TTL_ATTRIBUTE, "enabled": True}
    assert table["pointInTimeRecovery"] == {"enabled": True}
    indexes = {
        i["name"]: (i["hashKey"], i.get("rangeKey")) for i in table["globalSecondaryIndexes"]
    }
    assert indexes == names.INDEXES
    assert {a["name"]: a["type"] for a in table["attributes"]} == names.ATTRIBUTE_TYPES
    assert table["deletionProtectionEnabled"] is False  # `pulumi destroy` removes it


def test_the_default_network_has_no_fixed_cost(default: Deployment) -> None:
    for kind in ("natGateway:NatGateway", "ec2/eip:Eip", "vpcEndpoint:VpcEndpoint"):
        assert not default.of_type(kind), kind
    variables = default.function("launch").inputs["environment"]["variables"]
    assert variables["SKYBINDER_ASSIGN_PUBLIC_IP"] == "true"
    public = {s.id for s in default.of_type("ec2/subnet:Subnet") if "public" in s.name}
    assert set(variables["SKYBINDER_SUBNETS"].split(",")) == public
    assert len(public) == 2


def test_the_private_network_has_nat_and_endpoints(options: Deployment) -> None:
    assert len(options.of_type("natGateway:NatGateway")) == 1
    services = {e.inputs["serviceName"] for e in options.of_type("vpcEndpoint:VpcEndpoint")}
    assert services == {
        f"com.amazonaws.us-east-1.{s}" for s in ("s3", "dynamodb", "ecr.api", "ecr.dkr", "logs")
    }
    variables = options.function("launch").inputs["environment"]["variables"]
    assert variables["SKYBINDER_ASSIGN_PUBLIC_IP"] == "false"
    internal = {s.id for s in options.of_type("ec2/subnet:Subnet") if "internal" in s.name}
    assert set(variables["SKYBINDER_SUBNETS"].split(",")) == internal


def test_the_load_balancer_sits_in_subnets_without_an_internet_route(
    deployment: Deployment,
) -> None:
    internal = {s.id for s in deployment.of_type("ec2/subnet:Subnet") if "internal" in s.name}
    (balancer,) = deployment.of_type("lb/loadBalancer:LoadBalancer")
    assert set(balancer.inputs["subnets"]) == internal


def test_the_cluster_runs_fargate_and_spot(deployment: Deployment) -> None:
    capacity = deployment.one("ecs/clusterCapacityProviders:ClusterCapacityProviders").inputs
    assert sorted(capacity["capacityProviders"]) == ["FARGATE", "FARGATE_SPOT"]


def test_container_insights_is_an_option(default: Deployment, options: Deployment) -> None:
    def insights(deployment: Deployment) -> str:
        return deployment.one("ecs/cluster:Cluster").inputs["settings"][0]["value"]

    assert (insights(default), insights(options)) == ("disabled", "enabled")


def test_the_builder_runs_the_buildspec_privileged(
    default: Deployment, options: Deployment
) -> None:
    project = default.one("codebuild/project:Project").inputs
    buildspec = (ROOT / "images" / "builder" / "buildspec.yml").read_text(encoding="utf-8")
    assert project["source"] == {"type": "NO_SOURCE", "buildspec": buildspec}
    assert project["environment"]["privilegedMode"] is True
    assert project["buildTimeout"] == 60
    logs = project["logsConfig"]["cloudwatchLogs"]
    assert logs["status"] == "ENABLED"
    assert logs["streamName"] == names.BUILD_LOG_STREAM_PREFIX
    variables = default.function("launch").inputs["environment"]["variables"]
    assert variables[names.ENV_BUILD_LOG_STREAM_PREFIX] == names.BUILD_LOG_STREAM_PREFIX
    variables = {v["name"]: v["value"] for v in project["environment"]["environmentVariables"]}
    assert variables["CACHE_REF"].endswith("sb-dev-cache-1a2b3c4:repo2docker")
    assert {names.BUILD_REPO_URL, names.BUILD_REF, names.BUILD_IMAGE_NAME} <= set(variables)
    assert variables["SOCI_VERSION"] == ""
    soci = {
        v["name"]: v["value"]
        for v in options.one("codebuild/project:Project").inputs["environment"][
            "environmentVariables"
        ]
    }
    assert soci["SOCI_VERSION"] == "0.11.1"
    assert options.one("codebuild/project:Project").inputs["buildTimeout"] == 90


def test_the_launch_function_runs_behind_the_web_adapter(deployment: Deployment) -> None:
    launch = deployment.function("launch").inputs
    arch = launch["architectures"][0]
    assert launch["handler"] == "run.sh"
    assert launch["runtime"] == "python3.12"
    variables = launch["environment"]["variables"]
    assert variables["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/bootstrap"
    assert variables["AWS_LWA_INVOKE_MODE"] == "response_stream"
    assert adapter_layer.layer_arn("us-east-1", arch) in launch["layers"]


def test_build_and_reap_are_plain_handlers(deployment: Deployment) -> None:
    for role in ("build", "reap"):
        function = deployment.function(role).inputs
        assert function["handler"] == "handler.handler"
        assert not any("LambdaAdapterLayer" in layer for layer in function["layers"])
        assert "AWS_LAMBDA_EXEC_WRAPPER" not in function["environment"]["variables"]


def test_every_function_gets_the_same_settings_and_only_launch_the_github_token(
    deployment: Deployment,
) -> None:
    def ours(role: str) -> dict[str, str]:
        variables = deployment.variables(role)
        return {k: v for k, v in variables.items() if k.startswith("SKYBINDER_")}

    launch = ours("launch")
    launch.pop(names.ENV_GITHUB_TOKEN_SECRET, None)  # only launch resolves specs
    assert ours("build") == ours("reap") == launch
    assert names.ENV_SETTINGS_PARAMETER in launch


def test_environments_fit_lambdas_4_kb_limit(deployment: Deployment) -> None:
    for role in ("launch", "build", "reap"):
        variables = deployment.function(role).inputs["environment"]["variables"]
        assert sum(len(k) + len(v) for k, v in variables.items()) < 4096, role


def test_settings_reach_the_functions(default: Deployment, options: Deployment) -> None:
    base = default.function("launch").inputs["environment"]["variables"]
    changed = options.function("launch").inputs["environment"]["variables"]
    assert (base["SKYBINDER_SESSION_CPU"], changed["SKYBINDER_SESSION_CPU"]) == ("1024", "2048")
    assert (base["SKYBINDER_CAPACITY"], changed["SKYBINDER_CAPACITY"]) == (
        "spot-fallback",
        "on-demand",
    )
    assert changed["SKYBINDER_GITHUB_TOKEN_SECRET"] == "skybinder/github-token"

    def parameter(deployment: Deployment) -> dict[str, str]:
        name = deployment.variables("reap")[names.ENV_SETTINGS_PARAMETER]
        return dict(json.loads(deployment.parameter(name).inputs["value"]))

    assert parameter(options)[names.ENV_BANNED_SPECS] == '["^gh/evil/.*"]'
    assert '"fargate_vcpu_hour": 0.04048' in parameter(default)[names.ENV_PRICES]
    proxy = [names.ENV_PROXY_TASKS, names.ENV_PROXY_MAX_TASKS, names.ENV_PROXY_IDLE]
    assert [base[k] for k in proxy] == ["2", "10", "900"]
    assert [changed[k] for k in proxy] == ["3", "20", "1800"]
    assert base[names.ENV_IMAGE_EXPIRY_DAYS] == "90"


def test_function_errors_raise_an_alarm(deployment: Deployment) -> None:
    alarm = deployment.one("cloudwatch/metricAlarm:MetricAlarm").inputs
    functions = {
        q["metric"]["dimensions"]["FunctionName"] for q in alarm["metricQueries"] if "metric" in q
    }
    assert functions == {f"sb-dev-{role}-1a2b3c4" for role in ("launch", "build", "reap")}
    assert alarm["alarmActions"]
