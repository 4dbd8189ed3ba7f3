"""ECR: the session images, the builder's layer cache, and pull-through caches of the public
images a build pulls (so no build depends on Docker Hub's anonymous pull quota)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from skybinder.adapters.aws.names import SHARED_IMAGE_TAG_PREFIX

ECR_PUBLIC = "public.ecr.aws"  # Docker's official images are mirrored under docker/library/
DOCKER_HUB = "registry-1.docker.io"  # needs credentials: ECR pulls from it as that account


@dataclass
class RegistryArgs:
    image_expiry_days: int
    stack_hash: str  # pull-through prefixes are unique in the account's registry
    docker_hub_secret: str = ""  # ARN of an ecr-pullthroughcache/ secret; "" for none


def mirror_prefix(stack_hash: str, upstream: str) -> str:
    """The repository prefix of a pull-through cache (2-30 characters, unique per registry)."""
    name = {ECR_PUBLIC: "ecr-public", DOCKER_HUB: "docker-hub"}[upstream]
    return f"sb-{stack_hash[:6]}/{name}"


class Registry(pulumi.ComponentResource):
    """Images are scanned on push and expire after a while: an image shared by every commit
    with one environment when it has not been pulled (launched) for that long, an image of one
    commit that long after its push. The cache keeps only its latest manifests."""

    def __init__(self, name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("skybinder:infra:Registry", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.images = aws.ecr.Repository(
            f"{name}-images",
            image_scanning_configuration={"scan_on_push": True},
            # A tag names a commit, or an environment key: it never points anywhere else.
            image_tag_mutability="IMMUTABLE",
            encryption_configurations=[{"encryption_type": "AES256"}],
            force_delete=True,  # `pulumi destroy` removes the images with the repository
            opts=child,
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-images-expiry",
            repository=self.images.name,
            policy=json.dumps(
                {
                    "rules": [
                        _expire_unused(1, SHARED_IMAGE_TAG_PREFIX, args.image_expiry_days),
                        _expire_after(2, args.image_expiry_days),
                    ]
                }
            ),
            opts=child,
        )
        self.cache = aws.ecr.Repository(
            f"{name}-cache",
            image_scanning_configuration={"scan_on_push": False},
            image_tag_mutability="MUTABLE",  # the cache tag moves with every build
            encryption_configurations=[{"encryption_type": "AES256"}],
            force_delete=True,
            opts=child,
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-cache-expiry",
            repository=self.cache.name,
            policy=json.dumps({"rules": [_untagged(1)]}),
            opts=child,
        )
        self.mirrors = self._mirrors(name, args)
        self.register_outputs(
            {"images_url": self.images.repository_url, "cache_url": self.cache.repository_url}
        )

    def _mirrors(self, name: str, args: RegistryArgs) -> dict[str, str]:
        """Upstream registry -> the repository prefix that caches it in this account."""
        upstreams = {ECR_PUBLIC: ""}
        if args.docker_hub_secret:
            upstreams[DOCKER_HUB] = args.docker_hub_secret
        mirrors = {}
        for upstream, credential in upstreams.items():
            prefix = mirror_prefix(args.stack_hash, upstream)
            aws.ecr.PullThroughCacheRule(
                f"{name}-mirror-{prefix.rsplit('/', 1)[1]}",
                ecr_repository_prefix=prefix,
                upstream_registry_url=upstream,
                credential_arn=credential or None,
                opts=pulumi.ResourceOptions(parent=self),
            )
            mirrors[upstream] = prefix
        return mirrors


def _expire_unused(priority: int, prefix: str, days: int) -> dict[str, object]:
    """Shared images live while they are used: Fargate pulls the image for every session, so
    the last pull is the last launch, and the most recently used environments are kept."""
    return {
        "rulePriority": priority,
        "description": f"Shared environment images not launched for {days} days",
        "selection": {
            "tagStatus": "tagged",
            "tagPatternList": [f"{prefix}*"],
            "countType": "sinceImagePulled",
            "countUnit": "days",
            "countNumber": days,
        },
        "action": {"type": "expire"},
    }


def _expire_after(priority: int, days: int) -> dict[str, object]:
    return {
        "rulePriority": priority,
        "description": f"Images older than {days} days are rebuilt on their next launch",
        "selection": {
            "tagStatus": "any",
            "countType": "sinceImagePushed",
            "countUnit": "days",
            "countNumber": days,
        },
        "action": {"type": "expire"},
    }


def _untagged(priority: int) -> dict[str, object]:
    return {
        "rulePriority": priority,
        "description": "Cache manifests replaced by a newer build",
        "selection": {
            "tagStatus": "untagged",
            "countType": "sinceImagePushed",
            "countUnit": "days",
            "countNumber": 1,
        },
        "action": {"type": "expire"},
    }
