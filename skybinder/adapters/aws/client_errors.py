"""What a botocore ClientError says, read without importing botocore into every adapter."""

from __future__ import annotations


def error_code(err: BaseException) -> str:
    """The AWS error code of a botocore ClientError ("" for any other exception)."""
    response = getattr(err, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code") or "")


def error_message(err: BaseException) -> str:
    response = getattr(err, "response", None)
    if not isinstance(response, dict):
        return str(err)
    return str(response.get("Error", {}).get("Message") or err)


def is_client_error(err: BaseException, *codes: str) -> bool:
    """True when `err` is an AWS error with one of `codes` (any code when none are given)."""
    code = error_code(err)
    return bool(code) and (not codes or code in codes)
