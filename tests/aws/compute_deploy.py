"""A skybinder deployment on moto: what the Pulumi program declares, made in moto with the same
names, the functions' environment and settings parameter as the program renders them, the
policies of its roles, and the internet in front of its load balancers as the prober sees it.

The program is rendered under Pulumi mocks (tests/infra/render.py, cached) and its resources
are created in moto under the names the mocks gave them, so that the functions' environment and
the roles' policies are the rendered ones, unchanged. Only what moto names itself (the VPC,
subnets, security group, load balancer and listener ids) differs: `Deployment.substitution`
maps the rendered identifiers to moto's, in the environment, the settings and the policies.

Traps of shared/reference/aws-facts.md met here: awsvpc tasks need a VPC with DNS hostnames
and container-level memory in the task definition; a NO_SOURCE CodeBuild project still needs
a location.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import httpx

from skybinder.adapters.aws import names as n
from skybinder.adapters.aws.dynamo_schema import create_table
from tests.aws.conftest import REGION
from tests.aws.iam.roles import Document, RenderedRoles, Substitution, rendered_roles
from tests.infra.deployment import Deployment as Program
from tests.infra.render import render

ACCOUNT = "123456789012"
PUBLIC_URL = "https://binder.example.org"


def program(listeners: int = 1, config: dict[str, Any] | None = None) -> Program:
    """The Pulumi program rendered with `listeners` load balancers and `config` (cached)."""
    return render({**({"albCount": listeners} if listeners > 1 else {}), **(config or {})})


def _names() -> dict[str, str]:
    variables = program().variables("launch")
    return {key: value for key, value in variables.items() if key.startswith("SKYBINDER_")}


# What the program names the resources the tests look at (the same with any pool size).
_RENDERED = _names()
TABLE = _RENDERED[n.ENV_TABLE_NAME]
CLUSTER = _RENDERED[n.ENV_CLUSTER]
PROJECT = _RENDERED[n.ENV_BUILD_PROJECT]
BUILD_LOGS = _RENDERED[n.ENV_BUILD_LOG_GROUP]
STREAM_PREFIX = _RENDERED[n.ENV_BUILD_LOG_STREAM_PREFIX]
REPOSITORY = _RENDERED[n.ENV_IMAGE_REPOSITORY].split("/", 1)[1]
TEMPLATE = _RENDERED[n.ENV_SESSION_TASK_DEFINITION].rsplit("/", 1)[1].split(":")[0]
FAMILY_PREFIX = _RENDERED[n.ENV_TASK_FAMILY_PREFIX]
TARGET_GROUP_PREFIX = _RENDERED[n.ENV_TARGET_GROUP_PREFIX]


# AWS's service models, parsed once per process: parsing them is most of what making a client
# costs, and every botocore session parses them again with a loader of its own.
LOADER = botocore.loaders.create_loader()


def botocore_session() -> Any:
    """A botocore session in the tests' region that shares the parsed service models."""
    session = botocore.session.get_session()
    session.register_component("data_loader", LOADER)
    session.set_config_variable("region", REGION)
    return session


class Clients:
    """Clients of one boto3 session, one per service. The operator's view: unrestricted."""

    def __init__(self) -> None:
        self.session = boto3.session.Session(botocore_session=botocore_session())
        self._made: dict[str, Any] = {}

    def __call__(self, service: str) -> Any:
        if service not in self._made:
            self._made[service] = self.session.client(service)  # type: ignore[call-overload]
        return self._made[service]


@dataclass
class Deployment:
    env: dict[str, str]
    vpc_id: str
    listener_arns: list[str]
    repository_uri: str
    client: Clients  # the operator's view of the account, for setting up and looking
    roles: RenderedRoles  # the program's roles, as rendered
    substitution: Substitution  # rendered identifiers -> moto's
    settings: dict[str, str]  # the settings parameter's value, as the functions read it

    def policies(self) -> dict[str, list[Document]]:
        """Each role's policy documents, naming the resources moto made."""
        return {
            role: self.substitution.documents(docs) for role, docs in self.roles.policies.items()
        }

    @property
    def origin_secret(self) -> str:
        return self.settings[n.ENV_ORIGIN_SECRET]


def deploy(
    *,
    listeners: int = 1,
    targets_per_alb: int = 100,
    capacity: str = "",
    settings: dict[str, str] | None = None,
    config: dict[str, Any] | None = None,
) -> Deployment:
    """What `pulumi up` would create with the stack's `config`, on moto; the functions'
    environment for it, with `settings` (variables) changed for the test."""
    rendered = program(listeners, config)
    env = {k: v for k, v in rendered.variables("launch").items() if k.startswith("SKYBINDER_")}
    client = Clients()
    ids = _network(client)
    repository = client("ecr").create_repository(repositoryName=REPOSITORY)["repository"]
    _builder(client, rendered)
    _cluster(client, rendered)
    create_table(client("dynamodb"), env[n.ENV_TABLE_NAME])
    balancers = [r for r in rendered.of_type("lb/loadBalancer:LoadBalancer")]
    listener_arns = [_alb(client, f"{b.name}-1a2b3c4", ids["subnets"]) for b in balancers]
    pairs = {
        env[n.ENV_VPC_ID]: ids["vpc"],
        env[n.ENV_SECURITY_GROUPS]: ids["group"],
        **dict(zip(env[n.ENV_SUBNETS].split(","), ids["subnets"], strict=True)),
    }
    parameter = rendered.parameter(env[n.ENV_SETTINGS_PARAMETER]).inputs["value"]
    rendered_listeners = json.loads(parameter)[n.ENV_LISTENER_ARNS].split(",")
    for ours, theirs in zip(rendered_listeners, listener_arns, strict=True):
        # app/<lb name>/<lb id>/<listener id>: in listener and listener-rule ARNs alike.
        pairs[ours.split(":listener/", 1)[1]] = theirs.split(":listener/", 1)[1]
    substitution = Substitution(pairs)
    env = {key: substitution.text(value) for key, value in env.items()}
    values = json.loads(substitution.text(parameter))
    _parameters(client, env, values)
    env.update(
        {
            n.ENV_TARGET_GROUPS_PER_ALB: str(targets_per_alb),
            n.ENV_MAX_SESSIONS: "0",
            n.ENV_MAX_SESSIONS_PER_REPO: "0",
        }
    )
    if capacity:
        env[n.ENV_CAPACITY] = capacity
    env.update(settings or {})
    return Deployment(
        env,
        ids["vpc"],
        listener_arns,
        repository["repositoryUri"],
        client,
        rendered_roles(rendered),
        substitution,
        values,
    )


