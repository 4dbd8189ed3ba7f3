"""The session proxy's two roles, checked call by call: its task role reads and notes the
activity of sessions only (no other item of the table, no other write) and fetches its own
package only; its execution role pulls Python through the cache of ECR Public and writes the
proxy's log, nothing else. The proxy's store calls run as its role in every lifecycle test
(the prober reaches sessions through it: compute_deploy.JupyterBehindProxy)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from skybinder.adapters.aws import names as n
from skybinder.domain.model import SessionState, TaskStatus
from skybinder.service.sessions import on_task_state
from tests.aws.compute_deploy import program
from tests.aws.compute_fixtures import ACCOUNT, IMAGE, TABLE, Cloud, launch
from tests.aws.conftest import REGION, iam_client
from tests.aws.iam.requests import Call
from tests.aws.iam.roles import task_definition

S = SessionState


def proxy_container(cloud: Cloud) -> dict[str, Any]:
    definition = task_definition(program(), "-proxy")
    (container,) = json.loads(
        cloud.deployment.substitution.text(definition["containerDefinitions"])
    )
    return dict(container)


def key(partition: str, sort: str) -> dict[str, dict[str, str]]:
    return {n.PARTITION_KEY: {"S": partition}, n.SORT_KEY: {"S": sort}}


def check(cloud: Cloud, role: str, service: str, operation: str, **params: Any) -> None:
    cloud.guard.check(role, Call(service, operation, params, REGION, ACCOUNT, cloud.guard.lookup))


def test_the_proxy_routes_and_notes_activity_as_its_own_role(cloud: Cloud) -> None:
    cloud.push_image(IMAGE)
    session = launch(cloud)
    on_task_state(
        cloud.binder, session.id, session.task_id, TaskStatus.RUNNING, address="10.0.1.7:8888"
    )
    assert cloud.routed(session.id) == "10.0.1.7:8888"
    assert cloud.proxy_store.record_activity(session.id, cloud.clock.now() + 5)
    assert cloud.session(session.id).last_activity == cloud.clock.now() + 5
    assert cloud.proxy_store.route("0123456789abcdef") is None  # unknown: a read, allowed
    for action in ("dynamodb:GetItem", "dynamodb:UpdateItem"):
        (first, *_) = cloud.guard.allowed("proxy", action)
        assert first.request.context == {
            "dynamodb:LeadingKeys": [f"{n.SESSION_PREFIX}{session.id}"]
        }
    assert not cloud.guard.problems


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        # The admission counters, and the secret the launch pages' tokens are signed with.
        (
            "GetItem",
            {"Key": {n.PARTITION_KEY: {"S": n.COUNTER_PARTITION}, n.SORT_KEY: {"S": "global"}}},
        ),
        (
            "GetItem",
            {"Key": {n.PARTITION_KEY: {"S": "SECRET#build-token"}, n.SORT_KEY: {"S": "SECRET"}}},
        ),
        ("PutItem", {"Item": {n.PARTITION_KEY: {"S": "SESSION#x"}, n.SORT_KEY: {"S": "SESSION"}}}),
        (
            "DeleteItem",
            {"Key": {n.PARTITION_KEY: {"S": "SESSION#x"}, n.SORT_KEY: {"S": "SESSION"}}},
        ),
        ("Query", {"KeyConditionExpression": "pk = :p"}),
        ("Scan", {}),
    ],
)
def test_the_proxy_reads_nothing_but_sessions_and_writes_nothing_but_activity(
    cloud: Cloud, operation: str, params: dict[str, Any]
) -> None:
    dynamodb = iam_client(cloud, "dynamodb", "proxy")
    with pytest.raises(ClientError, match="AccessDenied"):
        getattr(dynamodb, _snake(operation))(TableName=TABLE, **params)
    cloud.guard.clear()


def test_the_proxy_fetches_its_own_package_only(cloud: Cloud) -> None:
    environment = {e["name"]: e["value"] for e in proxy_container(cloud)["environment"]}
    bucket, key = environment["SKYBINDER_PROXY_PACKAGE"].removeprefix("s3://").split("/", 1)
    check(cloud, "proxy", "s3", "HeadObject", Bucket=bucket, Key=key)
    check(cloud, "proxy", "s3", "GetObject", Bucket=bucket, Key=key)
    assert not cloud.guard.problems
    with pytest.raises(ClientError):
        check(cloud, "proxy", "s3", "GetObject", Bucket=bucket, Key="proxy/another.zip")
    cloud.guard.clear()


def test_the_proxys_execution_role_pulls_python_through_the_cache_and_writes_its_log(
    cloud: Cloud,
) -> None:
    container = proxy_container(cloud)
    repository = container["image"].split("/", 1)[1].rsplit(":", 1)[0]
    assert repository.endswith("/ecr-public/docker/library/python")
    check(cloud, "proxy-execution", "ecr", "GetAuthorizationToken")
    for operation in (
        "BatchGetImage",
        "GetDownloadUrlForLayer",
        "BatchCheckLayerAvailability",
        "BatchImportUpstreamImage",
        "CreateRepository",
    ):
        check(cloud, "proxy-execution", "ecr", operation, repositoryName=repository)
    options = container["logConfiguration"]["options"]
    stream = f"{options['awslogs-stream-prefix']}/proxy/0c2d8f6e"
    for operation in ("CreateLogStream", "PutLogEvents"):
        group = options["awslogs-group"]
        check(cloud, "proxy-execution", "logs", operation, logGroupName=group, logStreamName=stream)
    assert not cloud.guard.problems
    sessions = cloud.deployment.repository_uri.split("/", 1)[1]
    with pytest.raises(ClientError):  # the session images are none of its business
        check(cloud, "proxy-execution", "ecr", "BatchGetImage", repositoryName=sessions)
    cloud.guard.clear()


def _snake(operation: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in operation).lstrip("_")
