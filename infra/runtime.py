"""What the three functions get: their environment, their settings parameter, and each one's
least-privilege statements (tests/aws runs every call the functions make against them)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from infra.builder import builder_version
from infra.config import Settings
from infra.iam import Statement, allow
from skybinder.adapters.aws import names

TABLE_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",  # the admission transaction checks counters
    "dynamodb:Query",
)
# The settings that grow with the configuration, and the origin secret: in the settings
# parameter, not in the functions' environment (Lambda allows 4 KB of variables in all).
PARAMETER_SETTINGS = (
    names.ENV_PRICES,
    names.ENV_BANNED_SPECS,
    names.ENV_ORIGIN_SECRET,
)


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
    subnet_ids: Sequence[pulumi.Input[str]]
    session_security_group_id: pulumi.Input[str]
    assign_public_ip: bool
    # The session proxy's service: "service/<cluster>/<service>", its ARN, and the ARN of its
    # scalable target, whose range waking and sleeping set.
    proxy_service: pulumi.Input[str]
    proxy_service_arn: pulumi.Input[str]
    proxy_scalable_target_arn: pulumi.Input[str]

    @property
    def public_url_parameter(self) -> str:
        return f"/{self.settings.unique}/public-url"

    @property
    def settings_parameter(self) -> str:
        return f"/{self.settings.unique}/settings"

    def environment(self, *, github_token: bool = False) -> dict[str, pulumi.Input[str]]:
        """The variables of a function; only the launch function resolves specs, so only it
        is told where the GitHub token is (`github_token`)."""
        s = self.settings
        variables: dict[str, pulumi.Input[str]] = {
            names.ENV_TABLE_NAME: self.table_name,
            names.ENV_CLUSTER: self.cluster_name,
            names.ENV_BUILD_PROJECT: self.project_name,
            names.ENV_BUILD_LOG_GROUP: self.build_log_group,
            names.ENV_BUILD_LOG_STREAM_PREFIX: names.BUILD_LOG_STREAM_PREFIX,
            names.ENV_IMAGE_REPOSITORY: self.images_url,
            names.ENV_SESSION_TASK_DEFINITION: self.task_definition_arn,
            names.ENV_TASK_FAMILY_PREFIX: self.task_family,
            names.ENV_SUBNETS: pulumi.Output.all(*self.subnet_ids).apply(",".join),
            names.ENV_SECURITY_GROUPS: self.session_security_group_id,
            names.ENV_ASSIGN_PUBLIC_IP: "true" if self.assign_public_ip else "false",
            names.ENV_PROXY_SERVICE: self.proxy_service,
            names.ENV_PROXY_TASKS: str(s.proxy_tasks),
            names.ENV_PROXY_MAX_TASKS: str(s.proxy_max_tasks),
            names.ENV_PROXY_IDLE: str(s.proxy_idle_minutes * 60),
            names.ENV_IMAGE_EXPIRY_DAYS: str(s.image_expiry_days),
            # Known up front only with a custom domain; otherwise read from the parameter.
            names.ENV_PUBLIC_URL: f"https://{s.domain.name}" if s.domain else "",
            names.ENV_PUBLIC_URL_PARAMETER: self.public_url_parameter,
            names.ENV_SETTINGS_PARAMETER: self.settings_parameter,
            names.ENV_SESSION_CPU: str(s.session_cpu),
            names.ENV_SESSION_MEMORY: str(s.session_memory),
            names.ENV_CAPACITY: s.capacity,
            names.ENV_MAX_SESSIONS: str(s.max_sessions),
            names.ENV_MAX_SESSIONS_PER_REPO: str(s.max_sessions_per_repo),
            names.ENV_IDLE_TIMEOUT: str(s.idle_timeout),
            names.ENV_MAX_AGE: str(s.max_age),
            names.ENV_LAUNCH_RATE_LIMIT: str(s.launch_rate_limit),
            names.ENV_LAUNCH_RATE_WINDOW: str(s.launch_rate_window),
            # The image recipe's version: part of every environment key (shared images).
            names.ENV_BUILDER_VERSION: builder_version(),
        }
        if github_token and s.github_token_secret:
            variables[names.ENV_GITHUB_TOKEN_SECRET] = s.github_token_secret
        return variables

    def parameter_value(self, origin_secret: pulumi.Input[str]) -> pulumi.Output[str]:
        """The settings parameter: a JSON object of the PARAMETER_SETTINGS variables."""
        s = self.settings
        return pulumi.Output.from_input(origin_secret).apply(
            lambda secret: json.dumps(
                {
                    names.ENV_PRICES: json.dumps(s.prices, sort_keys=True),
                    names.ENV_BANNED_SPECS: json.dumps(list(s.banned_specs)),
                    names.ENV_ORIGIN_SECRET: secret,
                },
                sort_keys=True,
            )
        )

    def launch_statements(self) -> list[Statement]:
        """The HTTP app: admission, builds and their logs, launches (and the proxy's wake),
        admin stops."""
        return [
            self._table(),
            allow(["ecr:DescribeImages"], [self.images_arn]),
            allow(["codebuild:StartBuild"], [self.project_arn]),
            self._build_logs(),
            *self._run_tasks(),
            self._stop_tasks(),
            *self._proxy_fleet(),
            *self._settings_reads(),
            *self._github_token(),
        ]

    def build_statements(self) -> list[Statement]:
        """Build ended: task definition per image, launch the sessions that waited, start the
        next queued build, stop a server whose session ended meanwhile."""
        return [
            self._table(),
            allow(["ecr:DescribeImages"], [self.images_arn]),
            allow(["codebuild:StartBuild"], [self.project_arn]),
            self._build_logs(),
            *self._run_tasks(),
            self._stop_tasks(),
            *self._proxy_fleet(),
            *self._settings_reads(),
        ]

    def reap_statements(self) -> list[Statement]:
        """Task state changes and the sweep: servers started again (a Spot loss before ready,
        sessions left built, warm pools), queued builds started, stops of what outlived its
        session, and the session proxy woken while servers run and put to sleep when idle."""
        return [
            self._table(),
            allow(["ecr:DescribeImages"], [self.images_arn]),
            allow(["codebuild:StartBuild"], [self.project_arn]),
            *self._run_tasks(),
            self._stop_tasks(),
            self._list_tasks(),
            *self._proxy_fleet(),
            *self._settings_reads(),
        ]

    # -- statements -------------------------------------------------------------------------

    def _table(self) -> Statement:
        return allow(
            TABLE_ACTIONS, [self.table_arn, pulumi.Output.concat(self.table_arn, "/index/*")]
        )

    def _build_logs(self) -> Statement:
        # A build's log stream: <group>:log-stream:<prefix>/<build uuid>.
        return allow(["logs:GetLogEvents"], [pulumi.Output.concat(self.build_log_group_arn, ":*")])

    def _run_tasks(self) -> list[Statement]:
        # The template and the runtime's per-image copies (<prefix><tag>): the template's
        # family is their stem, unique to this stack.
        definitions = self._arn("ecs", f"task-definition/{self.task_family.rstrip('-')}*")
        on_cluster = {"ArnEquals": {"ecs:cluster": self.cluster_arn}}
        return [
            allow(["ecs:RunTask"], [definitions], on_cluster),
            allow(["ecs:RegisterTaskDefinition"], [definitions]),
            # AWS defines no resource for this read: it can only be granted on "*".
            allow(["ecs:DescribeTaskDefinition"], ["*"]),
            allow(
                ["iam:PassRole"],
                [self.execution_role_arn],
                {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
            ),
        ]

    def _stop_tasks(self) -> Statement:
        on_cluster = {"ArnEquals": {"ecs:cluster": self.cluster_arn}}
        return allow(["ecs:StopTask", "ecs:DescribeTasks"], [self._task_arns()], on_cluster)

    def _list_tasks(self) -> Statement:
        # ListTasks names no task; AWS scopes it by the cluster condition only.
        return allow(["ecs:ListTasks"], ["*"], {"ArnEquals": {"ecs:cluster": self.cluster_arn}})

    def _proxy_fleet(self) -> list[Statement]:
        """Waking and sleeping the proxy: the range of its scalable target. Application Auto
        Scaling checks that the caller may describe and update the service it scales."""
        return [
            # AWS defines no resource for this read: it can only be granted on "*".
            allow(["application-autoscaling:DescribeScalableTargets"], ["*"]),
            allow(
                ["application-autoscaling:RegisterScalableTarget"],
                [self.proxy_scalable_target_arn],
            ),
            allow(["ecs:DescribeServices", "ecs:UpdateService"], [self.proxy_service_arn]),
        ]

    def _settings_reads(self) -> list[Statement]:
        """The settings parameter (read at cold start) and the public URL's."""
        parameters = [self.settings_parameter, self.public_url_parameter]
        return [
            allow(["ssm:GetParameter"], [self._arn("ssm", f"parameter{p}") for p in parameters])
        ]

    def _github_token(self) -> list[Statement]:
        """The GitHub token where one is configured: an SSM parameter by name, or a Secrets
        Manager secret by ARN (as the runtime reads it), and its customer-managed key."""
        secret = self.settings.github_token_secret
        if not secret:
            return []
        if ":secretsmanager:" in secret:
            # A full ARN ends in Secrets Manager's 6-character suffix; a partial one does not.
            reads = [allow(["secretsmanager:GetSecretValue"], [secret, f"{secret}-??????"])]
            service = "secretsmanager"
        else:
            parameter = self._arn("ssm", f"parameter/{secret.lstrip('/')}")
            reads = [allow(["ssm:GetParameter"], [parameter])]
            service = "ssm"
        key = self.settings.github_token_kms_key
        if key:
            via = {
                "StringEquals": {
                    "kms:ViaService": f"{service}.{self.settings.region}.amazonaws.com"
                }
            }
            reads.append(allow(["kms:Decrypt"], [key], via))
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
