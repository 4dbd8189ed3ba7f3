"""A CodeBuild build's end as its "Build State Change" event tells it and as BatchGetBuilds
tells it, in the same words: which image, which claim, succeeded or why not.

The image's name and its claim ride along as the build's environment overrides (IMAGE_KEY,
CLAIM), so either source names the build's image record and the claim it was started for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from skybinder.adapters.aws import names
from skybinder.adapters.aws.ecs_tasks import Detail, NameValue
from skybinder.service.ports import BuildInfo, BuildStatus

FAILED_BUILD = frozenset({"FAILED", "FAULT", "STOPPED", "TIMED_OUT"})


class BuildEnvironment(Detail):
    variables: list[NameValue] = Field(default_factory=list, alias="environment-variables")


class BuildPhase(Detail):
    phase_type: str = Field("", alias="phase-type")
    phase_status: str = Field("", alias="phase-status")
    phase_context: list[str] = Field(default_factory=list, alias="phase-context")


class BuildInformation(Detail):
    environment: BuildEnvironment = Field(default_factory=BuildEnvironment)
    phases: list[BuildPhase] = Field(default_factory=list)


class BuildDetail(Detail):
    build_status: str = Field(alias="build-status")
    build_id: str = Field(alias="build-id")
    project_name: str = Field("", alias="project-name")
    info: BuildInformation = Field(default_factory=BuildInformation, alias="additional-information")


@dataclass(frozen=True)
class BuildOutcome:
    image_name: str
    build_id: str  # as StartBuild returned it: `<project>:<uuid>`
    ok: bool
    summary: str
    claim: str = ""  # the image record's claim the build was started for


def build_outcome(detail: BuildDetail) -> BuildOutcome | None:
    """The end of a build, or None for a build still running or not one of ours."""
    variables = {v.name: v.value for v in detail.info.environment.variables}
    image = variables.get(names.BUILD_IMAGE_KEY, "")
    info = _info(detail.build_status, detail.info.phases, variables)
    if not image or info.status not in {BuildStatus.SUCCEEDED, BuildStatus.FAILED}:
        return None
    build_id = detail.build_id.rsplit(":build/", 1)[-1]
    ok = info.status == BuildStatus.SUCCEEDED
    return BuildOutcome(image, build_id, ok=ok, summary=info.reason, claim=info.claim)


def build_info(build: Mapping[str, Any]) -> BuildInfo:
    """A build as BatchGetBuilds describes it (camelCase keys, contexts as objects)."""
    environment = build.get("environment") or {}
    variables = {
        str(v.get("name", "")): str(v.get("value", ""))
        for v in environment.get("environmentVariables") or []
    }
    phases = [
        BuildPhase.model_validate(
            {
                "phase-type": p.get("phaseType", ""),
                "phase-status": p.get("phaseStatus", ""),
                "phase-context": [
                    f"{c.get('statusCode', '')}: {c.get('message', '')}"
                    for c in p.get("contexts") or []
                ],
            }
        )
        for p in build.get("phases") or []
    ]
    return _info(str(build.get("buildStatus", "")), phases, variables)


def _info(status: str, phases: list[BuildPhase], variables: Mapping[str, str]) -> BuildInfo:
    status = status.upper()
    claim = variables.get(names.BUILD_CLAIM_KEY, "")
    if status == "SUCCEEDED":
        return BuildInfo(status=BuildStatus.SUCCEEDED, claim=claim)
    if status in FAILED_BUILD:
        return BuildInfo(status=BuildStatus.FAILED, reason=_failure(status, phases), claim=claim)
    return BuildInfo(status=BuildStatus.RUNNING, claim=claim)


def _failure(status: str, phases: list[BuildPhase]) -> str:
    if status == "TIMED_OUT":
        return "the build took longer than the builder allows."
    if status == "STOPPED":
        return "the build was stopped."
    failed = next((p for p in phases if p.phase_status not in {"", "SUCCEEDED"}), None)
    if failed is None:
        return f"the builder reported {status}."
    context = "; ".join(c for c in failed.phase_context if c)[:500]
    where = f"in its {failed.phase_type} phase"
    return f"the build failed {where}: {context}" if context else f"the build failed {where}."
