"""Names the runtime and the infrastructure must agree on: the table's keys, indexes and variables.

The one source of truth for both sides: infra/ imports this module (and nothing else of the
package), so it imports nothing but the standard library. The table layout that uses these
names is described in skybinder/adapters/aws/dynamo_schema.py.
"""

from __future__ import annotations

# -- the table ------------------------------------------------------------------------------
PARTITION_KEY = "pk"  # S: "<TYPE>#<id>", e.g. "SESSION#<id>"
SORT_KEY = "sk"  # S: the item's type within its partition, e.g. "SESSION"
TTL_ATTRIBUTE = "expires_at"  # N, epoch seconds: ended sessions and rate-limit windows

# Sessions by state, oldest first; and every event, by start time.
STATUS_INDEX = "by-status"
STATUS_INDEX_PARTITION_KEY = "status_pk"  # S: "SESSION#<state>", or EVENT_STATUS_PARTITION
STATUS_INDEX_SORT_KEY = "status_sk"  # N: created_at of a session, starts_at of an event

# Sessions of one image, by state (the build function finds the sessions waiting for a build).
IMAGE_INDEX = "by-image"
IMAGE_INDEX_PARTITION_KEY = "image_pk"  # S: "SESSION#<image name>"
IMAGE_INDEX_SORT_KEY = "image_sk"  # S: the session's state

# The session of an ECS task (sparse: only sessions with a task carry the attribute).
TASK_INDEX = "by-task"
TASK_INDEX_PARTITION_KEY = "task_pk"  # S: the task id (its ARN in AWS)

# Key attribute -> DynamoDB type (S: string, N: number), for the table and its indexes.
ATTRIBUTE_TYPES: dict[str, str] = {
    PARTITION_KEY: "S",
    SORT_KEY: "S",
    STATUS_INDEX_PARTITION_KEY: "S",
    STATUS_INDEX_SORT_KEY: "N",
    IMAGE_INDEX_PARTITION_KEY: "S",
    IMAGE_INDEX_SORT_KEY: "S",
    TASK_INDEX_PARTITION_KEY: "S",
}
# Every GSI the store queries: index name -> (partition key, sort key or None).
INDEXES: dict[str, tuple[str, str | None]] = {
    STATUS_INDEX: (STATUS_INDEX_PARTITION_KEY, STATUS_INDEX_SORT_KEY),
    IMAGE_INDEX: (IMAGE_INDEX_PARTITION_KEY, IMAGE_INDEX_SORT_KEY),
    TASK_INDEX: (TASK_INDEX_PARTITION_KEY, None),
}

# -- item types: the prefixes of partition keys, and sort keys -------------------------------
SESSION_PREFIX = "SESSION#"
SESSION_SORT = "SESSION"
IMAGE_PREFIX = "IMAGE#"
IMAGE_SORT = "IMAGE"
COUNTER_PARTITION = "COUNTER"  # one partition, so that the repair pass can list every counter
COUNTER_GLOBAL = "global"  # sort key of the counter of all active sessions
COUNTER_REPO_PREFIX = "repo#"  # sort key "repo#<repo_key>": active sessions of one repository
RATE_PREFIX = "RATE#"
RATE_SORT = "RATE"
EVENT_PREFIX = "EVENT#"  # pk "EVENT#<slug>": a workshop event with its counters
EVENT_SORT = "EVENT"
IMAGE_STATUS_PARTITION = "IMAGE"  # status_pk of every image record: listing them is one Query
EVENT_STATUS_PARTITION = "EVENT"  # status_pk of every event: listing them is one Query
# One item marks the session proxy awake (attribute AWAKE_ATTRIBUTE present) or asleep: the
# admission of a session that starts at once checks it, the reaper's sleep removes it.
PROXY_PARTITION = "PROXY"
PROXY_SORT = "PROXY"

# -- non-key attributes the adapters write beside the model's own fields ---------------------
KIND_ATTRIBUTE = "kind"  # "session", "image", "counter", "rate", "event"
REVISION_ATTRIBUTE = "revision"  # N: bumped by every write of a session (optimistic locking)
COUNT_ATTRIBUTE = "count"  # N: counters and rate-limit windows
RESET_ATTRIBUTE = "reset"  # N, epoch seconds: when a rate-limit window ends
# An event's counters (N; money in micro-dollars), moved by the transactions that admit and
# settle its sessions. `available` is budget_micros - spent - reserved, kept as a number of
# its own because a condition expression can compare but not subtract.
SEATS_USED_ATTRIBUTE = "seats_used"  # admitted sessions that are active
RESERVED_ATTRIBUTE = "reserved"  # the reservations they hold
SPENT_ATTRIBUTE = "spent"  # the settled costs of admitted sessions that ended
AVAILABLE_ATTRIBUTE = "available"
SESSIONS_ATTRIBUTE = "sessions"  # sessions ever admitted
INTERRUPTIONS_ATTRIBUTE = "interruptions"  # Spot interruptions its admitted sessions met
CHANGED_AT_ATTRIBUTE = "changed_at"  # N, epoch seconds: the last write that moved a counter
AWAKE_ATTRIBUTE = "awake"  # N, epoch seconds: when the session proxy was last marked awake

