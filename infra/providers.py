"""A provider for us-east-1 (CloudFront's certificates live there) that signs in as the stack's
own provider does: the same profile, role to assume and credentials files."""

from __future__ import annotations

import re
from typing import Any

import pulumi
import pulumi_aws as aws

# `aws:` config keys that say how to sign in, read as text or as structured values.
TEXT = (
    "profile",
    "accessKey",
    "secretKey",
    "token",
    "stsRegion",
    "retryMode",
)
STRUCTURED = (
    "assumeRoles",
    "assumeRoleWithWebIdentity",
    "sharedCredentialsFiles",
    "sharedConfigFiles",
    "allowedAccountIds",
    "forbiddenAccountIds",
    "skipCredentialsValidation",
    "skipMetadataApiCheck",
    "skipRequestingAccountId",
    "maxRetries",
    "defaultTags",
)
SECRET = frozenset({"secretKey", "token"})


def inherited(config: pulumi.Config | None = None) -> dict[str, Any]:
    """The stack's sign-in settings (`aws:*` config) as aws.Provider arguments."""
    config = config or pulumi.Config("aws")
    found: dict[str, Any] = {}
    for key in TEXT:
        value = config.get_secret(key) if key in SECRET else config.get(key)
        if value is not None:
            found[_snake(key)] = value
    for key in STRUCTURED:
        structured = config.get_object(key)
        if structured is not None:
            # Nested keys stay as the config has them (camelCase): the SDK passes a plain
            # dict's keys through to the provider unchanged, and the provider reads camelCase.
            found[_snake(key)] = structured
    return found


def virginia(name: str, parent: pulumi.Resource) -> aws.Provider:
    return aws.Provider(
        name, region="us-east-1", opts=pulumi.ResourceOptions(parent=parent), **inherited()
    )


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()
