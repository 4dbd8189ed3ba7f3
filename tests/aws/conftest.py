"""moto for every AWS test, with the traps of shared/reference/aws-facts.md handled here once,
and IAM enforced the way AWS enforces it.

Use the `aws` fixture (or `mocked_aws()` outside fixtures, e.g. in a parametrised contract
suite) and make clients with `client(service)`; never reach real AWS. What is handled:

- credentials and region: fake ones in the environment, and no profile or config file is
  read, so a developer's real credentials can never be used by a test;
- DynamoDB requests run one at a time: moto's backend has no locks, and its transactions
  restore a deep copy of the whole table when cancelled, so two threads could interleave a
  conditional check and a write. Real DynamoDB serialises writes per item; with this lock the
  race tests exercise our conditions, not moto's missing locking;
- DynamoDB TTL never deletes in moto: `sweep_expired` deletes what TTL would have deleted;
- ECS tasks advance one state per `describe_tasks` in moto: they are set to manual progression.

IAM, enforced (tests/aws/iam/). moto allows every call; AWS allows what the caller's role
allows. The `cloud` fixture (compute_fixtures.py) deploys on moto what the Pulumi program
declares, under the names the program gives it, and builds one binder per function (launch,
build, reap), each calling AWS through its own botocore session. Every call is evaluated, before
it is sent, against the policy the program renders for that function's role (rendered once per
configuration under Pulumi mocks, tests/infra/render.py), for the ARN the call really targets
and with the condition keys AWS sets (ecs:cluster, iam:PassedToService, ...). A call the role
may not make fails as in AWS (AccessDenied...), and the test fails when it ends, naming the
role, the action and the resource. So, in a test:

    def test_something(cloud: Cloud) -> None:
        session = launch(cloud)                  # as the launch function (cloud.binder)
        cloud.send_reap(event)                   # the reap handler, as the reap role
        with cloud.as_role("reap") as binder:    # the service layer, as the reap function
            reap(binder)                         # (or the `as_role` fixture: as_role("reap"))
        cloud.guard.allowed("reap", "ecs:RunTask")   # what a role was allowed to do

For a client of your own (a new adapter, a new function), check it as a role with
`iam_client(cloud, service, role)`; a new role needs its policy in infra/ and its name in
tests/aws/iam/roles.py. A call the harness cannot map to an ARN (tests/aws/iam/requests.py)
fails too: add its operation there. The CodeBuild project's role (`builder`) and the task
execution role (`execution`) are checked with `cloud.guard.check(role, Call(...))` for the
calls they make outside Python (tests/aws/test_iam_roles.py).

Quotas and throttles AWS has and moto lacks, as doubles that answer as AWS does: `fail_calls`
(any error, a number of times), `Throttle` (a token bucket raising ThrottlingException, e.g.
RunTask's 20/s with a burst of 100), `cloud.builder_limit(n)` (CodeBuild's concurrent builds),
and the Lambda 4 KB environment limit (checked on the rendered program in tests/infra).

Helpers for any service: `ApiCalls` records a client's operations (call budgets, "never
Scans"); `before_call` runs another writer between a read and a write; `fail_calls` makes a
client's next calls fail with an error moto never produces (throttling, conflicts, capacity).

Sections below are per service; add a service's fixtures (and the traps of aws-facts.md it
meets: run_task's call shape, awsvpc networking, CodeBuild results) in its own.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from unittest import mock

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws
from moto.dynamodb.responses import DynamoHandler
from moto.moto_api import state_manager

from skybinder.adapters.aws import names as n
from skybinder.adapters.aws.dynamo_schema import create_table

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

REGION = "us-east-1"
TABLE = "skybinder-test"
_FAKE_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    # moto's EC2 loads thousands of AMIs into every new account: seconds per test for images
    # no test uses (the deployments need a VPC, never an AMI).
    "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
}
_DROPPED = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE")

# -- moto, credentials and region -----------------------------------------------------------


@contextmanager
def mocked_aws() -> Iterator[None]:
    """Every AWS service mocked, with fake credentials and the traps below handled."""
    environment = {k: v for k, v in os.environ.items() if k not in _DROPPED}
    with (
        mock.patch.dict(os.environ, {**environment, **_FAKE_ENVIRONMENT}, clear=True),
        mock_aws(),
        _dynamodb_one_at_a_time(),
        _ecs_tasks_advance_manually(),
    ):
        yield


def client(service: str) -> Any:
    """A client of `service` from a fresh boto3 session (default sessions cache credentials).

    Create clients in the test's thread: creating them is not thread-safe, using them is.
    """
    return boto3.session.Session(region_name=REGION).client(service)  # type: ignore[call-overload]


@pytest.fixture
def aws() -> Iterator[None]:
    with mocked_aws():
        yield


# -- watching and steering a client's calls (any service) ----------------------------------


class ApiCalls:
    """The operations a client makes, as (operation, IndexName or None), in order.

    Recorded by a botocore hook that sees each call's parameters as the caller passed them.
    """

    def __init__(self, aws_client: Any) -> None:
        self.calls: list[tuple[str, str | None]] = []
        aws_client.meta.events.register("before-parameter-build.*.*", self._record)

    def _record(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self.calls.append((model.name, params.get("IndexName")))

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def clear(self) -> None:
        self.calls.clear()


def before_call(
    aws_client: Any, operation: str, action: Callable[[], object], times: int = 1
) -> None:
    """Run `action` just before the client's next `times` calls of `operation` (e.g. another
    writer getting in between a read and a write); `action` must use another client."""

    def act_then_proceed() -> None:
        action()  # None: botocore goes on to make the call

    _hook(aws_client, operation, times, act_then_proceed)


def fail_calls(aws_client: Any, operation: str, code: str, times: int = 1, **extra: Any) -> None:
    """Make the client's next `times` calls of `operation` fail with error `code` (plus the
    response fields in `extra`) without reaching moto: errors moto never produces."""
    body = {"Error": {"Code": code, "Message": f"{code} (injected by the test)"}, **extra}
    response = AWSResponse(url="https://aws.invalid", status_code=400, headers={}, raw=None)
    _hook(aws_client, operation, times, lambda: (response, {**body, "ResponseMetadata": {}}))


def _hook(aws_client: Any, operation: str, times: int, make: Callable[[], object]) -> None:
    # A before-call handler that returns (http response, parsed body) replaces the request.
    left = [times]
    service = aws_client.meta.service_model.service_id.hyphenize()

    def hook(**_: Any) -> object:
        if left[0] <= 0:
            return None
        left[0] -= 1
        return make()

    aws_client.meta.events.register(f"before-call.{service}.{operation}", hook)


# -- DynamoDB -------------------------------------------------------------------------------


@contextmanager
def _dynamodb_one_at_a_time() -> Iterator[None]:
    lock = threading.RLock()
    original = DynamoHandler.call_action

    def call_action(self: DynamoHandler) -> Any:
        with lock:
            return original(self)

    with mock.patch.object(DynamoHandler, "call_action", call_action):
        yield


def sweep_expired(dynamodb: DynamoDBClient, table: str, now: float) -> int:
    """Delete the items whose TTL attribute is due at `now`, as DynamoDB's TTL would."""
    deleted = 0
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            expires = item.get(n.TTL_ATTRIBUTE, {}).get("N")
            if expires is not None and float(expires) <= now:
                key = {k: item[k] for k in (n.PARTITION_KEY, n.SORT_KEY)}
                dynamodb.delete_item(TableName=table, Key=key)
                deleted += 1
    return deleted


