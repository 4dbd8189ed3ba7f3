"""The compute side of the AWS tests: a deployment on moto, wired through bootstrap_aws, with
each function's calls made as its own role.

`Cloud` holds one binder per function, as AWS runs them: `launch` (the HTTP app: `cloud.binder`,
`launch()`, `stream()`), `build` and `reap` (their handlers, through `send_build` and
`send_reap`). Each binder has its own botocore session, and an IamGuard checks every call of a
session against the policy the Pulumi program renders for that function's role: a call AWS
would refuse fails as AWS fails it, and fails the test (every Cloud made during a test is
checked when it ends). Use `cloud.as_role("reap")` to call the service layer as a function does.

Also here, what AWS does around the functions: push an image, write a build's log, and send the
EventBridge events (tests/events/*.json, filled in with the ids of real moto resources) to the
real build and reap handlers, and the session proxy in front of the sessions: it reads the table
as its own task role (`cloud.proxy_store`) and routes only while its service runs tasks. Traps
handled (aws-facts.md): CodeBuild keeps no overrides (StartBuild's are recorded to fill the
events); RunTask never lacks capacity in moto (`spot_unavailable` answers as AWS does);
Application Auto Scaling moves no ECS service's count in moto (`ScalableRange` does, as AWS).
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from botocore.awsrequest import AWSResponse

from skybinder import bootstrap_aws
from skybinder.adapters.aws.dynamo_store import DynamoSessionStore
from skybinder.adapters.aws.ecr_registry import image_tag
from skybinder.bootstrap_aws import AwsBinder, build_aws
from skybinder.domain.model import Progress, Session
from skybinder.domain.naming import image_name
from skybinder.service.launch import request_launch
from skybinder.service.watch import watch
from tests.aws.compute_deploy import (
    ACCOUNT,
    BUILD_LOGS,
    CLUSTER,
    FAMILY_PREFIX,
    PROJECT,
    PROXY_SERVICE,
    PUBLIC_URL,
    REPOSITORY,
    STREAM_PREFIX,
    TABLE,
    TEMPLATE,
    Deployment,
    JupyterBehindProxy,
    botocore_session,
    deploy,
)
from tests.aws.compute_events import LambdaContext, build_event, load_event, task_event
from tests.aws.conftest import REGION
from tests.aws.iam.guard import AccountLookup, IamGuard
from tests.aws.quotas import BuilderLimit, ScalableRange, SharedFailures, Throttle
from tests.fake_ports import FakeClock, FakeResolver

__all__ = [  # what the tests take from here, some of it from compute_deploy
    "ACCOUNT",
    "CLUSTER",
    "FAMILY_PREFIX",
    "IMAGE",
    "PROJECT",
    "PROXY_SERVICE",
    "PUBLIC_URL",
    "REPOSITORY",
    "SPEC",
    "TABLE",
    "TEMPLATE",
    "Cloud",
    "deploy",
    "launch",
    "load_event",
    "make_cloud",
    "stream",
    "take",
]
FUNCTIONS = ("launch", "build", "reap")
# Every Cloud made since the last check: conftest checks their guards after each test.
made: list[Cloud] = []

SHA = "b8259dac9eb4aa5f2d65d8881f2da94a4952a195"
OTHER_SHA = "c" * 40
SPEC = "binder-examples/requirements/HEAD"
IMAGE = image_name("skybinder-", "gh-binder-examples-requirements", SHA)  # what SPEC builds
NO_CAPACITY = (  # RunTask's failure reason when Fargate (Spot) has no capacity
    "Capacity is unavailable at this time. Please try again later or in a different "
    "availability zone"
)


@dataclass
class Cloud:
    """A deployment on moto, a binder per function, and AWS's side of the events."""

    functions: dict[str, AwsBinder]  # launch, build, reap: each with its own role
    deployment: Deployment
    sessions: dict[str, Any]  # role -> the botocore session of its binder
    guard: IamGuard
    internet: JupyterBehindProxy
    clock: FakeClock
    proxy_store: DynamoSessionStore  # the session proxy's, calling AWS as its task role
    starts: list[dict[str, Any]] = field(default_factory=list)  # StartBuild parameters
    run_tasks: list[dict[str, Any]] = field(default_factory=list)  # RunTask parameters
    ecs: Any = None
    ecr: Any = None
    logs: Any = None
    last_log_ms: int = 0
    builders: BuilderLimit | None = None  # CodeBuild's concurrency, once `builder_limit` set

    @property
    def aws(self) -> AwsBinder:
        """The launch function's binder and settings."""
        return self.functions["launch"]

    @property
    def binder(self) -> Any:
        """The launch function's binder: the HTTP app's, what `launch` and `stream` use."""
        return self.functions["launch"].binder

    def function(self, role: str) -> Any:
        """The binder of function `role` (launch, build or reap)."""
        return self.functions[role].binder

    @contextmanager
    def as_role(self, role: str) -> Iterator[Any]:
        """Run the block as function `role` does: its binder is bootstrap_aws' current one
        (what the handlers use), and it is given to the block to call the service with."""
        bootstrap_aws.use(self.functions[role])
        try:
            yield self.functions[role].binder
        finally:
            bootstrap_aws.use(self.functions["launch"])

    # -- AWS's limits, which moto lacks (tests/aws/quotas.py) --------------------------------

    def clients(self, service: str) -> list[Any]:
        """The `service` clients of every function (an account's limit binds them all)."""
        attribute = {
            "ecs": ("runner", "client"),
            "codebuild": ("builder", "client"),
            "application-autoscaling": ("proxy", "client"),  # the proxy's fleet
        }[service]
        return [getattr(getattr(self.function(r), attribute[0]), attribute[1]) for r in FUNCTIONS]

    def builder_limit(self, concurrent: int) -> BuilderLimit:
        """CodeBuild refuses StartBuild while `concurrent` builds run (until send_build)."""
        self.builders = BuilderLimit(concurrent).install(self.clients("codebuild"))
        return self.builders

    def throttle(self, service: str, operation: str, rate: float, burst: int) -> Throttle:
        """`operation` throttled as AWS throttles it: a token bucket on the cloud's clock."""
        return Throttle(self.clock.now, rate, burst).install(self.clients(service), operation)

    def fail(self, service: str, operation: str, code: str, times: int = 1, **extra: Any) -> None:
        """The next `times` calls of `operation`, by any function, fail with `code`."""
        SharedFailures(code, times, **extra).install(self.clients(service), operation)

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
        start = next(s for s in self.starts if s["_id"] == build_id)
        return build_event(name, build_id, start["environmentVariablesOverride"])

    def task_event(self, name: str, task_arn: str) -> dict[str, Any]:
        """tests/events/<name>.json for a real moto task: its ARN, cluster, group, address."""
        return task_event(
            name, self.ecs.describe_tasks(cluster=CLUSTER, tasks=[task_arn])["tasks"][0]
        )

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

        for role in FUNCTIONS:  # whichever function starts the server
            self.function(role).runner.client.meta.events.register(
                "before-call.ecs.RunTask", no_spot
            )

    # -- the functions ---------------------------------------------------------------------

    def send_build(self, event: dict[str, Any]) -> Any:
        from functions.build import handler

        detail = event.get("detail", {})
        if self.builders and detail.get("build-status") != "IN_PROGRESS":
            self.builders.ended(str(detail.get("build-id", "")).rsplit("/", 1)[-1])
        with self.as_role("build"):
            return handler.handler(copy.deepcopy(event), LambdaContext("skybinder-build"))

    def send_reap(self, event: dict[str, Any]) -> Any:
        from functions.reap import handler

        with self.as_role("reap"):
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

    def proxy_tasks(self) -> int:
        """The session proxy service's desired count of tasks."""
        return self.internet.proxy_tasks()

    def proxy_range(self) -> tuple[int, int]:
        """(min, max) of the proxy's scalable target: (0, 0) asleep."""
        (target,) = self.deployment.client("application-autoscaling").describe_scalable_targets(
            ServiceNamespace="ecs", ResourceIds=[PROXY_SERVICE]
        )["ScalableTargets"]
        return int(target["MinCapacity"]), int(target["MaxCapacity"])

    def routed(self, session_id: str) -> str:
        """The address the proxy forwards the session to ("" when it routes it nowhere)."""
        route = self.proxy_store.route(session_id)
        return route.address if route is not None and route.routable else ""

    def running_tasks(self) -> list[str]:
        return list(self.ecs.list_tasks(cluster=CLUSTER, desiredStatus="RUNNING")["taskArns"])

    def counters(self) -> dict[str, int]:
        return dict(self.binder.store.counters())


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


