"""What AWS authorizes for each call: the action, the ARN the call really targets, and the
condition keys AWS puts in the request's context (the Service Authorization Reference).

`authorizations(call)` answers for every operation the functions make. An operation it does not
know raises UnknownCallError, which fails the test: a new call needs its line here before it
can pass, so nothing reaches AWS unchecked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from skybinder.adapters.aws.names import PARTITION_KEY
from tests.aws.iam.policy import Request

ECS_TASKS = "ecs-tasks.amazonaws.com"


class UnknownCallError(AssertionError):
    """The harness cannot tell what a call targets; add the operation to OPERATIONS."""


class Lookup(Protocol):
    """What a mapping may need to read from the account (as an administrator would)."""

    def task_definition(self, reference: str) -> dict[str, Any]:
        """DescribeTaskDefinition's `taskDefinition` for a family, family:revision or ARN."""
        ...

    def secret_arn(self, secret_id: str) -> str:
        """The full ARN of a Secrets Manager secret given by name or (partial) ARN."""
        ...

    def customer_key(self, service: str, name: str) -> str:
        """The ARN of the customer-managed KMS key that encrypts SSM parameter or secret
        `name` ("" when it has none, or uses the account's AWS-managed key)."""
        ...

    def scalable_target(self, namespace: str, resource_id: str, dimension: str) -> str:
        """The ARN of the scalable target registered for the resource ("" when none is)."""
        ...


@dataclass(frozen=True)
class Call:
    service: str  # botocore's service name: "ecs", "elbv2", "dynamodb", ...
    operation: str  # "RunTask"
    params: dict[str, Any]  # as the caller passed them
    region: str
    account: str
    lookup: Lookup

    def arn(self, service: str, resource: str, *, region: bool = True) -> str:
        return f"arn:aws:{service}:{self.region if region else ''}:{self.account}:{resource}"


Mapping = Callable[[Call], list[Request]]


def authorizations(call: Call) -> list[Request]:
    """The requests AWS authorizes for `call`; [] for calls that need no permission."""
    mapping = OPERATIONS.get(call.service, {}).get(call.operation)
    if mapping is None:
        raise UnknownCallError(
            f"the IAM harness does not know what {call.service}:{call.operation} targets: add "
            "it to OPERATIONS in tests/aws/iam/requests.py (see the Service Authorization "
            "Reference for its resource type and condition keys)"
        )
    return mapping(call)


def _simple(action: str, resource: Callable[[Call], str]) -> Mapping:
    return lambda call: [Request(action, resource(call))]


def _everything(action: str) -> Mapping:
    """An action AWS defines no resource type for: it is authorized on "*"."""
    return lambda call: [Request(action, "*")]


# -- DynamoDB ----------------------------------------------------------------------------------


def _table(call: Call, name: str, index: str | None = None) -> str:
    if name.startswith("arn:"):
        return name
    return call.arn("dynamodb", f"table/{name}" + (f"/index/{index}" if index else ""))


def _leading_keys(key: dict[str, Any] | None) -> dict[str, list[str]]:
    """dynamodb:LeadingKeys: the partition key value of a request on one item."""
    value = (key or {}).get(PARTITION_KEY, {}).get("S")
    return {"dynamodb:LeadingKeys": [value]} if value is not None else {}


def _table_action(action: str) -> Mapping:
    def mapping(c: Call) -> list[Request]:
        table = _table(c, c.params["TableName"], c.params.get("IndexName"))
        item = c.params.get("Key") or c.params.get("Item")
        return [Request(action, table, _leading_keys(item))]

    return mapping


def _batch(action: str) -> Mapping:
    return lambda c: [Request(action, _table(c, name)) for name in c.params["RequestItems"]]


# A transaction is authorized item by item, each as the single-item action it performs.
_TRANSACT = {
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "Get": "dynamodb:GetItem",
}


def _transact(call: Call) -> list[Request]:
    requests = []
    for item in call.params["TransactItems"]:
        ((kind, body),) = item.items()
        keys = _leading_keys(body.get("Key") or body.get("Item"))
        requests.append(Request(_TRANSACT[kind], _table(call, body["TableName"]), keys))
    return requests


# -- ECS ---------------------------------------------------------------------------------------


def _cluster(call: Call) -> str:
    cluster = call.params.get("cluster", "default")
    return cluster if cluster.startswith("arn:") else call.arn("ecs", f"cluster/{cluster}")


