"""A skybinder deployment on moto: what the Pulumi program declares, made in moto with the same
names, the functions' environment and settings parameter as the program renders them, the
policies of its roles, and the internet in front of the session proxy as the prober sees it.

The program is rendered under Pulumi mocks (tests/infra/render.py, cached) and its resources
are created in moto under the names the mocks gave them, so that the functions' environment and
the roles' policies are the rendered ones, unchanged. Only what moto names itself (the VPC,
subnets and security group ids, the proxy's scalable target) differs: `Deployment.substitution`
maps the rendered identifiers to moto's, in the environment, the settings and the policies.

Traps of shared/reference/aws-facts.md met here: awsvpc tasks need a VPC with DNS hostnames
and container-level memory in the task definition; a NO_SOURCE CodeBuild project still needs
a location.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import httpx

from skybinder.adapters.aws import names as n
from skybinder.adapters.aws.dynamo_schema import create_table
from skybinder.domain.model import SessionRoute
from tests.aws.conftest import REGION
from tests.aws.iam.roles import (
    Document,
    RenderedRoles,
    Substitution,
    rendered_roles,
    task_definition,
)
from tests.infra.deployment import Deployment as Program
from tests.infra.render import render

ACCOUNT = "123456789012"
PUBLIC_URL = "https://binder.example.org"


def program(config: dict[str, Any] | None = None) -> Program:
    """The Pulumi program rendered with `config` (cached)."""
    return render(config or {})


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
PROXY_SERVICE = _RENDERED[n.ENV_PROXY_SERVICE]  # service/<cluster>/<service>


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
    capacity: str = "",
    settings: dict[str, str] | None = None,
    config: dict[str, Any] | None = None,
) -> Deployment:
    """What `pulumi up` would create with the stack's `config`, on moto; the functions'
    environment for it, with `settings` (variables) changed for the test."""
    rendered = program(config)
    env = {k: v for k, v in rendered.variables("launch").items() if k.startswith("SKYBINDER_")}
    client = Clients()
    ids = _network(client)
    repository = client("ecr").create_repository(repositoryName=REPOSITORY)["repository"]
    _builder(client, rendered)
    _cluster(client, rendered)
    create_table(client("dynamodb"), env[n.ENV_TABLE_NAME])
    pairs = {
        env[n.ENV_SECURITY_GROUPS]: ids["group"],
        **dict(zip(env[n.ENV_SUBNETS].split(","), ids["subnets"], strict=True)),
        **_proxy(client, rendered, ids),
    }
    parameter = rendered.parameter(env[n.ENV_SETTINGS_PARAMETER]).inputs["value"]
    substitution = Substitution(pairs)
    env = {key: substitution.text(value) for key, value in env.items()}
    values = json.loads(substitution.text(parameter))
    _parameters(client, env, values)
    env.update({n.ENV_MAX_SESSIONS: "0", n.ENV_MAX_SESSIONS_PER_REPO: "0"})
    if capacity:
        env[n.ENV_CAPACITY] = capacity
    env.update(settings or {})
    return Deployment(
        env,
        ids["vpc"],
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
    template = task_definition(rendered, "-session")
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


def _proxy(client: Clients, rendered: Program, ids: dict[str, Any]) -> dict[str, str]:
    """The session proxy's service, asleep, and its scalable target at [0, 0], as the program
    declares them; {rendered identifier: moto's} for what moto names itself."""
    definition = task_definition(rendered, "-proxy")
    ecs = client("ecs")
    ecs.register_task_definition(
        family=definition["family"],
        networkMode=definition["networkMode"],
        requiresCompatibilities=definition["requiresCompatibilities"],
        cpu=definition["cpu"],
        memory=definition["memory"],
        executionRoleArn=definition["executionRoleArn"],
        taskRoleArn=definition["taskRoleArn"],
        runtimePlatform={
            "cpuArchitecture": definition["runtimePlatform"]["cpuArchitecture"],
            "operatingSystemFamily": definition["runtimePlatform"]["operatingSystemFamily"],
        },
        containerDefinitions=[
            {**c, "memory": int(definition["memory"])}
            for c in json.loads(definition["containerDefinitions"])
        ],
    )
    _, cluster, service = PROXY_SERVICE.split("/")
    ecs.create_service(
        cluster=cluster,
        serviceName=service,
        taskDefinition=definition["family"],
        desiredCount=0,
        networkConfiguration={
            "awsvpcConfiguration": {"subnets": ids["subnets"], "securityGroups": [ids["group"]]}
        },
    )
    scaling = client("application-autoscaling")
    scaling.register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId=PROXY_SERVICE,
        ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=0,
        MaxCapacity=0,
    )
    (target,) = scaling.describe_scalable_targets(
        ServiceNamespace="ecs", ResourceIds=[PROXY_SERVICE]
    )["ScalableTargets"]
    statements = [
        s
        for _, s in rendered.statements()
        if "application-autoscaling:RegisterScalableTarget" in s.get("Action", [])
    ]
    return {statements[0]["Resource"][0]: target["ScalableTargetARN"]}


class JupyterBehindProxy:
    """The internet, as the prober sees it: a request to a session's public URL reaches its
    Jupyter only while the proxy's service runs tasks (the load balancer answers 503 when it
    has none), and only when the proxy, reading the table as its task role, routes it."""

    def __init__(self, ecs: Any, routes: Callable[[str], SessionRoute | None]) -> None:
        self.ecs = ecs
        self.routes = routes
        self.requests: list[str] = []

    def proxy_tasks(self) -> int:
        _, cluster, service = PROXY_SERVICE.split("/")
        (found,) = self.ecs.describe_services(cluster=cluster, services=[service])["services"]
        return int(found["desiredCount"])

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(str(request.url))
        if f"https://{request.url.host}" != PUBLIC_URL:
            return httpx.Response(502)
        if not self.proxy_tasks():
            return httpx.Response(503, text="no healthy target")  # the load balancer's own
        path = request.url.path
        session_id = path.removeprefix("/s/").split("/", 1)[0]
        route = self.routes(session_id)
        if route is None:
            return httpx.Response(404, json={"status": "unknown"})
        if not route.routable:
            return httpx.Response(410 if route.state.terminal else 503)
        if path.endswith("/api"):
            return httpx.Response(200, json={"version": "2.14.2"})
        return httpx.Response(403)
