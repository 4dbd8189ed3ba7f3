"""The session proxy's ECS service, as the program declares it: started from a stock image and
the package it uploads, a narrow task role, asleep at first, scaled on the load balancer's
requests and connections, and woken and slept by the functions' roles alone."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

from infra import packaging
from skybinder.adapters.aws import names
from tests.infra.deployment import Deployment, Resource, as_list

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"


def proxy_definition(deployment: Deployment) -> Resource:
    return next(
        d
        for d in deployment.of_type("ecs/taskDefinition:TaskDefinition")
        if d.inputs["family"].endswith("-proxy")
    )


def container(deployment: Deployment) -> dict[str, Any]:
    (found,) = json.loads(proxy_definition(deployment).inputs["containerDefinitions"])
    return dict(found)


def environment(deployment: Deployment) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container(deployment)["environment"]}


def role_statements(deployment: Deployment, role_arn: str) -> list[dict[str, Any]]:
    role = next(
        r for r in deployment.of_type("iam/role:Role") if role_arn.endswith(f"/{r.name}-1a2b3c4")
    )
    return [
        statement
        for policy in deployment.of_type("iam/rolePolicy:RolePolicy")
        if policy.inputs["role"] == role.id
        for statement in json.loads(policy.inputs["policy"])["Statement"]
    ]


def test_the_proxy_runs_on_arm_with_a_stock_python_image_from_the_ecr_public_cache(
    deployment: Deployment,
) -> None:
    definition = proxy_definition(deployment).inputs
    assert definition["runtimePlatform"]["cpuArchitecture"] == "ARM64"
    assert definition["requiresCompatibilities"] == ["FARGATE"]
    found = container(deployment)
    mirror = next(
        r.inputs["ecrRepositoryPrefix"]
        for r in deployment.of_type("ecr/pullThroughCacheRule:PullThroughCacheRule")
        if r.inputs["upstreamRegistryUrl"] == "public.ecr.aws"
    )
    registry = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"
    assert found["image"] == f"{registry}/{mirror}/docker/library/python:{packaging.PYTHON}-slim"
    assert found["user"] == "65534" and not found.get("privileged")
    assert found["portMappings"] == [{"containerPort": 8080, "protocol": "tcp"}]
    boot = (ROOT / "images" / "proxy" / "boot.py").read_text(encoding="utf-8")
    assert found["command"] == [
        "python",
        "-c",
        boot,
        *("--host", "0.0.0.0", "--port", "8080", "--trust-forwarded"),
    ]
    assert found["stopTimeout"] >= 15  # WebSockets close, open requests finish (10 s)


def test_the_package_it_fetches_is_the_one_uploaded_to_its_private_bucket(
    deployment: Deployment,
) -> None:
    env = environment(deployment)
    (obj,) = deployment.of_type("s3/bucketObjectv2:BucketObjectv2")
    (bucket,) = deployment.of_type("s3/bucket:Bucket")
    physical = f"{bucket.name}-1a2b3c4"
    assert env["SKYBINDER_PROXY_PACKAGE"] == f"s3://{physical}/{obj.inputs['key']}"
    # The key names the package's own file: a new package is a new object and definition.
    source = packaging.cache_dir() / obj.inputs["key"].removeprefix("proxy/")
    assert source.name.startswith("proxy-arm64-py3.12-") and source.exists()
    assert env["SKYBINDER_PROXY_SHA256"] == packaging._artifact(source).hexdigest
    assert env[names.ENV_TABLE_NAME] == deployment.outputs["table_name"]
    private = deployment.one("s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(
        private[k]
        for k in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
    )
    policy = json.loads(deployment.one("s3/bucketPolicy:BucketPolicy").inputs["policy"])
    (deny,) = policy["Statement"]
    assert deny["Effect"] == "Deny" and deny["Action"] == "s3:*"


def test_the_package_holds_skybinder_beside_its_dependencies_for_the_proxy() -> None:
    package = packaging.proxy_package("arm64")  # built with the layer, cached
    with zipfile.ZipFile(package.path) as archive:
        listed = set(archive.namelist())
    assert "python/skybinder/proxy/__main__.py" in listed
    assert "python/skybinder/adapters/aws/dynamo_store.py" in listed
    tops = {name.split("/")[1] for name in listed}
    assert {"aiohttp", "boto3", "botocore", "pydantic", "yarl", "multidict"} <= tops
    assert not tops & {"uv", "typer", "rich", "cryptography"}
    compiled = [n for n in listed if n.startswith("python/aiohttp/") and n.endswith(".so")]
    assert compiled and all("cpython-312-aarch64-linux-gnu" in n for n in compiled)
    assert packaging.proxy_package("arm64") == package  # same inputs, same bytes


def test_the_task_role_reads_session_items_and_its_package_and_nothing_else(
    deployment: Deployment,
) -> None:
    definition = proxy_definition(deployment).inputs
    statements = role_statements(deployment, definition["taskRoleArn"])
    table = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{deployment.outputs['table_name']}"
    by_action = {
        action: statement for statement in statements for action in as_list(statement["Action"])
    }
    assert set(by_action) == {"dynamodb:GetItem", "dynamodb:UpdateItem", "s3:GetObject"}
    dynamo = by_action["dynamodb:GetItem"]
    assert dynamo["Resource"] == [table]  # no index, no other table
    assert dynamo["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{names.SESSION_PREFIX}*"]}
    }
    (package,) = by_action["s3:GetObject"]["Resource"]
    bucket, key = environment(deployment)["SKYBINDER_PROXY_PACKAGE"][5:].split("/", 1)
    assert package == f"arn:aws:s3:::{bucket}/{key}"


def test_the_execution_role_pulls_only_through_the_cache_and_writes_only_its_logs(
    deployment: Deployment,
) -> None:
    definition = proxy_definition(deployment).inputs
    statements = role_statements(deployment, definition["executionRoleArn"])
    resources = {arn for s in statements for arn in as_list(s["Resource"])}
    mirror = container(deployment)["image"].split("/")[1]
    assert resources == {
        f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/{mirror}/ecr-public/*",
        "*",  # ecr:GetAuthorizationToken, which has no resource
        f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:"
        f"{container(deployment)['logConfiguration']['options']['awslogs-group']}:*",
    }


def test_the_service_starts_asleep_in_the_target_group_with_spot_beyond_its_first_task(
    default: Deployment, options: Deployment
) -> None:
    for deployment in (default, options):
        service = deployment.one("ecs/service:Service").inputs
        assert service["desiredCount"] == 0
        assert service["cluster"].endswith(f":cluster/{deployment.outputs['cluster_name']}")
        (target,) = service["loadBalancers"]
        (group,) = deployment.of_type("lb/targetGroup:TargetGroup")
        assert target["targetGroupArn"].split("/")[1] == group.inputs["name"]
        assert (target["containerName"], target["containerPort"]) == ("proxy", 8080)
        assert group.inputs["targetType"] == "ip" and group.inputs["port"] == 8080
        assert group.inputs["healthCheck"]["path"] == names.PROXY_HEALTH_PATH
        network = service["networkConfiguration"]
        assert set(network["subnets"]) == set(
            deployment.variables("launch")[names.ENV_SUBNETS].split(",")
        )
    public = default.one("ecs/service:Service").inputs
    assert public["networkConfiguration"]["assignPublicIp"] is True
    assert public["capacityProviderStrategies"] == [
        {"capacityProvider": "FARGATE", "base": 1, "weight": 0},
        {"capacityProvider": "FARGATE_SPOT", "weight": 1},
    ]
    private = options.one("ecs/service:Service").inputs
    assert private["networkConfiguration"]["assignPublicIp"] is False
    assert private["capacityProviderStrategies"] == [{"capacityProvider": "FARGATE", "weight": 1}]


def test_autoscaling_starts_at_zero_and_tracks_requests_and_connections(
    deployment: Deployment,
) -> None:
    target = deployment.one("appautoscaling/target:Target").inputs
    assert (target["minCapacity"], target["maxCapacity"]) == (0, 0)
    assert target["scalableDimension"] == "ecs:service:DesiredCount"
    service = deployment.one("ecs/service:Service")
    cluster = deployment.outputs["cluster_name"]
    assert target["resourceId"] == f"service/{cluster}/{service.name}-1a2b3c4"
    policies = {
        p.name.rsplit("-", 1)[1]: p.inputs["targetTrackingScalingPolicyConfiguration"]
        for p in deployment.of_type("appautoscaling/policy:Policy")
    }
    assert set(policies) == {"requests", "connections"}
    requests = policies["requests"]["predefinedMetricSpecification"]
    assert requests["predefinedMetricType"] == "ALBRequestCountPerTarget"
    (balancer,) = deployment.of_type("lb/loadBalancer:LoadBalancer")
    assert requests["resourceLabel"].startswith(f"app/{balancer.name}-1a2b3c4/")
    assert "/targetgroup/" in requests["resourceLabel"]
    queries = policies["connections"]["customizedMetricSpecification"]["metrics"]
    returned = [q for q in queries if q.get("returnData")]
    assert [q["expression"] for q in returned] == ["connections / MAX([tasks, 1])"]


def test_the_functions_wake_and_sleep_only_this_proxy(deployment: Deployment) -> None:
    digest = hashlib.sha256(b"sb-dev-proxy-scaling-1a2b3c4").hexdigest()[:36]  # the mocks'
    target_arn = f"arn:aws:application-autoscaling:us-east-1:{ACCOUNT}:scalable-target/{digest}"
    service = deployment.one("ecs/service:Service")
    cluster = deployment.outputs["cluster_name"]
    service_arn = f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/{cluster}/{service.name}-1a2b3c4"
    for role in ("launch", "build", "reap"):
        variables = deployment.variables(role)
        assert (
            variables[names.ENV_PROXY_SERVICE]
            == (deployment.one("appautoscaling/target:Target").inputs["resourceId"])
        )
        statements = role_statements(deployment, deployment.function(role).inputs["role"])
        granted = {
            action: as_list(s["Resource"]) for s in statements for action in as_list(s["Action"])
        }
        assert granted["application-autoscaling:RegisterScalableTarget"] == [target_arn]
        assert granted["ecs:UpdateService"] == [service_arn]
        assert granted["ecs:DescribeServices"] == [service_arn]
