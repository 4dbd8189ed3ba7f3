"""Task definitions per image: copies of the deployment's session task definition, each with
its own image and never a task role."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from skybinder.adapters.aws import names
from skybinder.adapters.aws.client_errors import error_code
from skybinder.adapters.aws.ecr_registry import image_tag
from skybinder.domain.errors import LaunchError

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient

log = logging.getLogger(__name__)
# What a copy takes from the template. Never `taskRoleArn`: a session runs code anyone can
# write, and a task role would hand it the role's credentials through the metadata endpoint.
COPIED = (
    "containerDefinitions",
    "executionRoleArn",
    "networkMode",
    "requiresCompatibilities",
    "cpu",
    "memory",
    "runtimePlatform",
    "ephemeralStorage",
    "volumes",
)
_NOT_FAMILY = re.compile(r"[^A-Za-z0-9_-]")


def family_name(prefix: str, image_name: str) -> str:
    """The task definition family of an image (letters, digits, `-`, `_`; ≤ 255)."""
    return (prefix + _NOT_FAMILY.sub("-", image_tag(image_name)))[:255]


class TaskDefinitions:
    """Finds or registers the task definition of an image; the template is read once."""

    def __init__(
        self,
        client: ECSClient,
        template: str,
        family_prefix: str,
        image_uri: Callable[[str], str],
    ) -> None:
        self.client = client
        self.template = template
        self.family_prefix = family_prefix
        self.image_uri = image_uri
        self._template: dict[str, Any] | None = None

    def prepare(self, image_name: str) -> str:
        """The ARN of the image's task definition, registered when missing or stale."""
        family = family_name(self.family_prefix, image_name)
        uri = self.image_uri(image_name)
        current = self._describe(family)
        if current is not None and _image(current) == uri and not current.get("taskRoleArn"):
            return str(current["taskDefinitionArn"])
        definition = self._copy(family, uri)
        registered = self.client.register_task_definition(**definition)
        arn = str(registered["taskDefinition"]["taskDefinitionArn"])
        log.info("registered %s for image %s", arn, image_name)
        return arn

    def _describe(self, task_definition: str) -> dict[str, Any] | None:
        try:
            found = self.client.describe_task_definition(taskDefinition=task_definition)
        except Exception as err:
            if error_code(err) == "ClientException":  # ECS's answer for "no such family"
                return None
            raise
        return dict(found["taskDefinition"])

    def _copy(self, family: str, uri: str) -> dict[str, Any]:
        if self._template is None:
            template = self._describe(self.template)
            if template is None:
                raise LaunchError(
                    f"The session task definition {self.template} does not exist. The "
                    "operator should check the deployment."
                )
            if template.get("taskRoleArn"):
                log.warning("%s has a task role; session tasks never get one", self.template)
            self._template = template
        copy: dict[str, Any] = {key: self._template[key] for key in COPIED if key in self._template}
        containers = [dict(container) for container in copy.get("containerDefinitions", [])]
        session = [c for c in containers if c.get("name") == names.SESSION_CONTAINER]
        if not session:
            raise LaunchError(
                f"The session task definition {self.template} has no container named "
                f"{names.SESSION_CONTAINER!r}. The operator should check the deployment."
            )
        session[0]["image"] = uri
        return {**copy, "family": family, "containerDefinitions": containers}


def _image(definition: dict[str, Any]) -> str:
    for container in definition.get("containerDefinitions", []):
        if container.get("name") == names.SESSION_CONTAINER:
            return str(container.get("image", ""))
    return ""
