"""What the three functions get: their environment, and each one's least-privilege statements."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from infra.builder import builder_version
from infra.config import Settings
from infra.iam import Statement, allow
from infra.names import BUILD_LOG_STREAM_PREFIX, TARGET_GROUPS_PER_ALB, Env

TABLE_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",  # the admission transaction checks counters
    "dynamodb:Query",
)
ROUTE_ACTIONS = (
    "elasticloadbalancing:CreateTargetGroup",
    "elasticloadbalancing:DeleteTargetGroup",
    "elasticloadbalancing:ModifyTargetGroupAttributes",
    "elasticloadbalancing:RegisterTargets",
    "elasticloadbalancing:DeregisterTargets",
    "elasticloadbalancing:AddTags",
)
RULE_ACTIONS = (
    "elasticloadbalancing:CreateRule",
    "elasticloadbalancing:DeleteRule",
    "elasticloadbalancing:SetRulePriorities",
    "elasticloadbalancing:AddTags",
)
# Actions for which AWS defines no resource type: they can only be granted on "*".
UNSCOPED_READS = (
    "elasticloadbalancing:DescribeRules",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetHealth",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeLoadBalancers",
)
UNSCOPED_TASK_DEFINITIONS = ("ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition")


@dataclass
class Runtime:
    """Names and ARNs of everything the functions touch, all from the other components."""

    settings: Settings
    account: pulumi.Input[str]
    table_name: pulumi.Input[str]
    table_arn: pulumi.Input[str]
    cluster_name: pulumi.Input[str]
    cluster_arn: pulumi.Input[str]
    project_name: pulumi.Input[str]
    project_arn: pulumi.Input[str]
    build_log_group: pulumi.Input[str]
    build_log_group_arn: pulumi.Input[str]
    images_url: pulumi.Input[str]
    images_arn: pulumi.Input[str]
    task_definition_arn: pulumi.Input[str]
    task_family: str
    execution_role_arn: pulumi.Input[str]
    session_log_group: pulumi.Input[str]
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    session_security_group_id: pulumi.Input[str]
    assign_public_ip: bool
    listener_arns: Sequence[pulumi.Input[str]]

    @property
    def public_url_parameter(self) -> str:
        return f"/{self.settings.prefix}/public-url"

    @property
    def target_group_prefix(self) -> str:
        return f"{self.settings.prefix}-"

    def environment(self) -> dict[str, pulumi.Input[str]]:
        s = self.settings
        return {
            Env.TABLE_NAME: self.table_name,
            Env.CLUSTER: self.cluster_name,
            Env.BUILD_PROJECT: self.project_name,
            Env.BUILD_LOG_GROUP: self.build_log_group,
            Env.BUILD_LOG_STREAM_PREFIX: BUILD_LOG_STREAM_PREFIX,
            Env.IMAGE_REPOSITORY: self.images_url,
            Env.SESSION_TASK_DEFINITION: self.task_definition_arn,
            Env.TASK_FAMILY_PREFIX: self.task_family,
            Env.EXECUTION_ROLE_ARN: self.execution_role_arn,
            Env.SESSION_LOG_GROUP: self.session_log_group,
            Env.VPC_ID: self.vpc_id,
            Env.SUBNETS: pulumi.Output.all(*self.subnet_ids).apply(",".join),
            Env.SECURITY_GROUPS: self.session_security_group_id,
            Env.ASSIGN_PUBLIC_IP: "true" if self.assign_public_ip else "false",
            Env.LISTENER_ARNS: pulumi.Output.all(*self.listener_arns).apply(",".join),
            Env.TARGET_GROUP_PREFIX: self.target_group_prefix,
            Env.TARGET_GROUPS_PER_ALB: str(TARGET_GROUPS_PER_ALB),
            # Known up front only with a custom domain; otherwise read from the parameter.
            Env.PUBLIC_URL: f"https://{s.domain.name}" if s.domain else "",
            Env.PUBLIC_URL_PARAMETER: self.public_url_parameter,
            Env.GITHUB_TOKEN_SECRET: s.github_token_secret,
            Env.SESSION_CPU: str(s.session_cpu),
            Env.SESSION_MEMORY: str(s.session_memory),
            Env.CAPACITY: s.capacity,
            Env.MAX_SESSIONS: str(s.max_sessions),
            Env.MAX_SESSIONS_PER_REPO: str(s.max_sessions_per_repo),
            Env.IDLE_TIMEOUT: str(s.idle_timeout),
            Env.MAX_AGE: str(s.max_age),
            Env.LAUNCH_RATE_LIMIT: str(s.launch_rate_limit),
            Env.LAUNCH_RATE_WINDOW: str(s.launch_rate_window),
            Env.PRICES: json.dumps(s.prices, sort_keys=True),
            Env.BANNED_SPECS: json.dumps(list(s.banned_specs)),
            Env.BUILDER_VERSION: builder_version(),
        }

    def launch_statements(self) -> list[Statement]:
        """The HTTP app: admission, builds and their logs, cached launches, admin stop."""
        return [
            self._table(),
            allow(["ecr:DescribeImages"], [self.images_arn]),
            allow(["codebuild:StartBuild", "codebuild:BatchGetBuilds"], [self.project_arn]),
            self._build_logs(),
            *self._run_tasks(),
            self._stop_tasks(),
            *self._routes(),
            *self._settings_reads(),
        ]

    def build_statements(self) -> list[Statement]:
        """Build finished: task definition per image, then launch the sessions that waited."""
        return [
            self._table(),
            allow(["ecr:DescribeImages"], [self.images_arn]),
            allow(["codebuild:BatchGetBuilds"], [self.project_arn]),
            self._build_logs(),
            *self._run_tasks(),
            *self._routes(),
            *self._settings_reads(),
        ]

    def reap_statements(self) -> list[Statement]:
        """Task state changes and the sweep: routes in and out, stop what outlived its session."""
        return [
            self._table(),
            self._stop_tasks(),
            self._list_tasks(),
            *self._routes(),
            *self._settings_reads(),
        ]

    # -- statements -------------------------------------------------------------------------

    def _table(self) -> Statement:
        return allow(
            TABLE_ACTIONS, [self.table_arn, pulumi.Output.concat(self.table_arn, "/index/*")]
        )

    def _build_logs(self) -> Statement:
        return allow(
            ["logs:GetLogEvents", "logs:FilterLogEvents"],
            [self.build_log_group_arn, pulumi.Output.concat(self.build_log_group_arn, ":*")],
        )

    def _run_tasks(self) -> list[Statement]:
        # The runtime's per-image copies (<prefix><tag>); the template's family is their stem.
        stem = self.task_family.rstrip("-")
        definitions = self._arn("ecs", f"task-definition/{stem}*:*")
        on_cluster = {"ArnEquals": {"ecs:cluster": self.cluster_arn}}
        return [
            allow(["ecs:RunTask"], [definitions], on_cluster),
            allow(
                ["ecs:TagResource"],
                [self._task_arns(), definitions],
                {"StringEquals": {"ecs:CreateAction": ["RunTask", "RegisterTaskDefinition"]}},
            ),
            allow(UNSCOPED_TASK_DEFINITIONS, ["*"]),
            allow(
                ["iam:PassRole"],
                [self.execution_role_arn],
                {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
            ),
        ]

    def _stop_tasks(self) -> Statement:
        return allow(["ecs:StopTask", "ecs:DescribeTasks"], [self._task_arns()])

    def _list_tasks(self) -> Statement:
        # ListTasks names no task; AWS scopes it by the cluster condition only.
        return allow(["ecs:ListTasks"], ["*"], {"ArnEquals": {"ecs:cluster": self.cluster_arn}})

    def _routes(self) -> list[Statement]:
        groups = self._arn("elasticloadbalancing", f"targetgroup/{self.target_group_prefix}*/*")
        rules = [pulumi.Output.from_input(arn).apply(_rules_of) for arn in self.listener_arns]
        return [
            allow(ROUTE_ACTIONS, [groups]),
            allow(RULE_ACTIONS, [*self.listener_arns, *rules]),
            allow(UNSCOPED_READS, ["*"]),
        ]

    def _settings_reads(self) -> list[Statement]:
        """The public URL's parameter, and the GitHub token where one is configured: an SSM
        parameter by name, or a Secrets Manager secret by ARN (as the runtime reads it)."""
        public_url = self._arn("ssm", f"parameter{self.public_url_parameter}")
        reads = [allow(["ssm:GetParameter"], [public_url])]
        secret = self.settings.github_token_secret
        if ":secretsmanager:" in secret:
            # A full ARN ends in Secrets Manager's 6-character suffix; a partial one does not.
            reads.append(allow(["secretsmanager:GetSecretValue"], [secret, f"{secret}-??????"]))
        elif secret:
            parameter = self._arn("ssm", f"parameter/{secret.lstrip('/')}")
            reads.append(allow(["ssm:GetParameter"], [parameter]))
        return reads

    def _task_arns(self) -> pulumi.Output[str]:
        return pulumi.Output.concat(
            "arn:aws:ecs:",
            self.settings.region,
            ":",
            self.account,
            ":task/",
            self.cluster_name,
            "/*",
        )

    def _arn(self, service: str, resource: str) -> pulumi.Output[str]:
        return pulumi.Output.concat(
            f"arn:aws:{service}:{self.settings.region}:", self.account, f":{resource}"
        )


def _rules_of(listener_arn: str) -> str:
    """arn:...:listener/app/n/id/lid -> arn:...:listener-rule/app/n/id/lid/* (its rules)."""
    return listener_arn.replace(":listener/", ":listener-rule/", 1) + "/*"
