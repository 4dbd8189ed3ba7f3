"""ECS on Fargate (and Spot) for the sessions: the cluster, and the task definition they copy."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import iam
from skybinder.adapters.aws.names import SESSION_CONTAINER, SESSION_PORT

PULL_ACTIONS = (
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
)


@dataclass
class SessionsArgs:
    unique: str  # the stack's account-unique prefix: task definition families are account-wide
    region: str
    account: pulumi.Input[str]
    images_arn: pulumi.Input[str]
    images_url: pulumi.Input[str]
    cpu: int
    memory: int
    container_insights: bool
    log_retention_days: int


class Sessions(pulumi.ComponentResource):
    """A cluster whose tasks run with an execution role only: no task role, nothing to steal."""

    def __init__(self, name: str, args: SessionsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("skybinder:infra:Sessions", name, None, opts)
        self._base = name
        child = pulumi.ResourceOptions(parent=self)
        self.cluster = aws.ecs.Cluster(
            f"{name}-cluster",
            settings=[
                {
                    "name": "containerInsights",
                    "value": "enabled" if args.container_insights else "disabled",
                }
            ],
            opts=child,
        )
        aws.ecs.ClusterCapacityProviders(
            f"{name}-capacity",
            cluster_name=self.cluster.name,
            capacity_providers=["FARGATE", "FARGATE_SPOT"],
            default_capacity_provider_strategies=[
                {"capacity_provider": "FARGATE_SPOT", "weight": 1, "base": 0}
            ],
            opts=child,
        )
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-session-logs", retention_in_days=args.log_retention_days, opts=child
        )
        self.execution_role = iam.role(
            f"{name}-execution",
            "ecs-tasks.amazonaws.com",
            args.account,
            [
                iam.allow(PULL_ACTIONS, [args.images_arn]),
                # AWS defines no resource for this action: it can only be granted on "*".
                iam.allow(["ecr:GetAuthorizationToken"], ["*"]),
                iam.log_writer(self.log_group.arn),
            ],
            self,
        )
        self.family = f"{args.unique}-session"
        self.family_prefix = f"{self.family}-"  # the runtime's copies: <family>-<image tag>
        self.task_definition = self._task_definition(args)
        self.register_outputs(
            {"cluster_name": self.cluster.name, "task_definition": self.task_definition.arn}
        )

    def _task_definition(self, args: SessionsArgs) -> aws.ecs.TaskDefinition:
        """The template the runtime copies for each image (only the image changes)."""
        container = pulumi.Output.all(args.images_url, self.log_group.name).apply(
            lambda values: json.dumps([_container(values[0] + ":template", values[1], args)])
        )
        return aws.ecs.TaskDefinition(
            f"{self._base}-template",
            family=self.family,
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            cpu=str(args.cpu),
            memory=str(args.memory),
            execution_role_arn=self.execution_role.arn,
            # No task_role_arn: code in a session gets no AWS credentials at all.
            runtime_platform={"operating_system_family": "LINUX", "cpu_architecture": "X86_64"},
            container_definitions=container,
            opts=pulumi.ResourceOptions(parent=self),
        )


def _container(image: str, log_group: str, args: SessionsArgs) -> dict[str, object]:
    return {
        "name": SESSION_CONTAINER,
        "image": image,
        "essential": True,
        "memory": args.memory,  # container-level memory too, as RunTask on awsvpc expects
        "portMappings": [{"containerPort": SESSION_PORT, "protocol": "tcp"}],
        # Spot gives two minutes' warning; Jupyter gets all of it to save and shut down.
        "stopTimeout": 120,
        "user": "1000",  # jovyan, as repo2docker built the image; never root
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": log_group,
                "awslogs-region": args.region,
                "awslogs-stream-prefix": "session",
            },
        },
    }
