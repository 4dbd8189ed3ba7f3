"""The EventBridge events of tests/events/*.json, filled in as AWS would fill them, and the
Lambda context the functions are called with."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.aws.compute_deploy import ACCOUNT, PROJECT
from tests.aws.conftest import REGION

EVENTS = Path(__file__).parent.parent / "events"


def load_event(name: str) -> dict[str, Any]:
    return dict(json.loads((EVENTS / f"{name}.json").read_text()))


def build_event(name: str, build_id: str, overrides: list[dict[str, str]]) -> dict[str, Any]:
    """A CodeBuild event of build `build_id` (`<project>:<uuid>`), whose environment holds the
    overrides its StartBuild gave (moto keeps none, AWS reports them)."""
    event = load_event(name)
    arn = f"arn:aws:codebuild:{REGION}:{ACCOUNT}:build/{build_id}"
    event["resources"] = [arn]
    detail = event["detail"]
    detail["build-id"], detail["project-name"] = arn, PROJECT
    detail["additional-information"]["environment"]["environment-variables"] = [
        {"name": v["name"], "type": v["type"], "value": v["value"]} for v in overrides
    ]
    return event


def described_phases(detail: dict[str, Any]) -> list[dict[str, Any]]:
    """A build event's phases as BatchGetBuilds describes them (contexts as objects)."""
    phases = []
    for phase in detail["additional-information"].get("phases", []):
        contexts = []
        for context in phase.get("phase-context", []):
            code, _, message = context.partition(": ")
            contexts.append({"statusCode": code, "message": message})
        described = {"phaseType": phase["phase-type"], "contexts": contexts}
        if "phase-status" in phase:
            described["phaseStatus"] = phase["phase-status"]
        phases.append(described)
    return phases


def task_event(name: str, task: dict[str, Any]) -> dict[str, Any]:
    """An ECS event about `task` (as DescribeTasks describes it): its ids and its address."""
    event = load_event(name)
    event["resources"] = [task["taskArn"]]
    detail = event["detail"]
    detail.update(
        taskArn=task["taskArn"],
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
        container["taskArn"] = task["taskArn"]
    return event


@dataclass
class LambdaContext:
    """What powertools reads from the Lambda context."""

    function_name: str
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"
