"""One Lambda function with its own log group and role; used by the API and the schedules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from infra import iam
from infra.config import Settings
from infra.packaging import RUNTIME, Artifact
from skybinder.adapters.aws.names import METRIC_NAMESPACE


@dataclass
class FunctionSpec:
    role: str  # launch, build or reap: also the powertools service name
    handler: str
    code: Artifact
    layers: Sequence[pulumi.Input[str]]
    statements: Sequence[iam.Statement]
    environment: Mapping[str, pulumi.Input[str]]
    timeout: int = 60
    memory: int = 512
    extra_environment: Mapping[str, str] = field(default_factory=dict)
    # What must exist before the function may run (its settings parameter).
    after: Sequence[pulumi.Resource] = ()


def create(
    name: str,
    spec: FunctionSpec,
    settings: Settings,
    account: pulumi.Input[str],
    parent: pulumi.Resource,
) -> aws.lambda_.Function:
    child = pulumi.ResourceOptions(parent=parent)
    logs = aws.cloudwatch.LogGroup(
        f"{name}-logs", retention_in_days=settings.log_retention_days, opts=child
    )
    statements = [iam.log_writer(logs.arn), *spec.statements]
    if settings.tracing:
        # X-Ray defines no resource types: these can only be granted on "*".
        statements.append(iam.allow(["xray:PutTraceSegments", "xray:PutTelemetryRecords"], ["*"]))
    role = iam.role(f"{name}-role", "lambda.amazonaws.com", account, statements, parent)
    environment = {
        **spec.environment,
        "POWERTOOLS_SERVICE_NAME": spec.role,
        "POWERTOOLS_METRICS_NAMESPACE": METRIC_NAMESPACE,
        "POWERTOOLS_TRACE_DISABLED": "false" if settings.tracing else "true",
        **spec.extra_environment,
    }
    return aws.lambda_.Function(
        name,
        runtime=RUNTIME,
        architectures=[settings.lambda_architecture],
        handler=spec.handler,
        code=pulumi.FileArchive(str(spec.code.path)),
        source_code_hash=spec.code.sha256,
        layers=list(spec.layers),
        role=role.arn,
        timeout=spec.timeout,
        memory_size=spec.memory,
        environment={"variables": environment},
        logging_config={"log_format": "Text", "log_group": logs.name},
        tracing_config={"mode": "Active" if settings.tracing else "PassThrough"},
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[logs, role, *spec.after]),
    )
