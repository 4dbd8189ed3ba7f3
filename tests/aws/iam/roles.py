"""The roles the Pulumi program renders, and the policy documents each one is given.

Roles by what they are for: the three functions (`launch`, `build`, `reap`, by their Lambda
function's role), the CodeBuild project's service role (`builder`), the session task
definition's execution role (`execution`), and the session proxy's task role (`proxy`: what
its code calls) and execution role (`proxy-execution`: what ECS does to start it). Each role's
documents are its inline policies, as rendered under the Pulumi mocks; `Substitution` swaps the
mocks' identifiers for the ones moto gave the same resources, so policies name what the calls
really target.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tests.infra.deployment import Deployment

ROLES = ("launch", "build", "reap", "builder", "execution", "proxy", "proxy-execution")
Document = dict[str, Any]


@dataclass(frozen=True)
class RenderedRoles:
    arns: dict[str, str]  # role -> its ARN, as rendered
    policies: dict[str, list[Document]]  # role -> its inline policy documents

    def for_role(self, role: str) -> list[Document]:
        if role not in self.policies:
            known = ", ".join(sorted(self.policies))
            raise KeyError(f"no rendered role {role!r}; the program has {known}")
        return self.policies[role]


def task_definition(deployment: Deployment, family_suffix: str) -> dict[str, Any]:
    """The inputs of the task definition whose family ends with `family_suffix`."""
    return next(
        d.inputs
        for d in deployment.of_type("ecs/taskDefinition:TaskDefinition")
        if d.inputs["family"].endswith(family_suffix)
    )


def rendered_roles(deployment: Deployment) -> RenderedRoles:
    sessions, proxy = task_definition(deployment, "-session"), task_definition(deployment, "-proxy")
    arns = {
        "launch": deployment.function("launch").inputs["role"],
        "build": deployment.function("build").inputs["role"],
        "reap": deployment.function("reap").inputs["role"],
        "builder": deployment.one("codebuild/project:Project").inputs["serviceRole"],
        "execution": sessions["executionRoleArn"],
        "proxy": proxy["taskRoleArn"],
        "proxy-execution": proxy["executionRoleArn"],
    }
    policies = {role: _inline_policies(deployment, arn) for role, arn in arns.items()}
    return RenderedRoles(arns=arns, policies=policies)


def _inline_policies(deployment: Deployment, role_arn: str) -> list[Document]:
    physical = role_arn.rsplit("/", 1)[-1]
    # The mocks name a resource as Pulumi's autonaming does: its logical name and a suffix.
    candidates = [
        r for r in deployment.of_type("iam/role:Role") if physical.startswith(f"{r.name}-")
    ]
    role = max(candidates, key=lambda r: len(r.name))
    documents = [
        json.loads(p.inputs["policy"])
        for p in deployment.of_type("iam/rolePolicy:RolePolicy")
        if p.inputs["role"] == role.id
    ]
    assert documents, f"role {role.name} has no inline policy"
    return documents


class Substitution:
    """Rendered identifier -> the identifier moto gave the same resource, applied to every
    string of a document (longest first, so that no identifier is cut by a shorter one)."""

    def __init__(self, pairs: Mapping[str, str]) -> None:
        self.pairs = sorted(
            ((a, b) for a, b in pairs.items() if a and a != b), key=lambda p: -len(p[0])
        )

    def text(self, value: str) -> str:
        for rendered, actual in self.pairs:
            value = value.replace(rendered, actual)
        return value

    def apply(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.apply(item) for item in value]
        if isinstance(value, dict):
            return {key: self.apply(item) for key, item in value.items()}
        return value

    def documents(self, documents: Iterable[Document]) -> list[Document]:
        return [self.apply(document) for document in documents]
