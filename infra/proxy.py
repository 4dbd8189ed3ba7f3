"""The session proxy's ECS service: one routing tier for every session, asleep when idle.

No image is built for it and no docker is needed on the operator's machine: its tasks run a
stock Python image (Docker's official one, through the deployment's ECR cache of ECR Public),
whose command (images/proxy/boot.py) fetches the proxy's package from this component's bucket
with the task's role, checks it against the digest `pulumi up` uploaded, and runs
`python -m skybinder.proxy`. The package is the functions' dependencies, built for the proxy's
architecture, plus skybinder (infra/packaging.py). Its tasks are ARM (Graviton: cheaper), the
first on-demand and the rest on Fargate Spot: losing a proxy task only makes browsers reconnect.

The service starts asleep (no task). The functions wake it before a session's server starts and
the reaper puts it to sleep when idle (skybinder/service/proxy_tasks.py), by setting the range of
its scalable target; within that range Application Auto Scaling follows the load balancer's
requests and connections per task.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from infra import iam, proxy_scaling
from infra.packaging import PYTHON, Artifact
from skybinder.adapters.aws.names import (
    ENV_TABLE_NAME,
    PROXY_CONTAINER,
    PROXY_PORT,
    SESSION_PREFIX,
)

BOOT = Path(__file__).resolve().parent.parent / "images" / "proxy" / "boot.py"
# Docker's official Python image of the version the package is built for, as ECR Public
# mirrors it (pulled through the deployment's cache of ECR Public).
PYTHON_IMAGE = f"docker/library/python:{PYTHON}-slim"
ARCHITECTURE = "ARM64"
PACKAGE_ARCHITECTURE = "arm64"  # infra/packaging.py's name for it
CPU, MEMORY = 256, 512  # 1,000 WebSockets through one proxy take ~110 MB (bench/)
PULL_ACTIONS = (
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
    "ecr:BatchImportUpstreamImage",  # a pull through the cache fetches what it lacks
    "ecr:CreateRepository",  # ECR makes a repository per upstream image on its first pull
)


@dataclass
class ProxyArgs:
    unique: str
    region: str
    account: pulumi.Input[str]
    cluster_arn: pulumi.Input[str]
    cluster_name: pulumi.Input[str]
    table_name: pulumi.Input[str]
    table_arn: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    assign_public_ip: bool
    target_group_arn: pulumi.Input[str]
    listener: pulumi.Resource  # the service registers with the target group once it forwards
    load_balancer_suffix: pulumi.Input[str]  # app/<name>/<id>
    request_label: pulumi.Input[str]  # app/<name>/<id>/targetgroup/<name>/<id>
    registry: pulumi.Input[str]  # <account>.dkr.ecr.<region>.amazonaws.com
    ecr_public_mirror: str  # the repository prefix of the deployment's cache of ECR Public
    package: Artifact
    log_retention_days: int
    spot: bool = True


class Proxy(pulumi.ComponentResource):
    def __init__(self, name: str, args: ProxyArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("skybinder:infra:Proxy", name, None, opts)
        self._base, self._args = name, args
        child = pulumi.ResourceOptions(parent=self)
        self.bucket, self.package_key = self._package()
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs", retention_in_days=args.log_retention_days, opts=child
        )
        self.execution_role = iam.role(
            f"{name}-execution",
            "ecs-tasks.amazonaws.com",
            args.account,
            [
                iam.allow(
                    PULL_ACTIONS, [self._arn("ecr", f"repository/{args.ecr_public_mirror}/*")]
                ),
                # AWS defines no resource for this action: it can only be granted on "*".
                iam.allow(["ecr:GetAuthorizationToken"], ["*"]),
                iam.log_writer(self.log_group.arn),
            ],
            self,
        )
        self.task_role = iam.role(
            f"{name}-task", "ecs-tasks.amazonaws.com", args.account, self._task_statements(), self
        )
        self.task_definition = self._task_definition()
        self.service = self._service()
        self.resource_id = pulumi.Output.concat(
            "service/", args.cluster_name, "/", self.service.name
        )
        self.scalable_target = proxy_scaling.scale(
            f"{name}-scaling", self, self.resource_id, args.load_balancer_suffix, args.request_label
        )
        self.register_outputs(
            {"service": self.service.name, "scalable_target": self.scalable_target.arn}
        )

    def _package(self) -> tuple[aws.s3.Bucket, str]:
        """A private bucket holding the package, under a key that changes with its contents
        (so a new package is a new task definition: ECS rolls the proxy onto it)."""
        child = pulumi.ResourceOptions(parent=self)
        bucket = aws.s3.Bucket(f"{self._base}-packages", force_destroy=True, opts=child)
        aws.s3.BucketPublicAccessBlock(
            f"{self._base}-packages-private",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketPolicy(
            f"{self._base}-packages-tls",
            bucket=bucket.id,
            policy=bucket.arn.apply(_tls_only),
            opts=child,
        )
        package = self._args.package
        key = f"proxy/{package.path.name}"
        aws.s3.BucketObjectv2(
            f"{self._base}-package",
            bucket=bucket.id,
            key=key,
            source=pulumi.FileAsset(str(package.path)),
            server_side_encryption="AES256",
            opts=child,
        )
        return bucket, key

    def _task_statements(self) -> list[iam.Statement]:
        """Read a session's route and note its activity, and nothing else of the table (its
        counters, events, rate windows and secrets are other partitions); read its package."""
        sessions_only = {
            "ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{SESSION_PREFIX}*"]}
        }
        return [
            iam.allow(
                ["dynamodb:GetItem", "dynamodb:UpdateItem"], [self._args.table_arn], sessions_only
            ),
            iam.allow(
                ["s3:GetObject"], [pulumi.Output.concat(self.bucket.arn, "/", self.package_key)]
            ),
        ]

    def _task_definition(self) -> aws.ecs.TaskDefinition:
        args = self._args
        image = pulumi.Output.concat(args.registry, f"/{args.ecr_public_mirror}/{PYTHON_IMAGE}")
        container = pulumi.Output.all(
            image, self.log_group.name, self.bucket.bucket, args.table_name
        ).apply(lambda v: json.dumps([self._container(v[0], v[1], v[2], v[3])]))
        return aws.ecs.TaskDefinition(
            f"{self._base}-definition",
            family=f"{args.unique}-proxy",
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            cpu=str(CPU),
            memory=str(MEMORY),
            execution_role_arn=self.execution_role.arn,
            task_role_arn=self.task_role.arn,  # the proxy runs no user code (DESIGN.md §2)
            runtime_platform={"operating_system_family": "LINUX", "cpu_architecture": ARCHITECTURE},
            container_definitions=container,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _container(self, image: str, logs: str, bucket: str, table: str) -> dict[str, object]:
        args = self._args
        return {
            "name": PROXY_CONTAINER,
            "image": image,
            "essential": True,
            "command": [
                "python",
                "-c",
                BOOT.read_text(encoding="utf-8"),
                *("--host", "0.0.0.0", "--port", str(PROXY_PORT), "--trust-forwarded"),
            ],
            "environment": [
                {"name": k, "value": v}
                for k, v in {
                    ENV_TABLE_NAME: table,
                    "SKYBINDER_PROXY_PACKAGE": f"s3://{bucket}/{self.package_key}",
                    "SKYBINDER_PROXY_SHA256": args.package.hexdigest,
                    "AWS_DEFAULT_REGION": args.region,
                    "PYTHONUNBUFFERED": "1",
                }.items()
            ],
            "user": "65534",  # nobody: the image's root is not needed to serve a port > 1024
            "portMappings": [{"containerPort": PROXY_PORT, "protocol": "tcp"}],
            # SIGTERM: WebSockets close with 1001, open requests get 10 s, activity is written.
            "stopTimeout": 30,
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": logs,
                    "awslogs-region": args.region,
                    "awslogs-stream-prefix": "proxy",
                },
            },
        }

    def _service(self) -> aws.ecs.Service:
        args = self._args
        strategy: list[aws.ecs.ServiceCapacityProviderStrategyArgsDict] = (
            [
                {"capacity_provider": "FARGATE", "base": 1, "weight": 0},
                {"capacity_provider": "FARGATE_SPOT", "weight": 1},
            ]
            if args.spot
            else [{"capacity_provider": "FARGATE", "weight": 1}]
        )
        return aws.ecs.Service(
            f"{self._base}-service",
            cluster=args.cluster_arn,
            task_definition=self.task_definition.arn,
            desired_count=0,  # asleep until a launch wakes it
            capacity_provider_strategies=strategy,
            network_configuration={
                "subnets": list(args.subnet_ids),
                "security_groups": [args.security_group_id],
                "assign_public_ip": args.assign_public_ip,
            },
            load_balancers=[
                {
                    "target_group_arn": args.target_group_arn,
                    "container_name": PROXY_CONTAINER,
                    "container_port": PROXY_PORT,
                }
            ],
            health_check_grace_period_seconds=60,
            deployment_circuit_breaker={"enable": True, "rollback": True},
            wait_for_steady_state=False,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[args.listener],
                # The task count belongs to Application Auto Scaling and the functions.
                ignore_changes=["desiredCount"],
            ),
        )

    def _arn(self, service: str, resource: str) -> pulumi.Output[str]:
        return pulumi.Output.concat(
            f"arn:aws:{service}:{self._args.region}:", self._args.account, f":{resource}"
        )


def _tls_only(bucket_arn: str) -> str:
    """Refuse every request to the bucket that does not come over TLS."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "TlsOnly",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket_arn, f"{bucket_arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )
