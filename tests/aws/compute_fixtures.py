"""The compute side of the AWS tests: a deployment on moto, wired through bootstrap_aws.

`deploy()` creates what infra/ would (network, ECR, CodeBuild and its log group, the ECS
cluster and session task definition, ALBs with listeners, the DynamoDB table) and returns the
functions' environment. `Cloud` is the binder built from that environment with the real
bootstrap, plus what AWS would do around it: push an image, write a build's log, and send
the EventBridge events (tests/events/*.json, filled in with the ids of real moto resources)
to the real build and reap handlers. Traps handled here (shared/reference/aws-facts.md):
awsvpc needs DNS hostnames and container-level memory; ELBv2 has no quotas (the router
counts); CodeBuild keeps no overrides (StartBuild's are recorded to fill the events); RunTask
never lacks capacity in moto (`spot_unavailable` answers as AWS does when it does).
"""

from __future__ import annotations

import copy
import fnmatch
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import httpx
from botocore.awsrequest import AWSResponse

from skybinder import bootstrap_aws
from skybinder.adapters.aws import names as n
from skybinder.adapters.aws.dynamo_schema import create_table
from skybinder.adapters.aws.ecr_registry import image_tag
from skybinder.bootstrap_aws import AwsBinder, build_aws
from skybinder.domain.model import Progress, Session
from skybinder.domain.naming import image_name
from skybinder.service.launch import request_launch
from skybinder.service.watch import watch
from tests.aws.conftest import REGION, TABLE
from tests.fake_ports import FakeClock, FakeResolver

ACCOUNT = "123456789012"
SHA = "b8259dac9eb4aa5f2d65d8881f2da94a4952a195"
OTHER_SHA = "c" * 40
PUBLIC_URL = "https://binder.example.org"
CLUSTER = "skybinder-sessions"
PROJECT = "skybinder-build"
BUILD_LOGS = "/skybinder/builds"
STREAM_PREFIX = "repo2docker"
TEMPLATE = "skybinder-session"
REPOSITORY = "skybinder-images"
EVENTS = Path(__file__).parent.parent / "events"
SPEC = "binder-examples/requirements/HEAD"
NO_CAPACITY = (  # RunTask's failure reason when Fargate (Spot) has no capacity
    "Capacity is unavailable at this time. Please try again later or in a different "
    "availability zone"
)
IMAGE = image_name("skybinder-", "gh-binder-examples-requirements", SHA)  # what SPEC builds


class Clients:
    """Clients of one boto3 session, one per service: a session loads AWS's endpoint data
    once, which is most of what making a client costs."""

    def __init__(self) -> None:
        self.session = boto3.session.Session(region_name=REGION)
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


