"""A skybinder deployment on moto: what infra/ creates, the functions' environment for it, and
the internet in front of its load balancers as the prober sees it.

Traps of shared/reference/aws-facts.md met here: awsvpc tasks need a VPC with DNS hostnames
and container-level memory in the task definition; a NO_SOURCE CodeBuild project still needs
a location.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any

import httpx

from skybinder.adapters.aws import names as n
from skybinder.adapters.aws.dynamo_schema import create_table
from tests.aws.conftest import REGION, TABLE, boto3_session

ACCOUNT = "123456789012"
PUBLIC_URL = "https://binder.example.org"
CLUSTER = "skybinder-sessions"
PROJECT = "skybinder-build"
BUILD_LOGS = "/skybinder/builds"
STREAM_PREFIX = "repo2docker"
TEMPLATE = "skybinder-session"
REPOSITORY = "skybinder-images"
DEAD_LETTERS = "skybinder-dead-letters"


class Clients:
    """Clients of one boto3 session, one per service: a session loads AWS's endpoint data
    once, which is most of what making a client costs."""

    def __init__(self) -> None:
        self.session = boto3_session()
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


def deploy(
    *,
    listeners: int = 1,
    targets_per_alb: int = 100,
    capacity: str = "",
    settings: dict[str, str] | None = None,
) -> Deployment:
    """What `pulumi up` would create, on moto; the functions' environment for it."""
    client = Clients()
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.42.{i}.0/24", AvailabilityZone=f"{REGION}{z}")
        for i, z in ((1, "a"), (2, "b"))
    ]
    subnet_ids = [s["Subnet"]["SubnetId"] for s in subnets]
    group = ec2.create_security_group(GroupName="sessions", Description="sessions", VpcId=vpc)
    repository = client("ecr").create_repository(repositoryName=REPOSITORY)["repository"]
    _builder(client)
    _cluster(client)
    create_table(client("dynamodb"), TABLE)
    dead_letters = client("sqs").create_queue(QueueName=DEAD_LETTERS)["QueueUrl"]
    arns = [_alb(client, f"skybinder-{i}", subnet_ids) for i in range(listeners)]
    env = {
        n.ENV_TABLE_NAME: TABLE,
        n.ENV_CLUSTER: CLUSTER,
        n.ENV_BUILD_PROJECT: PROJECT,
        n.ENV_BUILD_LOG_GROUP: BUILD_LOGS,
        n.ENV_BUILD_LOG_STREAM_PREFIX: STREAM_PREFIX,
        n.ENV_IMAGE_REPOSITORY: repository["repositoryUri"],
        n.ENV_SESSION_TASK_DEFINITION: TEMPLATE,
        n.ENV_SUBNETS: ",".join(subnet_ids),
        n.ENV_SECURITY_GROUPS: group["GroupId"],
        n.ENV_VPC_ID: vpc,
        n.ENV_LISTENER_ARNS: ",".join(arns),
        n.ENV_TARGET_GROUPS_PER_ALB: str(targets_per_alb),
        n.ENV_PUBLIC_URL: PUBLIC_URL,
        n.ENV_MAX_SESSIONS: "0",
        n.ENV_MAX_SESSIONS_PER_REPO: "0",
        n.ENV_DEAD_LETTER_QUEUE: dead_letters,
    }
    if capacity:
        env[n.ENV_CAPACITY] = capacity
    env.update(settings or {})
    return Deployment(env, vpc, arns, repository["repositoryUri"], client)


def _builder(client: Clients) -> None:
    client("logs").create_log_group(logGroupName=BUILD_LOGS)
    client("codebuild").create_project(
        name=PROJECT,
        source={"type": "NO_SOURCE", "location": "none", "buildspec": "version: 0.2"},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/amazonlinux-x86_64-standard:5.0",
            "computeType": "BUILD_GENERAL1_MEDIUM",
            "privilegedMode": True,
        },
        serviceRole=f"arn:aws:iam::{ACCOUNT}:role/skybinder-builder",
        logsConfig={
            "cloudWatchLogs": {
                "status": "ENABLED",
                "groupName": BUILD_LOGS,
                "streamName": STREAM_PREFIX,
            }
        },
    )


def _cluster(client: Clients) -> None:
    ecs = client("ecs")
    ecs.create_cluster(clusterName=CLUSTER, capacityProviders=["FARGATE", "FARGATE_SPOT"])
    ecs.register_task_definition(
        family=TEMPLATE,
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="1024",
        memory="2048",
        executionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/skybinder-session-execution",
        runtimePlatform={"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"},
        containerDefinitions=[
            {
                "name": n.SESSION_CONTAINER,
                "image": "public.ecr.aws/docker/library/busybox:latest",
                "essential": True,
                "memory": 2048,  # moto needs it at container level for awsvpc tasks
                "portMappings": [{"containerPort": n.SESSION_PORT, "protocol": "tcp"}],
                "stopTimeout": 120,
            }
        ],
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
