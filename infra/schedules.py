"""EventBridge: this project's build and this cluster's task events, and the reaper's minute."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import lambdas
from infra.config import Settings
from infra.iam import Statement
from infra.packaging import Artifact
from infra.runtime import Runtime
from skybinder.adapters.aws.names import TASK_GROUP_PREFIX

REAP_SCHEDULE = "rate(1 minute)"


def build_pattern(project_name: str) -> dict[str, object]:
    """State changes of builds of this CodeBuild project, and of no other."""
    return {
        "source": ["aws.codebuild"],
        "detail-type": ["CodeBuild Build State Change"],
        "detail": {"project-name": [project_name]},
    }


def task_pattern(cluster_arn: str) -> dict[str, object]:
    """State changes of the session tasks in this ECS cluster, and of no other (the session
    proxy's tasks run there too, in their service's group)."""
    return {
        "source": ["aws.ecs"],
        "detail-type": ["ECS Task State Change"],
        "detail": {
            "clusterArn": [cluster_arn],
            "group": [{"prefix": TASK_GROUP_PREFIX}],
        },
    }


@dataclass
class SchedulesArgs:
    settings: Settings
    runtime: Runtime
    layers: Sequence[pulumi.Input[str]]
    build_code: Artifact
    reap_code: Artifact
    settings_parameter: pulumi.Resource  # read by the functions at their first start


class Schedules(pulumi.ComponentResource):
    """The build and reap functions, and the rules that invoke them."""

    def __init__(self, name: str, args: SchedulesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("skybinder:infra:Schedules", name, None, opts)
        self._base = name
        runtime = args.runtime
        self.build = self._function("build", args.build_code, runtime.build_statements(), args)
        self.reap = self._function("reap", args.reap_code, runtime.reap_statements(), args)
        builds = pulumi.Output.from_input(runtime.project_name).apply(
            lambda project: json.dumps(build_pattern(project))
        )
        tasks = pulumi.Output.from_input(runtime.cluster_arn).apply(
            lambda cluster: json.dumps(task_pattern(cluster))
        )
        self.build_rule = self._rule("builds", self.build, event_pattern=builds)
        self.task_rule = self._rule("tasks", self.reap, event_pattern=tasks)
        self.reap_rule = self._rule("every-minute", self.reap, schedule_expression=REAP_SCHEDULE)
        self.register_outputs({"build_function": self.build.name, "reap_function": self.reap.name})

    def _function(
        self, role: str, code: Artifact, statements: list[Statement], args: SchedulesArgs
    ) -> aws.lambda_.Function:
        return lambdas.create(
            f"{self._base}-{role}",
            lambdas.FunctionSpec(
                role=role,
                handler="handler.handler",
                code=code,
                layers=list(args.layers),
                statements=statements,
                environment=args.runtime.environment(),
                timeout=300,
                memory=512,
                after=[args.settings_parameter],
            ),
            args.settings,
            args.runtime.account,
            self,
        )

    def _rule(
        self,
        role: str,
        function: aws.lambda_.Function,
        *,
        event_pattern: pulumi.Input[str] | None = None,
        schedule_expression: str | None = None,
    ) -> aws.cloudwatch.EventRule:
        """A rule that invokes `function`: on events matching a pattern, or on a schedule."""
        child = pulumi.ResourceOptions(parent=self)
        rule = aws.cloudwatch.EventRule(
            f"{self._base}-{role}",
            event_pattern=event_pattern,
            schedule_expression=schedule_expression,
            opts=child,
        )
        aws.cloudwatch.EventTarget(
            f"{self._base}-{role}-target",
            rule=rule.name,
            arn=function.arn,
            # Handlers are idempotent; an event older than an hour is history, not news.
            retry_policy={"maximum_event_age_in_seconds": 3600, "maximum_retry_attempts": 8},
            opts=child,
        )
        aws.lambda_.Permission(
            f"{self._base}-{role}-invoke",
            action="lambda:InvokeFunction",
            function=function.name,
            principal="events.amazonaws.com",
            source_arn=rule.arn,
            opts=child,
        )
        return rule