@dataclass
class Cloud:
    """A deployment on moto, its binder from bootstrap_aws, and AWS's side of the events."""

    aws: AwsBinder
    deployment: Deployment
    boto: Any  # the botocore session every client of the binder comes from
    internet: JupyterBehindAlb
    clock: FakeClock
    starts: list[dict[str, Any]] = field(default_factory=list)  # StartBuild parameters
    run_tasks: list[dict[str, Any]] = field(default_factory=list)  # RunTask parameters
    ecs: Any = None
    elbv2: Any = None
    ecr: Any = None
    logs: Any = None
    last_log_ms: int = 0

    @property
    def binder(self) -> Any:
        return self.aws.binder

    # -- what AWS does around the functions ----------------------------------------------

    def push_image(self, image_name: str) -> None:
        """The image appears in ECR, as the end of a successful build (or a prebuild) leaves it."""
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 7023,
                "digest": "sha256:" + uuid.uuid4().hex * 2,
            },
            "layers": [],
        }
        self.ecr.put_image(
            repositoryName=REPOSITORY,
            imageManifest=json.dumps(manifest),
            imageTag=image_tag(image_name),
        )

    def write_build_log(self, build_id: str, *lines: str) -> None:
        """Lines of the build's log stream, as CodeBuild writes repo2docker's output."""
        stream = f"{STREAM_PREFIX}/{build_id.rsplit(':', 1)[-1]}"
        streams = self.logs.describe_log_streams(
            logGroupName=BUILD_LOGS, logStreamNamePrefix=stream
        )
        if not streams["logStreams"]:
            self.logs.create_log_stream(logGroupName=BUILD_LOGS, logStreamName=stream)
        # CloudWatch refuses events from the future, and orders a stream by time: each line
        # gets a later millisecond than every line before it.
        start = max(int(time.time() * 1000), self.last_log_ms + 1)
        events = [{"timestamp": start + i, "message": line} for i, line in enumerate(lines)]
        self.last_log_ms = start + len(lines)
        self.logs.put_log_events(logGroupName=BUILD_LOGS, logStreamName=stream, logEvents=events)

    def build_event(self, name: str, build_id: str) -> dict[str, Any]:
        """tests/events/<name>.json for build `build_id`, with the overrides StartBuild got."""
        event = load_event(name)
        arn = f"arn:aws:codebuild:{REGION}:{ACCOUNT}:build/{build_id}"
        event["resources"] = [arn]
        detail = event["detail"]
        detail["build-id"], detail["project-name"] = arn, PROJECT
        start = next(s for s in self.starts if s["_id"] == build_id)
        detail["additional-information"]["environment"]["environment-variables"] = [
            {"name": v["name"], "type": v["type"], "value": v["value"]}
            for v in start["environmentVariablesOverride"]
        ]
        return event

    def task_event(self, name: str, task_arn: str) -> dict[str, Any]:
        """tests/events/<name>.json for a real moto task: its ARN, cluster, group, address."""
        task = self.ecs.describe_tasks(cluster=CLUSTER, tasks=[task_arn])["tasks"][0]
        event = load_event(name)
        event["resources"] = [task_arn]
        detail = event["detail"]
        detail.update(
            taskArn=task_arn,
            clusterArn=task["clusterArn"],
            group=task["group"],
            startedBy=task["startedBy"],
            taskDefinitionArn=task["taskDefinitionArn"],
            capacityProviderName=task.get("capacityProviderName", "FARGATE"),
        )
        ip = next(
            d["value"]
            for a in task["attachments"]
            for d in a["details"]
            if d["name"] == "privateIPv4Address"
        )
        for attachment in detail["attachments"]:
            for item in attachment["details"]:
                if item["name"] == "privateIPv4Address":
                    item["value"] = ip
        for container in detail["containers"]:
            container["taskArn"] = task_arn
        return event

    def task_stops(self, task_arn: str) -> None:
        """The task ends in ECS (by itself, or because AWS ended it), before its event."""
        self.ecs.stop_task(cluster=CLUSTER, task=task_arn, reason="ended")

    def spot_unavailable(self, times: int = 1) -> None:
        """RunTask on Fargate Spot answers as AWS does when Spot has no capacity: no task,
        a failure in the answer (not an error)."""
        left = [times]

        def no_spot(params: dict[str, Any], **_: Any) -> Any:
            request = json.loads(params["body"])  # ECS speaks JSON: the call's own parameters
            strategy = request.get("capacityProviderStrategy") or [{}]
            if left[0] <= 0 or strategy[0].get("capacityProvider") != "FARGATE_SPOT":
                return None
            left[0] -= 1
            body = {"tasks": [], "failures": [{"arn": "", "reason": NO_CAPACITY}]}
            response = AWSResponse("https://ecs.invalid", status_code=200, headers={}, raw=None)
            return response, {**body, "ResponseMetadata": {}}

        self.ecs_runner_client().meta.events.register("before-call.ecs.RunTask", no_spot)

    def ecs_runner_client(self) -> Any:
        return self.binder.runner.client

    # -- the functions ---------------------------------------------------------------------

    def send_build(self, event: dict[str, Any]) -> Any:
        from functions.build import handler

        return handler.handler(copy.deepcopy(event), LambdaContext("skybinder-build"))

    def send_reap(self, event: dict[str, Any]) -> Any:
        from functions.reap import handler

        return handler.handler(copy.deepcopy(event), LambdaContext("skybinder-reap"))

    # -- looking at the state ----------------------------------------------------------------

    def session(self, session_id: str) -> Session:
        found = self.binder.store.get(session_id)
        assert found is not None
        return found

    def build_id(self, image_name: str) -> str:
        image = self.binder.store.get_image(image_name)
        assert image is not None and image.build_id
        return str(image.build_id)

    def target_groups(self) -> list[str]:
        groups = self.elbv2.describe_target_groups()["TargetGroups"]
        return sorted(g["TargetGroupName"] for g in groups)

    def session_rules(self) -> list[dict[str, Any]]:
        rules: list[dict[str, Any]] = []
        for arn in self.deployment.listener_arns:
            rules += [
                r for r in self.elbv2.describe_rules(ListenerArn=arn)["Rules"] if not r["IsDefault"]
            ]
        return rules

    def targets(self, session_id: str) -> list[str]:
        arn = self.elbv2.describe_target_groups(Names=[f"sb-{session_id}"])["TargetGroups"][0]
        health = self.elbv2.describe_target_health(TargetGroupArn=arn["TargetGroupArn"])
        return [t["Target"]["Id"] for t in health["TargetHealthDescriptions"]]

    def running_tasks(self) -> list[str]:
        return list(self.ecs.list_tasks(cluster=CLUSTER, desiredStatus="RUNNING")["taskArns"])

    def counters(self) -> dict[str, int]:
        return dict(self.binder.store.counters())


