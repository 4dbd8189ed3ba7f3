"""CodeBuild: the project that runs repo2docker (images/builder/buildspec.yml) and pushes to ECR."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_aws as aws

from infra import iam
from infra.registry import DOCKER_HUB, ECR_PUBLIC
from skybinder.adapters.aws import names

IMAGES = Path(__file__).resolve().parent.parent / "images"
BUILDSPEC = IMAGES / "builder" / "buildspec.yml"
SESSION_LAUNCHER = IMAGES / "session" / "skybinder-launch"
# ECR actions a `docker push` (and a registry cache export/import) needs on one repository.
PUSH_ACTIONS = (
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
)
# What a build may do with a pull-through cache: pull, and have ECR fetch what it lacks.
MIRROR_ACTIONS = (
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
    "ecr:BatchImportUpstreamImage",
    "ecr:CreateRepository",  # ECR makes a repository per upstream image on its first pull
)
CACHE_TAG = "repo2docker"
# The BuildKit image buildx runs builds in: pulled through the Docker Hub cache, when there is
# one. (The same tag buildx itself would pull.)
BUILDKIT = "moby/buildkit:buildx-stable-1"


@dataclass
class BuilderArgs:
    account: pulumi.Input[str]
    region: str
    images_arn: pulumi.Input[str]
    images_url: pulumi.Input[str]
    cache_arn: pulumi.Input[str]
    cache_url: pulumi.Input[str]
    compute_type: str
    image: str
    timeout_minutes: int
    concurrency: int
    log_retention_days: int
    soci_version: str = ""
    soci_sha256: str = ""
    mirrors: dict[str, str] = field(default_factory=dict)  # upstream -> pull-through prefix


class Builder(pulumi.ComponentResource):
    """Privileged Docker builds outside the VPC; the role can push to the two repositories only."""

    def __init__(self, name: str, args: BuilderArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("skybinder:infra:Builder", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-builder-logs", retention_in_days=args.log_retention_days, opts=child
        )
        role = iam.role(
            f"{name}-builder-role",
            "codebuild.amazonaws.com",
            args.account,
            [
                iam.log_writer(self.log_group.arn),
                iam.allow(PUSH_ACTIONS, [args.images_arn, args.cache_arn]),
                iam.allow(MIRROR_ACTIONS, _mirror_arns(args)),
                # AWS defines no resource for this action: it can only be granted on "*".
                iam.allow(["ecr:GetAuthorizationToken"], ["*"]),
            ],
            self,
        )
        environment: aws.codebuild.ProjectEnvironmentArgsDict = {
            "type": "LINUX_CONTAINER",
            "compute_type": args.compute_type,
            "image": args.image,
            "image_pull_credentials_type": "CODEBUILD",
            "privileged_mode": True,  # Docker-in-Docker for repo2docker
            "environment_variables": _environment(args),
        }
        logs: aws.codebuild.ProjectLogsConfigArgsDict = {
            "cloudwatch_logs": {
                "status": "ENABLED",
                "group_name": self.log_group.name,
                "stream_name": names.BUILD_LOG_STREAM_PREFIX,
            },
            "s3_logs": {"status": "DISABLED"},
        }
        self.project = aws.codebuild.Project(
            f"{name}-builder",
            description="repo2docker builds of the repositories skybinder launches",
            service_role=role.arn,
            build_timeout=args.timeout_minutes,
            queued_timeout=60,
            concurrent_build_limit=args.concurrency or None,
            source={"type": "NO_SOURCE", "buildspec": BUILDSPEC.read_text(encoding="utf-8")},
            artifacts={"type": "NO_ARTIFACTS"},
            environment=environment,
            logs_config=logs,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role]),
        )
        self.register_outputs({"project_name": self.project.name, "log_group": self.log_group.name})


def _mirror_arns(args: BuilderArgs) -> list[pulumi.Output[str]]:
    return [
        pulumi.Output.concat(f"arn:aws:ecr:{args.region}:", args.account, f":repository/{prefix}/*")
        for prefix in args.mirrors.values()
    ]


def launcher_b64() -> str:
    """The session launcher every image gets (the buildspec adds it through repo2docker's
    --appendix), base64-encoded for a project variable."""
    return base64.b64encode(SESSION_LAUNCHER.read_bytes()).decode("ascii")


def builder_version() -> str:
    """The version of the image recipe: a digest of the buildspec (which pins repo2docker)
    and the launcher. The functions put it in every environment key, so a deployment with a
    new recipe builds new images instead of reusing ones made the old way."""
    digest = hashlib.sha256(BUILDSPEC.read_bytes() + b"\0" + SESSION_LAUNCHER.read_bytes())
    return digest.hexdigest()[:16]


def _mirror(args: BuilderArgs, upstream: str, image: str = "") -> pulumi.Output[str] | str:
    """`<registry>/<prefix>[/<image>]` of the pull-through cache of `upstream`, or ""."""
    prefix = args.mirrors.get(upstream)
    if prefix is None:
        return ""
    registry = pulumi.Output.from_input(args.images_url).apply(lambda url: url.split("/", 1)[0])
    return pulumi.Output.concat(registry, f"/{prefix}", f"/{image}" if image else "")


def _environment(
    args: BuilderArgs,
) -> list[aws.codebuild.ProjectEnvironmentEnvironmentVariableArgsDict]:
    return [
        _plain("IMAGE_REPOSITORY", args.images_url),
        _plain("CACHE_REF", pulumi.Output.concat(args.cache_url, f":{CACHE_TAG}")),
        # Docker's official images (repo2docker's base image) through ECR's cache of ECR Public.
        _plain(names.BUILD_ECR_PUBLIC_MIRROR, _mirror(args, ECR_PUBLIC)),
        # BuildKit through ECR's cache of Docker Hub, when the operator gave its credentials.
        _plain(names.BUILD_BUILDKIT_IMAGE, _mirror(args, DOCKER_HUB, BUILDKIT)),
        _plain("SOCI_VERSION", args.soci_version),
        _plain("SOCI_SHA256", args.soci_sha256),
        _plain("SESSION_LAUNCHER_B64", launcher_b64()),
        # Placeholders; every StartBuild overrides them.
        _plain(names.BUILD_REPO_URL, ""),
        _plain(names.BUILD_REF, ""),
        _plain(names.BUILD_IMAGE_NAME, ""),
        _plain(names.BUILD_IMAGE_KEY, ""),
    ]


def _plain(
    name: str, value: pulumi.Input[str]
) -> aws.codebuild.ProjectEnvironmentEnvironmentVariableArgsDict:
    return {"name": name, "value": value, "type": "PLAINTEXT"}