def make_cloud(
    deployment: Deployment,
    *,
    refs: dict[str, str] | None = None,
    hooks: list[tuple[str, Callable[..., Any]]] | None = None,
    resolver: Any = None,
) -> Cloud:
    """The binders bootstrap_aws builds from the deployment's environment, one per function,
    each making its calls as its role; the launch function's is made current.

    `hooks` are (event, handler) pairs for every function's botocore session (e.g. to count
    calls); `resolver` replaces the fake one (a ProviderResolver on recorded answers).
    """
    guard = IamGuard(
        deployment.policies(), AccountLookup(deployment.client, REGION, ACCOUNT), ACCOUNT
    )
    starts: list[dict[str, Any]] = []
    run_tasks: list[dict[str, Any]] = []
    clock = FakeClock()
    proxy_session = botocore_session()
    guard.attach(proxy_session, "proxy", REGION)  # the proxy's task role
    proxy_store = DynamoSessionStore(
        proxy_session.create_client("dynamodb"), deployment.env["SKYBINDER_TABLE_NAME"]
    )
    internet = JupyterBehindProxy(deployment.client("ecs"), proxy_store.route)
    http = httpx.Client(transport=httpx.MockTransport(internet))
    resolver = resolver or FakeResolver(
        refs or {SPEC: SHA, "binder-examples/requirements/old": OTHER_SHA}
    )
    functions: dict[str, AwsBinder] = {}
    sessions: dict[str, Any] = {}
    for role in FUNCTIONS:
        session = botocore_session()
        guard.attach(session, role, REGION)  # before any client: they inherit the check
        _recorded(session, starts, run_tasks)
        for event, handler in hooks or []:
            session.register(event, handler)
        environment = {k: v for k, v in deployment.env.items()}
        if role != "launch":  # only the launch function is told where a GitHub token is
            environment.pop("SKYBINDER_GITHUB_TOKEN_SECRET", None)
        functions[role] = build_aws(
            environment, session=session, http=http, resolver=resolver, clock=clock
        )
        sessions[role] = session
    ScalableRange(deployment.client("ecs")).install(
        f.binder.proxy.client for f in functions.values() if f.binder.proxy is not None
    )
    bootstrap_aws.use(functions["launch"])
    cloud = Cloud(
        functions=functions,
        deployment=deployment,
        sessions=sessions,
        guard=guard,
        internet=internet,
        clock=clock,
        proxy_store=proxy_store,
        starts=starts,
        run_tasks=run_tasks,
        ecs=deployment.client("ecs"),
        ecr=deployment.client("ecr"),
        logs=deployment.client("logs"),
    )
    made.append(cloud)
    return cloud


def check_clouds() -> None:
    """Fail when a Cloud made since the last check saw a call its role may not make."""
    clouds = list(made)
    made.clear()
    for cloud in clouds:
        cloud.guard.assert_clean()


def _recorded(session: Any, starts: list[dict[str, Any]], run_tasks: list[dict[str, Any]]) -> None:
    """The parameters of every StartBuild (with the build id it got) and every RunTask."""

    def record_start(params: dict[str, Any], **_: Any) -> None:
        starts.append(copy.deepcopy(params))

    def record_id(parsed: dict[str, Any], **_: Any) -> None:
        if parsed.get("build") and starts:
            starts[-1]["_id"] = parsed["build"]["id"]

    def record_run(params: dict[str, Any], **_: Any) -> None:
        run_tasks.append(copy.deepcopy(params))

    session.register("before-parameter-build.codebuild.StartBuild", record_start)
    session.register("after-call.codebuild.StartBuild", record_id)
    session.register("before-parameter-build.ecs.RunTask", record_run)
