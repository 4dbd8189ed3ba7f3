"""ImageRegistry on one ECR repository: each session image is a tag derived from its name."""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

from skybinder.adapters.aws.client_errors import is_client_error

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient

MAX_TAG = 128
_NOT_TAG = re.compile(r"[^A-Za-z0-9_.-]")


def image_tag(image_name: str) -> str:
    """The ECR tag of an image: its name in tag characters, then a digest of the whole name.

    Names like `skybinder-gh-user-repo:<sha>` become `skybinder-gh-user-repo--<sha>-<digest>`;
    the digest keeps two names that clean (or cut) to the same text apart. At most 128
    characters, as ECR requires.
    """
    digest = hashlib.sha256(image_name.encode()).hexdigest()[:12]
    readable = _NOT_TAG.sub("-", image_name.replace(":", "--")).lstrip(".-")
    return f"{readable[: MAX_TAG - len(digest) - 1]}-{digest}"


class EcrRegistry:
    """Is an image there? One DescribeImages by tag."""

    def __init__(self, client: ECRClient, repository_uri: str) -> None:
        registry, _, repository = repository_uri.partition("/")
        if not repository or ".dkr.ecr." not in registry:
            raise ValueError(
                f"{repository_uri!r} is not an ECR repository URI "
                "(<account>.dkr.ecr.<region>.amazonaws.com/<name>)."
            )
        self.client = client
        self.repository_uri = repository_uri
        self.repository = repository
        self.registry_id = registry.split(".", 1)[0]

    def uri(self, image_name: str) -> str:
        """Where the image is pushed and pulled: `<repository URI>:<tag>`."""
        return f"{self.repository_uri}:{image_tag(image_name)}"

    def has(self, image_name: str) -> bool:
        try:
            self.client.describe_images(
                registryId=self.registry_id,
                repositoryName=self.repository,
                imageIds=[{"imageTag": image_tag(image_name)}],
            )
        except Exception as err:
            if is_client_error(err, "ImageNotFoundException"):
                return False
            raise  # a missing repository or a denied call is the operator's to fix: say so
        return True