def _task(call: Call, task: str) -> str:
    if task.startswith("arn:"):
        return task
    return call.arn("ecs", f"task/{_cluster(call).rsplit('/', 1)[-1]}/{task}")


def _run_task(call: Call) -> list[Request]:
    definition = call.lookup.task_definition(call.params["taskDefinition"])
    on_cluster = {"ecs:cluster": _cluster(call)}
    requests = [Request("ecs:RunTask", definition["taskDefinitionArn"], on_cluster)]
    # Starting a task passes the task definition's roles to ECS.
    for role in ("executionRoleArn", "taskRoleArn"):
        if definition.get(role):
            requests.append(
                Request("iam:PassRole", definition[role], {"iam:PassedToService": ECS_TASKS})
            )
    overrides = call.params.get("overrides", {})
    for role in ("executionRoleArn", "taskRoleArn"):
        if overrides.get(role):
            requests.append(
                Request("iam:PassRole", overrides[role], {"iam:PassedToService": ECS_TASKS})
            )
    if call.params.get("tags") or call.params.get("propagateTags"):
        task = call.arn("ecs", f"task/{_cluster(call).rsplit('/', 1)[-1]}/*")
        requests.append(Request("ecs:TagResource", task, {"ecs:CreateAction": "RunTask"}))
    return requests


def _register(call: Call) -> list[Request]:
    definition = call.arn("ecs", f"task-definition/{call.params['family']}:*")
    requests = [Request("ecs:RegisterTaskDefinition", definition)]
    if call.params.get("tags"):
        context = {"ecs:CreateAction": "RegisterTaskDefinition"}
        requests.append(Request("ecs:TagResource", definition, context))
    return requests


def _on_tasks(action: str) -> Mapping:
    def mapping(call: Call) -> list[Request]:
        tasks = call.params.get("tasks") or [call.params["task"]]
        context = {"ecs:cluster": _cluster(call)}
        return [Request(action, _task(call, task), context) for task in tasks]

    return mapping


def _list_tasks(call: Call) -> list[Request]:
    # ListTasks names no task: AWS authorizes it on the cluster's container instances.
    cluster = _cluster(call)
    instances = call.arn("ecs", f"container-instance/{cluster.rsplit('/', 1)[-1]}/*")
    return [Request("ecs:ListTasks", instances, {"ecs:cluster": cluster})]


def _service(call: Call, resource_id: str) -> str:
    """arn:aws:ecs:...:service/<cluster>/<service> of "service/<cluster>/<service>"."""
    return call.arn("ecs", resource_id)


def _register_scalable_target(call: Call) -> list[Request]:
    """Application Auto Scaling also checks, with the caller's own permissions, that the caller
    may act on the resource it scales ("Permissions validation for Application Auto Scaling
    API calls on target resources"): for an ECS service, describe and update it."""
    namespace, resource = call.params["ServiceNamespace"], call.params["ResourceId"]
    target = call.lookup.scalable_target(namespace, resource, call.params["ScalableDimension"])
    requests = [Request("application-autoscaling:RegisterScalableTarget", target or "*")]
    if namespace == "ecs":
        service = _service(call, resource)
        requests += [
            Request("ecs:DescribeServices", service),
            Request("ecs:UpdateService", service),
        ]
    return requests


def _ecs_services(action: str) -> Mapping:
    def mapping(call: Call) -> list[Request]:
        cluster = _cluster(call).rsplit("/", 1)[-1]
        names = call.params.get("services") or [call.params["service"]]
        return [
            Request(action, n if n.startswith("arn:") else _service(call, f"service/{cluster}/{n}"))
            for n in names
        ]

    return mapping


def _object(action: str) -> Mapping:
    return lambda c: [Request(action, f"arn:aws:s3:::{c.params['Bucket']}/{c.params['Key']}")]


# -- ECR, CodeBuild, Logs, SSM, Secrets Manager --------------------------------------------------


def _repository(call: Call) -> str:
    account = call.params.get("registryId", call.account)
    return f"arn:aws:ecr:{call.region}:{account}:repository/{call.params['repositoryName']}"


def _project(call: Call, name: str) -> str:
    return name if name.startswith("arn:") else call.arn("codebuild", f"project/{name}")


def _builds(action: str) -> Mapping:
    return lambda c: [
        Request(action, _project(c, build.rsplit(":", 1)[0].rsplit("/", 1)[-1]))
        for build in c.params.get("ids") or [c.params["id"]]
    ]