@pytest.fixture
def dynamodb(aws: None) -> DynamoDBClient:
    result: DynamoDBClient = client("dynamodb")
    return result


@pytest.fixture
def table(dynamodb: DynamoDBClient) -> str:
    """The skybinder table, made as dynamo_schema describes it."""
    return create_table(dynamodb, TABLE)


# -- ECS ------------------------------------------------------------------------------------


@contextmanager
def _ecs_tasks_advance_manually() -> Iterator[None]:
    state_manager.set_transition(
        model_name="ecs::task", transition={"progression": "manual", "times": 10**6}
    )
    try:
        yield
    finally:
        state_manager.unset_transition("ecs::task")


# -- compute: CodeBuild, ECR, ECS, ALB and the functions ------------------------------------
# The deployment, the binder bootstrap_aws makes of it, and AWS's events: compute_fixtures.py
# (imported here only when used: it imports this module).


@pytest.fixture
def cloud() -> Iterator[Any]:
    """One ALB, the default capacity policy (Spot, falling back to on-demand); IAM enforced."""
    from skybinder import bootstrap_aws
    from tests.aws.compute_fixtures import deploy, make_cloud

    with mocked_aws():
        yield make_cloud(deploy())
        bootstrap_aws.use(None)


@pytest.fixture(autouse=True)
def _iam_enforced() -> Iterator[None]:
    """After each test: every Cloud it made saw only calls its roles may make."""
    yield
    import sys

    fixtures = sys.modules.get("tests.aws.compute_fixtures")
    if fixtures is not None:
        fixtures.check_clouds()


@pytest.fixture
def as_role(cloud: Any) -> Any:
    """`with as_role("reap") as binder:` runs the block as that function (Cloud.as_role)."""
    return cloud.as_role


def iam_client(cloud: Any, service: str, role: str) -> Any:
    """A client of `service` whose calls are checked as `role` (launch, build, reap, builder,
    execution), like the functions' own."""
    made = client(service)
    cloud.guard.attach(made, role, REGION)
    return made


@pytest.fixture
def clock() -> Any:
    """The event stores' clock, at T0 (tests move it): tests/aws/dynamo_event_fixtures.py."""
    from tests.aws.dynamo_event_fixtures import T0, Clock

    return Clock(T0)


@pytest.fixture
def store(dynamodb: DynamoDBClient, table: str, clock: Any) -> Any:
    """A DynamoDB store on moto's table, on `clock`; modules may define their own."""
    from skybinder.adapters.aws.dynamo_store import DynamoSessionStore

    return DynamoSessionStore(dynamodb, table, clock=clock)
