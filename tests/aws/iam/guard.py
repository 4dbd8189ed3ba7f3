"""Enforcement: every call of a botocore session, evaluated as a role before it is sent.

`IamGuard.attach(session, role)` makes every client that session creates check each call: the
requests AWS would authorize for it (requests.py) against the role's policy documents
(policy.py). A denied call fails as AWS fails it (a ClientError `AccessDenied...`, so the code
under test takes its real error path) and is recorded; `assert_clean()` (which the fixtures
call after every test) then fails the test with the role, action and resource of each denial.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from tests.aws.iam.policy import Decision, Request, evaluate
from tests.aws.iam.requests import Call, Lookup, UnknownCallError, authorizations
from tests.aws.iam.roles import Document

# The error code each service answers a denied call with.
ACCESS_DENIED = {"s3": "AccessDenied", "ec2": "UnauthorizedOperation"}


@dataclass(frozen=True)
class Check:
    role: str
    call: str  # "ecs:RunTask", as botocore names the operation
    request: Request
    decision: Decision

    def __str__(self) -> str:
        verdict = "may" if self.decision.allowed else "may NOT"
        return (
            f"role {self.role} {verdict} {self.request} (for {self.call}: {self.decision.reason})"
        )


@dataclass
class IamGuard:
    """The rendered policies of each role, and every check made against them."""

    policies: Mapping[str, list[Document]]
    lookup: Lookup
    account: str
    checks: list[Check] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # denials and calls it cannot map
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def attach(self, target: Any, role: str, region: str) -> None:
        """Check every call of `target` (a botocore Session, before it makes its clients, or
        a client) as `role` in `region`."""
        if role not in self.policies:
            raise KeyError(f"no rendered role {role!r}; known: {', '.join(sorted(self.policies))}")
        events = target.meta.events if hasattr(target, "meta") else target
        events.register("before-parameter-build.*.*", self._hook(role, region))

    def _hook(self, role: str, region: str) -> Callable[..., None]:
        def check(params: dict[str, Any], model: Any, **_: Any) -> None:
            service = model.service_model.service_name
            call = Call(service, model.name, params, region, self.account, self.lookup)
            self.check(role, call)

        return check

    def check(self, role: str, call: Call) -> None:
        """Evaluate `call` as `role`; raise as AWS does when it is not allowed."""
        name = f"{call.service}:{call.operation}"
        try:
            requests = authorizations(call)
        except UnknownCallError as err:
            self._problem(str(err))
            raise
        for request in requests:
            decision = evaluate(self.policies[role], request)
            outcome = Check(role, name, request, decision)
            with self._lock:
                self.checks.append(outcome)
            if not decision.allowed:
                self._problem(str(outcome))
                raise _denied(call, role, request, self.account)

    def _problem(self, text: str) -> None:
        with self._lock:
            self.problems.append(text)

    def allowed(self, role: str, action: str) -> list[Check]:
        """The allowed checks of `action` made as `role` (what a test may assert on)."""
        return [
            c
            for c in self.checks
            if c.role == role and c.request.action == action and c.decision.allowed
        ]

    def assert_clean(self) -> None:
        """Fail when any call was denied (or could not be mapped) since the last clear()."""
        if self.problems:
            listing = "\n  ".join(dict.fromkeys(self.problems))
            raise AssertionError(
                "AWS would refuse calls these tests made; the roles' rendered policies (infra/"
                f"runtime.py, infra/builder.py, infra/sessions.py) must allow them:\n  {listing}"
            )

    def clear(self) -> None:
        with self._lock:
            self.checks.clear()
            self.problems.clear()


def _denied(call: Call, role: str, request: Request, account: str) -> ClientError:
    principal = f"arn:aws:sts::{account}:assumed-role/{role}/test"
    message = (
        f"User: {principal} is not authorized to perform: {request.action} on resource: "
        f"{request.resource} because no identity-based policy allows the {request.action} action"
    )
    code = ACCESS_DENIED.get(call.service, "AccessDeniedException")
    response: Any = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {}}
    return ClientError(response, call.operation)


class AccountLookup:
    """Lookup (requests.py) through unrestricted clients of the account: the operator's view."""

    def __init__(self, client: Callable[[str], Any], region: str, account: str) -> None:
        self.client = client
        self.region = region
        self.account = account

    def task_definition(self, reference: str) -> dict[str, Any]:
        try:
            found = self.client("ecs").describe_task_definition(taskDefinition=reference)
        except ClientError:  # no such definition: the call fails anyway; judge it by its name
            arn = (
                reference
                if reference.startswith("arn:")
                else self._arn("ecs", f"task-definition/{reference}")
            )
            return {"taskDefinitionArn": arn}
        return dict(found["taskDefinition"])

    def secret_arn(self, secret_id: str) -> str:
        try:
            return str(self.client("secretsmanager").describe_secret(SecretId=secret_id)["ARN"])
        except ClientError:
            return (
                secret_id
                if secret_id.startswith("arn:")
                else self._arn("secretsmanager", f"secret:{secret_id}")
            )

    def customer_key(self, service: str, name: str) -> str:
        try:
            if service == "ssm":
                found = self.client("ssm").describe_parameters(
                    ParameterFilters=[{"Key": "Name", "Values": [name]}]
                )["Parameters"]
                key = str(found[0].get("KeyId", "")) if found else ""
            else:
                key = str(
                    self.client("secretsmanager").describe_secret(SecretId=name).get("KmsKeyId", "")
                )
        except ClientError:
            return ""
        if not key or key.startswith("alias/aws/"):
            return ""  # the AWS-managed key: its key policy lets the service use it
        return key if key.startswith("arn:") else self._arn("kms", f"key/{key}")

    def scalable_target(self, namespace: str, resource_id: str, dimension: str) -> str:
        found = self.client("application-autoscaling").describe_scalable_targets(
            ServiceNamespace=namespace, ResourceIds=[resource_id], ScalableDimension=dimension
        )["ScalableTargets"]
        return str(found[0]["ScalableTargetARN"]) if found else ""

    def _arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"
