"""The GitHub token in AWS: read from SSM Parameter Store or Secrets Manager with a given client.

The client is passed in (boto3 is imported by whoever creates it), so this module imports no
AWS library itself and the rest of skybinder does not need one to import it.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from skybinder.domain.errors import SkybinderError

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_ssm import SSMClient

log = logging.getLogger(__name__)
MISSING = {"ParameterNotFound", "ResourceNotFoundException"}
JSON_KEYS = ("github_token", "token")


class TokenReadError(SkybinderError):
    """The token's parameter or secret exists (or may) but cannot be read."""


def read_github_token(client: SSMClient | SecretsManagerClient, name: str) -> str | None:
    """The token stored under `name`, or None when there is no such parameter or secret.

    With an SSM client `name` is a parameter (String or SecureString, decrypted); with a
    Secrets Manager client it is a secret id or ARN whose value is the token itself or a JSON
    object with a "github_token" (or "token") key. Raises TokenReadError for anything else
    (no permission, throttling, a JSON secret without the key), naming what to check.
    """
    service = client.meta.service_model.service_name
    try:
        if service == "ssm":
            value = _ssm_value(client, name)
        elif service == "secretsmanager":
            value = _secret_value(client, name)
        else:
            raise TokenReadError(f"Cannot read a GitHub token with a {service} client.")
    except Exception as err:
        code = _error_code(err)
        if code in MISSING:
            log.warning("no GitHub token: %s %s does not exist", service, name)
            return None
        if code is None:
            raise
        raise TokenReadError(
            f"Could not read the GitHub token from {service} {name} ({code}). Check that it "
            "exists in this region and that the function's role may read (and decrypt) it."
        ) from err
    token = value.strip()
    return token or None


def _ssm_value(client: Any, name: str) -> str:
    answer = client.get_parameter(Name=name, WithDecryption=True)
    return str(answer["Parameter"]["Value"])


def _secret_value(client: Any, name: str) -> str:
    text = str(client.get_secret_value(SecretId=name).get("SecretString") or "")
    if not text.lstrip().startswith("{"):
        return text
    try:
        data = json.loads(text)
    except ValueError:
        return text
    for key in JSON_KEYS:
        if isinstance(data, dict) and isinstance(data.get(key), str):
            return str(data[key])
    raise TokenReadError(
        f"The secret {name} is a JSON object without a {' or '.join(map(repr, JSON_KEYS))} key."
    )


def _error_code(err: Exception) -> str | None:
    """The AWS error code of a botocore ClientError, None for any other exception."""
    response = getattr(err, "response", None)
    if not isinstance(response, dict):
        return None
    code = response.get("Error", {}).get("Code")
    return str(code) if code else None