# -- environment variables of the AWS functions ----------------------------------------------
ENV_TABLE_NAME = "SKYBINDER_TABLE_NAME"  # every function: the DynamoDB table
ENV_LAUNCH_RATE_LIMIT = "SKYBINDER_LAUNCH_RATE_LIMIT"  # launch: launches per window per IP (0: off)
ENV_LAUNCH_RATE_WINDOW = "SKYBINDER_LAUNCH_RATE_WINDOW"  # launch: the window, in seconds

# == compute: CodeBuild, ECR, ECS, the session proxy (read by skybinder/bootstrap_aws.py) ====
ENV_CLUSTER = "SKYBINDER_CLUSTER"  # the ECS cluster sessions run in
ENV_BUILD_PROJECT = "SKYBINDER_BUILD_PROJECT"  # the CodeBuild project that runs repo2docker
ENV_BUILD_LOG_GROUP = "SKYBINDER_BUILD_LOG_GROUP"  # where the project writes build logs
ENV_BUILD_LOG_STREAM_PREFIX = "SKYBINDER_BUILD_LOG_STREAM_PREFIX"  # the project's stream prefix
ENV_IMAGE_REPOSITORY = "SKYBINDER_IMAGE_REPOSITORY"  # ECR repository URI of session images
# A task definition (family or ARN) with the session container; each image gets a copy of it
# with its own image, and never a task role.
ENV_SESSION_TASK_DEFINITION = "SKYBINDER_SESSION_TASK_DEFINITION"
ENV_TASK_FAMILY_PREFIX = "SKYBINDER_TASK_FAMILY_PREFIX"  # families of the per-image copies
ENV_SUBNETS = "SKYBINDER_SUBNETS"  # comma-separated subnet ids for session tasks
ENV_SECURITY_GROUPS = "SKYBINDER_SECURITY_GROUPS"  # comma-separated security group ids
ENV_ASSIGN_PUBLIC_IP = "SKYBINDER_ASSIGN_PUBLIC_IP"  # "true": tasks get a public IP (no NAT)
ENV_CAPACITY = "SKYBINDER_CAPACITY"  # "spot-fallback" (default), "spot" or "on-demand"
ENV_PRICES = "SKYBINDER_PRICES"  # JSON: the cost model's prices per hour (infra/config.py)
ENV_SESSION_CPU = "SKYBINDER_SESSION_CPU"  # a session's CPU units (1024 = 1 vCPU), for its cost
ENV_SESSION_MEMORY = "SKYBINDER_SESSION_MEMORY"  # a session's memory in MiB, for its cost
# The session proxy's ECS service, as Application Auto Scaling names it
# ("service/<cluster>/<service>"): the functions wake it (tasks >= ENV_PROXY_TASKS) before a
# server starts, and the reaper puts it to sleep (no task) once no session has been admitted
# or ended for ENV_PROXY_IDLE seconds. "": no proxy service to tend (it runs elsewhere).
ENV_PROXY_SERVICE = "SKYBINDER_PROXY_SERVICE"
ENV_PROXY_TASKS = "SKYBINDER_PROXY_TASKS"  # tasks while awake: autoscaling's floor
ENV_PROXY_MAX_TASKS = "SKYBINDER_PROXY_MAX_TASKS"  # autoscaling's ceiling
ENV_PROXY_IDLE = "SKYBINDER_PROXY_IDLE"  # seconds without admissions or ends before it sleeps
# Days after which ECR's lifecycle policy may expire an image (infra/registry.py): a record of
# an image built more recently than that is proof enough that the image is there.
ENV_IMAGE_EXPIRY_DAYS = "SKYBINDER_IMAGE_EXPIRY_DAYS"
ENV_PUBLIC_URL = (
    "SKYBINDER_PUBLIC_URL"  # where users reach /s/<id>/, e.g. https://d1.cloudfront.net
)
ENV_PUBLIC_URL_PARAMETER = "SKYBINDER_PUBLIC_URL_PARAMETER"  # or: an SSM parameter holding it
# The version of the image recipe (the buildspec and the session launcher): part of every
# environment key, so images built another way are never shared. "" turns sharing off.
ENV_BUILDER_VERSION = "SKYBINDER_BUILDER_VERSION"
ENV_GITHUB_TOKEN_SECRET = "SKYBINDER_GITHUB_TOKEN_SECRET"  # SSM parameter or secret (optional)
ENV_MAX_SESSIONS = "SKYBINDER_MAX_SESSIONS"
ENV_MAX_SESSIONS_PER_REPO = "SKYBINDER_MAX_SESSIONS_PER_REPO"
ENV_IDLE_TIMEOUT = "SKYBINDER_IDLE_TIMEOUT"  # seconds without activity before Jupyter exits
ENV_MAX_AGE = "SKYBINDER_MAX_AGE"  # seconds a session may live
ENV_BANNED_SPECS = "SKYBINDER_BANNED_SPECS"  # JSON list of regexes of specs that may not launch
# The secret CloudFront adds to every request it sends to the API (ORIGIN_SECRET_HEADER): the
# launch function refuses requests without it, so only traffic through CloudFront reaches it.
ENV_ORIGIN_SECRET = "SKYBINDER_ORIGIN_SECRET"
# Settings that grow with the configuration (prices, banned specs) and secrets
# live in one SSM parameter, read once per cold start: a JSON object whose keys are the ENV_*
# names above. A variable set in the environment wins over the same key in the parameter.
ENV_SETTINGS_PARAMETER = "SKYBINDER_SETTINGS_PARAMETER"