@dataclass
class LambdaContext:
    """What powertools reads from the Lambda context."""

    function_name: str
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"


def launch(cloud: Cloud, spec: str = SPEC, **kwargs: Any) -> Session:
    """A launch through the service, as the launch function's /build makes it."""
    return request_launch(cloud.binder, "gh", spec, **kwargs)


def stream(binder: Any, session_id: str, polls: int = 3) -> list[Progress]:
    """The /build events of a session until it has been quiet for `polls` polls."""
    return take(watch(binder, session_id), polls)


def take(events: Iterator[Progress | None], polls: int = 3) -> list[Progress]:
    """Events from a running `watch`, until it ends or has been quiet for `polls` polls; the
    same iterator can be taken from again after the world has moved on."""
    out: list[Progress] = []
    quiet = 0
    for event in events:
        if event is None:
            quiet += 1
            if quiet >= polls:
                break
            continue
        quiet = 0
        out.append(event)
    return out


def load_event(name: str) -> dict[str, Any]:
    return dict(json.loads((EVENTS / f"{name}.json").read_text()))


def make_cloud(
    deployment: Deployment,
    *,
    refs: dict[str, str] | None = None,
    hooks: list[tuple[str, Callable[..., Any]]] | None = None,
) -> Cloud:
    """The binder bootstrap_aws builds from the deployment's environment, made current."""
    session = botocore.session.get_session()
    session.set_config_variable("region", REGION)
    cloud_starts: list[dict[str, Any]] = []
    run_tasks: list[dict[str, Any]] = []

    def record_start(params: dict[str, Any], **_: Any) -> None:
        cloud_starts.append(copy.deepcopy(params))

    def record_id(parsed: dict[str, Any], **_: Any) -> None:
        if parsed.get("build") and cloud_starts:
            cloud_starts[-1]["_id"] = parsed["build"]["id"]

    def record_run(params: dict[str, Any], **_: Any) -> None:
        run_tasks.append(copy.deepcopy(params))

    session.register("before-parameter-build.codebuild.StartBuild", record_start)
    session.register("after-call.codebuild.StartBuild", record_id)
    session.register("before-parameter-build.ecs.RunTask", record_run)
    for event, handler in hooks or []:
        session.register(event, handler)
    internet = JupyterBehindAlb(deployment.client("elbv2"), deployment.listener_arns)
    clock = FakeClock()
    resolver = FakeResolver(refs or {SPEC: SHA, "binder-examples/requirements/old": OTHER_SHA})
    aws = build_aws(
        deployment.env,
        session=session,
        http=httpx.Client(transport=httpx.MockTransport(internet)),
        resolver=resolver,
        clock=clock,
    )
    cloud = Cloud(
        aws=aws,
        deployment=deployment,
        boto=session,
        internet=internet,
        clock=clock,
        starts=cloud_starts,
        run_tasks=run_tasks,
        ecs=deployment.client("ecs"),
        elbv2=deployment.client("elbv2"),
        ecr=deployment.client("ecr"),
        logs=deployment.client("logs"),
    )
    bootstrap_aws.use(aws)
    return cloud