def _network(client: Clients) -> dict[str, Any]:
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.42.{i}.0/24", AvailabilityZone=f"{REGION}{z}")
        for i, z in ((1, "a"), (2, "b"))
    ]
    group = ec2.create_security_group(GroupName="sessions", Description="sessions", VpcId=vpc)
    return {
        "vpc": vpc,
        "subnets": [s["Subnet"]["SubnetId"] for s in subnets],
        "group": group["GroupId"],
    }


def _parameters(client: Clients, env: dict[str, str], values: dict[str, str]) -> None:
    """The settings parameter, and the public URL's (which the Edge component writes)."""
    ssm = client("ssm")
    ssm.put_parameter(
        Name=env[n.ENV_SETTINGS_PARAMETER], Value=json.dumps(values), Type="SecureString"
    )
    ssm.put_parameter(Name=env[n.ENV_PUBLIC_URL_PARAMETER], Value=PUBLIC_URL, Type="String")


def _builder(client: Clients, rendered: Program) -> None:
    project = rendered.one("codebuild/project:Project").inputs
    client("logs").create_log_group(logGroupName=BUILD_LOGS)
    client("codebuild").create_project(
        name=PROJECT,
        source={
            "type": "NO_SOURCE",
            "location": "none",
            "buildspec": project["source"]["buildspec"],
        },
        artifacts={"type": "NO_ARTIFACTS"},
        environment={
            "type": "LINUX_CONTAINER",
            "image": project["environment"]["image"],
            "computeType": project["environment"]["computeType"],
            "privilegedMode": True,
        },
        serviceRole=project["serviceRole"],
        logsConfig={
            "cloudWatchLogs": {
                "status": "ENABLED",
                "groupName": BUILD_LOGS,
                "streamName": STREAM_PREFIX,
            }
        },
    )


def _cluster(client: Clients, rendered: Program) -> None:
    ecs = client("ecs")
    ecs.create_cluster(clusterName=CLUSTER, capacityProviders=["FARGATE", "FARGATE_SPOT"])
    template = rendered.one("ecs/taskDefinition:TaskDefinition").inputs
    containers = json.loads(template["containerDefinitions"])
    for container in containers:  # no image was pushed: any will do
        container["image"] = "public.ecr.aws/docker/library/busybox:latest"
    ecs.register_task_definition(
        family=template["family"],
        networkMode=template["networkMode"],
        requiresCompatibilities=template["requiresCompatibilities"],
        cpu=template["cpu"],
        memory=template["memory"],
        executionRoleArn=template["executionRoleArn"],
        runtimePlatform={
            "cpuArchitecture": template["runtimePlatform"]["cpuArchitecture"],
            "operatingSystemFamily": template["runtimePlatform"]["operatingSystemFamily"],
        },
        containerDefinitions=containers,
    )


def _alb(client: Clients, name: str, subnets: list[str]) -> str:
    elbv2 = client("elbv2")
    lb = elbv2.create_load_balancer(Name=name, Subnets=subnets, Scheme="internal")
    listener = elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancers"][0]["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[
            {
                "Type": "fixed-response",
                "FixedResponseConfig": {"StatusCode": "404", "ContentType": "text/plain"},
            }
        ],
    )
    return str(listener["Listeners"][0]["ListenerArn"])


class JupyterBehindAlb:
    """The internet, as the prober sees it: a request to the public URL reaches a session's
    Jupyter only through a listener rule whose target group has a healthy target."""

    def __init__(self, elbv2: Any, listener_arns: list[str]) -> None:
        self.elbv2 = elbv2
        self.listener_arns = listener_arns
        self.requests: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(str(request.url))
        if f"https://{request.url.host}" != PUBLIC_URL:
            return httpx.Response(502)
        path = request.url.path
        for arn in self.listener_arns:
            for rule in self.elbv2.describe_rules(ListenerArn=arn)["Rules"]:
                patterns = [v for c in rule["Conditions"] for v in c.get("Values", [])]
                patterns += [
                    v
                    for c in rule["Conditions"]
                    for v in c.get("PathPatternConfig", {}).get("Values", [])
                ]
                if any(fnmatch.fnmatchcase(path, p) for p in patterns):
                    return self._forward(rule["Actions"][0]["TargetGroupArn"], path)
        return httpx.Response(404, text="no rule")  # the listener's default action

    def _forward(self, target_group: str, path: str) -> httpx.Response:
        health = self.elbv2.describe_target_health(TargetGroupArn=target_group)
        if not any(
            t["TargetHealth"]["State"] == "healthy" for t in health["TargetHealthDescriptions"]
        ):
            return httpx.Response(503, text="no healthy target")
        if path.endswith("/api"):
            return httpx.Response(200, json={"version": "2.14.2"})
        return httpx.Response(403)
