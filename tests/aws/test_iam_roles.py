"""The IAM harness itself, and the roles whose calls are not made from Python: a denied call
fails as AWS fails it and names the role, action and resource; CodeBuild's role may do what a
build does (log in, pull through the caches, push, write its log) and no more; the session
task's execution role may pull its image and write its log; the GitHub token (and its key) is
readable by the launch function only."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from skybinder.adapters.aws import names as n
from skybinder.adapters.aws.github_token import TokenReadError, read_github_token
from skybinder.adapters.aws.lazy import LazyResolver
from tests.aws.compute_fixtures import ACCOUNT, BUILD_LOGS, CLUSTER, Cloud, deploy, make_cloud
from tests.aws.conftest import REGION, iam_client, mocked_aws
from tests.aws.iam.guard import IamGuard
from tests.aws.iam.requests import Call, UnknownCallError
from tests.infra.conftest import KMS_KEY


def test_a_call_the_role_may_not_make_fails_as_in_aws_and_names_role_action_and_resource(
    cloud: Cloud,
) -> None:
    with cloud.as_role("build") as binder, pytest.raises(ClientError) as denied:
        binder.runner.held()  # the orphan sweep lists tasks: the reaper's job, not the build's
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "is not authorized to perform: ecs:ListTasks" in str(denied.value)
    (problem,) = cloud.guard.problems
    instances = f"arn:aws:ecs:{REGION}:{ACCOUNT}:container-instance/{CLUSTER}/*"
    assert problem.startswith(f"role build may NOT ecs:ListTasks on {instances}")
    with pytest.raises(AssertionError, match="role build may NOT ecs:ListTasks"):
        cloud.guard.assert_clean()
    cloud.guard.clear()  # seen: this test expected the denial


def test_a_call_the_harness_cannot_map_fails_the_test(cloud: Cloud) -> None:
    ecs = iam_client(cloud, "ecs", "reap")
    with pytest.raises(UnknownCallError, match="ecs:ListClusters"):
        ecs.list_clusters()
    assert "tests/aws/iam/requests.py" in cloud.guard.problems[0]
    cloud.guard.clear()


def test_a_client_of_a_test_is_checked_as_the_role_it_names(cloud: Cloud) -> None:
    ssm = iam_client(cloud, "ssm", "reap")
    settings = cloud.deployment.env[n.ENV_SETTINGS_PARAMETER]
    assert json.loads(ssm.get_parameter(Name=settings, WithDecryption=True)["Parameter"]["Value"])
    cloud.deployment.client("ssm").put_parameter(Name="/other/secret", Value="x", Type="String")
    with pytest.raises(ClientError, match="AccessDenied"):
        ssm.get_parameter(Name="/other/secret")
    cloud.guard.clear()


# -- the CodeBuild project's role and the execution role: calls made by CodeBuild and ECS -------


def check(cloud: Cloud, role: str, service: str, operation: str, **params: Any) -> None:
    """Authorize, as `role`, the call CodeBuild or ECS makes on its behalf."""
    lookup = cloud.guard.lookup
    cloud.guard.check(role, Call(service, operation, params, REGION, ACCOUNT, lookup))


def push(cloud: Cloud, role: str, repository: str) -> None:
    """What `docker push` asks ECR for, per the ECR API."""
    for operation in (
        "BatchCheckLayerAvailability",
        "InitiateLayerUpload",
        "UploadLayerPart",
        "CompleteLayerUpload",
        "PutImage",
    ):
        check(cloud, role, "ecr", operation, repositoryName=repository)


def pull(cloud: Cloud, role: str, repository: str) -> None:
    for operation in ("BatchGetImage", "GetDownloadUrlForLayer", "BatchCheckLayerAvailability"):
        check(cloud, role, "ecr", operation, repositoryName=repository)


def test_a_build_may_log_in_pull_through_the_cache_push_and_write_its_log(cloud: Cloud) -> None:
    project = cloud.deployment.client("codebuild").batch_get_projects(
        names=[cloud.deployment.env[n.ENV_BUILD_PROJECT]]
    )["projects"][0]
    variables = {v["name"]: v["value"] for v in _rendered_project_variables(cloud)}
    images = cloud.deployment.repository_uri.split("/", 1)[1]
    cache = variables["CACHE_REF"].split("/", 1)[1].rsplit(":", 1)[0]
    mirror = variables[n.BUILD_ECR_PUBLIC_MIRROR].split("/", 1)[1]
    check(cloud, "builder", "ecr", "GetAuthorizationToken")
    pull(cloud, "builder", f"{mirror}/docker/library/buildpack-deps")  # repo2docker's base
    base = f"{mirror}/docker/library/buildpack-deps"
    check(cloud, "builder", "ecr", "BatchImportUpstreamImage", repositoryName=base)
    check(cloud, "builder", "ecr", "CreateRepository", repositoryName=base)
    pull(cloud, "builder", cache)
    push(cloud, "builder", cache)
    push(cloud, "builder", images)
    stream = f"{project['logsConfig']['cloudWatchLogs']['streamName']}/0c2d8f6e"
    for operation in ("CreateLogStream", "PutLogEvents"):
        check(cloud, "builder", "logs", operation, logGroupName=BUILD_LOGS, logStreamName=stream)
    assert not cloud.guard.problems


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("PutImage", {"repositoryName": "someone-elses-images"}),
        ("BatchGetImage", {"repositoryName": "sb-0000aa/ecr-public/docker/library/python"}),
        ("DescribeImages", {"repositoryName": "placeholder"}),
    ],
)
def test_a_build_may_not_touch_other_repositories(
    cloud: Cloud, operation: str, params: dict[str, str]
) -> None:
    if params["repositoryName"] == "placeholder":  # reading its own repository is not a push
        params = {"repositoryName": cloud.deployment.repository_uri.split("/", 1)[1]}
    with pytest.raises(ClientError):
        check(cloud, "builder", "ecr", operation, **params)
    cloud.guard.clear()


def test_the_execution_role_pulls_the_session_image_and_writes_its_log_only(cloud: Cloud) -> None:
    images = cloud.deployment.repository_uri.split("/", 1)[1]
    template = cloud.ecs.describe_task_definition(
        taskDefinition=cloud.deployment.env[n.ENV_SESSION_TASK_DEFINITION]
    )["taskDefinition"]
    logging = template["containerDefinitions"][0]["logConfiguration"]["options"]
    check(cloud, "execution", "ecr", "GetAuthorizationToken")
    pull(cloud, "execution", images)
    stream = f"{logging['awslogs-stream-prefix']}/notebook/0c2d8f6e"
    for operation in ("CreateLogStream", "PutLogEvents"):
        group = logging["awslogs-group"]
        check(cloud, "execution", "logs", operation, logGroupName=group, logStreamName=stream)
    assert not cloud.guard.problems
    with pytest.raises(ClientError):
        push(cloud, "execution", images)
    with pytest.raises(ClientError):
        check(cloud, "execution", "ssm", "GetParameter", Name="/x")
    cloud.guard.clear()


def _rendered_project_variables(cloud: Cloud) -> list[dict[str, str]]:
    from tests.aws.compute_deploy import program

    project = program().one("codebuild/project:Project").inputs
    variables = project["environment"]["environmentVariables"]
    return [{k: cloud.deployment.substitution.text(v) for k, v in x.items()} for x in variables]


# -- the GitHub token ---------------------------------------------------------------------------


def test_only_the_launch_function_reads_the_github_token_and_its_key() -> None:
    name = "/skybinder/github-token"
    with mocked_aws():
        deployment = deploy(config={"githubTokenSecret": name, "githubTokenKmsKey": KMS_KEY})
        deployment.client("ssm").put_parameter(
            Name=name, Value="ghp_0123456789", Type="SecureString", KeyId=KMS_KEY
        )
        cloud = make_cloud(deployment)
        assert cloud.functions["launch"].settings.github_token_secret == name
        assert cloud.functions["reap"].settings.github_token_secret == ""
        resolver = LazyResolver(name, lambda service: iam_client(cloud, service, "launch"))
        assert resolver.display_configs()  # built: the token was read, and decrypted
        (decrypted,) = cloud.guard.allowed("launch", "kms:Decrypt")
        assert decrypted.request.resource == KMS_KEY
        assert decrypted.request.context == {"kms:ViaService": f"ssm.{REGION}.amazonaws.com"}
        with pytest.raises(TokenReadError, match="AccessDenied"):
            read_github_token(iam_client(cloud, "ssm", "reap"), name)
        assert cloud.guard.problems == [
            f"role reap may NOT ssm:GetParameter on arn:aws:ssm:{REGION}:{ACCOUNT}:parameter"
            f"{name} (for ssm:GetParameter: no statement allows it)"
        ]
        cloud.guard.clear()


def test_the_guard_knows_every_role_the_program_renders(cloud: Cloud) -> None:
    guard: IamGuard = cloud.guard
    assert set(guard.policies) == {
        "launch", "build", "reap", "builder", "execution", "proxy", "proxy-execution"
    }  # fmt: skip
    with pytest.raises(KeyError, match="no rendered role 'session'"):
        guard.attach(cloud.deployment.client("ssm"), "session", REGION)  # sessions have none


def test_the_as_role_fixture_runs_a_block_as_that_function(cloud: Cloud, as_role: Any) -> None:
    from skybinder import bootstrap_aws

    with as_role("reap") as binder:
        assert bootstrap_aws.current().binder is binder  # what the handlers would use
        assert binder.runner.held() == {}  # the orphan sweep's ListTasks: the reaper may
    assert cloud.guard.allowed("reap", "ecs:ListTasks")
    assert bootstrap_aws.current().binder is cloud.binder  # back to the launch function