def _log_group(call: Call, stream: str = "") -> str:
    group = call.arn("logs", f"log-group:{call.params['logGroupName']}")
    return f"{group}:log-stream:{stream}" if stream else group


def _parameter(call: Call, name: str) -> str:
    return name if name.startswith("arn:") else call.arn("ssm", f"parameter/{name.lstrip('/')}")


def _decrypt(call: Call, service: str, name: str) -> list[Request]:
    """Reading a value encrypted with a customer-managed key also decrypts with that key."""
    key = call.lookup.customer_key(service, name)
    via = {"kms:ViaService": f"{service}.{call.region}.amazonaws.com"}
    return [Request("kms:Decrypt", key, via)] if key else []


def _get_parameter(call: Call) -> list[Request]:
    name = call.params["Name"]
    requests = [Request("ssm:GetParameter", _parameter(call, name))]
    if call.params.get("WithDecryption"):
        requests += _decrypt(call, "ssm", name)
    return requests


def _get_secret(call: Call) -> list[Request]:
    secret = call.lookup.secret_arn(call.params["SecretId"])
    return [
        Request("secretsmanager:GetSecretValue", secret),
        *_decrypt(call, "secretsmanager", secret),
    ]


OPERATIONS: dict[str, dict[str, Mapping]] = {
    "dynamodb": {
        **{
            op: _table_action(f"dynamodb:{op}")
            for op in ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan")
        },
        "DescribeTable": _table_action("dynamodb:DescribeTable"),
        "BatchGetItem": _batch("dynamodb:BatchGetItem"),
        "BatchWriteItem": _batch("dynamodb:BatchWriteItem"),
        "TransactWriteItems": _transact,
        "TransactGetItems": _transact,
    },
    "ecs": {
        "RunTask": _run_task,
        "RegisterTaskDefinition": _register,
        "DescribeTaskDefinition": _everything("ecs:DescribeTaskDefinition"),
        "StopTask": _on_tasks("ecs:StopTask"),
        "DescribeTasks": _on_tasks("ecs:DescribeTasks"),
        "ListTasks": _list_tasks,
        "DescribeServices": _ecs_services("ecs:DescribeServices"),
        "UpdateService": _ecs_services("ecs:UpdateService"),
    },
    "application-autoscaling": {
        # AWS defines no resource type for this read.
        "DescribeScalableTargets": _everything("application-autoscaling:DescribeScalableTargets"),
        "RegisterScalableTarget": _register_scalable_target,
    },
    # HeadObject is authorized as s3:GetObject.
    "s3": {"GetObject": _object("s3:GetObject"), "HeadObject": _object("s3:GetObject")},
    "ecr": {
        op: _simple(f"ecr:{op}", _repository)
        for op in (
            "DescribeImages",
            "BatchGetImage",
            "BatchCheckLayerAvailability",
            "GetDownloadUrlForLayer",
            "InitiateLayerUpload",
            "UploadLayerPart",
            "CompleteLayerUpload",
            "PutImage",
            "BatchImportUpstreamImage",
            "CreateRepository",
        )
    }
    | {"GetAuthorizationToken": _everything("ecr:GetAuthorizationToken")},
    "codebuild": {
        "StartBuild": _simple(
            "codebuild:StartBuild", lambda c: _project(c, c.params["projectName"])
        ),
        "BatchGetBuilds": _builds("codebuild:BatchGetBuilds"),
        "StopBuild": _builds("codebuild:StopBuild"),
    },
    "logs": {
        "GetLogEvents": lambda c: [
            Request("logs:GetLogEvents", _log_group(c, c.params["logStreamName"]))
        ],
        "FilterLogEvents": _simple("logs:FilterLogEvents", _log_group),
        "CreateLogStream": lambda c: [
            Request("logs:CreateLogStream", _log_group(c, c.params["logStreamName"]))
        ],
        "PutLogEvents": lambda c: [
            Request("logs:PutLogEvents", _log_group(c, c.params["logStreamName"]))
        ],
    },
    "ssm": {
        "GetParameter": _get_parameter,
        "GetParameters": lambda c: [
            Request("ssm:GetParameters", _parameter(c, name)) for name in c.params["Names"]
        ],
    },
    "secretsmanager": {
        "GetSecretValue": _get_secret,
    },
    "sts": {"GetCallerIdentity": lambda c: []},  # needs no permission
}
