"""Names the infrastructure and the runtime must agree on; tests/infra/test_names.py checks both."""

from __future__ import annotations

# The DynamoDB table (skybinder/adapters/aws/dynamo_schema.py describes its layout).
PARTITION_KEY = "pk"
SORT_KEY = "sk"
TTL_ATTRIBUTE = "expires_at"
STATUS_INDEX = "by-status"
IMAGE_INDEX = "by-image"
TASK_INDEX = "by-task"
# Every GSI the store queries: index name -> (partition key, sort key or None).
INDEXES: dict[str, tuple[str, str | None]] = {
    STATUS_INDEX: ("status_pk", "status_sk"),
    IMAGE_INDEX: ("image_pk", "image_sk"),
    TASK_INDEX: ("task_pk", None),
}
# DynamoDB types of the key attributes (S: string, N: number).
ATTRIBUTE_TYPES: dict[str, str] = {
    PARTITION_KEY: "S",
    SORT_KEY: "S",
    "status_pk": "S",
    "status_sk": "N",
    "image_pk": "S",
    "image_sk": "S",
    "task_pk": "S",
}


# CloudFront sends /s/<id>/... to load balancer i of the pool when the session id starts
# with this prefix (the first load balancer takes every other id): the runtime gives a
# session routed through load balancer i an id that starts with it.
def pool_id_prefix(index: int) -> str:
    return "" if index == 0 else f"p{index}-"


# The session container inside the task definition the runtime copies for each image.
SESSION_CONTAINER = "notebook"
SESSION_PORT = 8888
# ECR tags of the images shared by every commit with one environment start with this; the
# lifecycle policy expires them by when they were last pulled (used), not pushed.
SHARED_IMAGE_TAG_PREFIX = "skybinder-env--"

# CloudWatch metrics the functions emit (powertools, embedded metric format).
METRIC_NAMESPACE = "skybinder"
METRIC_LAUNCHES = "Launches"
METRIC_BUILDS = "Builds"
METRIC_LAUNCH_TIME = "LaunchTime"
METRIC_ACTIVE_SESSIONS = "ActiveSessions"
METRIC_FAILURES = "Failures"
METRIC_COST = "SessionCost"


class Env:
    """Environment variables of the three functions, as skybinder/bootstrap_aws.py reads them.

    Attribute X here is the runtime's `names.ENV_X`.
    """

    TABLE_NAME = "SKYBINDER_TABLE_NAME"
    CLUSTER = "SKYBINDER_CLUSTER"
    BUILD_PROJECT = "SKYBINDER_BUILD_PROJECT"
    BUILD_LOG_GROUP = "SKYBINDER_BUILD_LOG_GROUP"
    BUILD_LOG_STREAM_PREFIX = "SKYBINDER_BUILD_LOG_STREAM_PREFIX"
    IMAGE_REPOSITORY = "SKYBINDER_IMAGE_REPOSITORY"
    SESSION_TASK_DEFINITION = "SKYBINDER_SESSION_TASK_DEFINITION"
    TASK_FAMILY_PREFIX = "SKYBINDER_TASK_FAMILY_PREFIX"
    EXECUTION_ROLE_ARN = "SKYBINDER_EXECUTION_ROLE_ARN"
    SESSION_LOG_GROUP = "SKYBINDER_SESSION_LOG_GROUP"
    SUBNETS = "SKYBINDER_SUBNETS"
    SECURITY_GROUPS = "SKYBINDER_SECURITY_GROUPS"
    ASSIGN_PUBLIC_IP = "SKYBINDER_ASSIGN_PUBLIC_IP"
    VPC_ID = "SKYBINDER_VPC_ID"
    LISTENER_ARNS = "SKYBINDER_LISTENER_ARNS"
    TARGET_GROUP_PREFIX = "SKYBINDER_TARGET_GROUP_PREFIX"
    TARGET_GROUPS_PER_ALB = "SKYBINDER_TARGET_GROUPS_PER_ALB"
    PUBLIC_URL = "SKYBINDER_PUBLIC_URL"
    PUBLIC_URL_PARAMETER = "SKYBINDER_PUBLIC_URL_PARAMETER"
    GITHUB_TOKEN_SECRET = "SKYBINDER_GITHUB_TOKEN_SECRET"
    SESSION_CPU = "SKYBINDER_SESSION_CPU"
    SESSION_MEMORY = "SKYBINDER_SESSION_MEMORY"
    CAPACITY = "SKYBINDER_CAPACITY"
    MAX_SESSIONS = "SKYBINDER_MAX_SESSIONS"
    MAX_SESSIONS_PER_REPO = "SKYBINDER_MAX_SESSIONS_PER_REPO"
    IDLE_TIMEOUT = "SKYBINDER_IDLE_TIMEOUT"
    MAX_AGE = "SKYBINDER_MAX_AGE"
    LAUNCH_RATE_LIMIT = "SKYBINDER_LAUNCH_RATE_LIMIT"
    LAUNCH_RATE_WINDOW = "SKYBINDER_LAUNCH_RATE_WINDOW"
    PRICES = "SKYBINDER_PRICES"
    BUILDER_VERSION = "SKYBINDER_BUILDER_VERSION"
    BANNED_SPECS = "SKYBINDER_BANNED_SPECS"

    @classmethod
    def all(cls) -> dict[str, str]:
        """Attribute name -> variable name, for the test that compares both sides."""
        return {key: value for key, value in vars(cls).items() if key.isupper()}


# The CodeBuild build's inputs, overridden per build by StartBuild; the buildspec validates and
# uses the first three, IMAGE_KEY only rides along to the build's state-change event.
BUILD_REPO_URL = "REPO_URL"
BUILD_REF = "REF"
BUILD_IMAGE_NAME = "IMAGE_NAME"
BUILD_IMAGE_KEY = "IMAGE_KEY"  # the image's name in the store, read back from the build event
# CodeBuild names each build's log stream "<prefix>/<build uuid>".
BUILD_LOG_STREAM_PREFIX = "repo2docker"
# ALB: AWS's hard limit of target groups per load balancer (one per session).
TARGET_GROUPS_PER_ALB = 100
# ECS: the task group of a session task is "<prefix><session id>".
TASK_GROUP_PREFIX = "skybinder:"