# The origin secret's header, and the header CloudFront sets to the viewer's "address:port".
ORIGIN_SECRET_HEADER = "x-skybinder-origin"
VIEWER_ADDRESS_HEADER = "cloudfront-viewer-address"

# The CodeBuild build's inputs, set per build by StartBuild's environment overrides and read
# by the buildspec as quoted variables (never pasted into a command line).
BUILD_REPO_URL = "REPO_URL"  # what repo2docker fetches
BUILD_REF = "REF"  # the resolved ref to check out
BUILD_IMAGE_NAME = "IMAGE_NAME"  # the full reference to push: <repository URI>:<tag>
BUILD_IMAGE_KEY = "IMAGE_KEY"  # the image's name in the store; the build function reads it back
# Set per project by the infrastructure: where the build pulls public images from.
BUILD_ECR_PUBLIC_MIRROR = "ECR_PUBLIC_MIRROR"  # <registry>/<prefix>: ECR's cache of ECR Public
BUILD_BUILDKIT_IMAGE = "BUILDKIT_IMAGE"  # BuildKit through ECR's cache of Docker Hub, or ""

# CodeBuild names each build's log stream "<prefix>/<build uuid>".
BUILD_LOG_STREAM_PREFIX = "repo2docker"

# ECS: the session container of the task definition, its port, and the prefix of the task
# group that carries the session id (so task events and the orphan sweep map back to it).
SESSION_CONTAINER = "notebook"
SESSION_PORT = 8888
# The launcher every session image holds (images/session/skybinder-launch): it fetches the
# launched commit into the home directory, then starts Jupyter; it exits with this code when
# the fetch fails.
SESSION_LAUNCHER = "/usr/local/bin/skybinder-launch"
FETCH_FAILED_EXIT = 86
# ECR tags of environment-keyed images start with this (image_tag of "skybinder-env:<key>"):
# the registry's lifecycle policy keeps the recently pulled ones.
SHARED_IMAGE_TAG_PREFIX = "skybinder-env--"
TASK_GROUP_PREFIX = "skybinder:"

# The session proxy (skybinder/proxy): its container, the port it listens on behind the load
# balancer, and the health endpoint the load balancer checks.
PROXY_CONTAINER = "proxy"
PROXY_PORT = 8080
PROXY_HEALTH_PATH = "/_proxy/health"


# CloudWatch metrics the functions emit (embedded metric format); the dashboard shows them.
METRIC_NAMESPACE = "skybinder"
METRIC_BUILDS = "Builds"
METRIC_LAUNCHES = "Launches"  # launches that reached `ready`
METRIC_LAUNCH_TIME = "LaunchTime"  # milliseconds from request to `ready`
METRIC_ACTIVE_SESSIONS = "ActiveSessions"  # sessions holding a slot, every reaper minute
METRIC_COST = "SessionCost"  # USD settled by sessions as they end
METRIC_FAILURES = "Failures"
METRIC_TASK_EVENTS = "TaskEvents"
METRIC_SPOT_INTERRUPTIONS = "SpotInterruptions"
METRIC_REAPED = "Reaped"
METRIC_IGNORED = "IgnoredEvents"  # events the functions were sent but do not act on
