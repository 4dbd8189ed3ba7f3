"""What a botocore ClientError says, read without importing botocore into every adapter."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from skybinder.domain.errors import PlatformBusyError

# What AWS answers when it throttles a caller, or fails for a moment: left after botocore's
# own retries, each means "ask again later", never "this cannot be done".
TRANSIENT = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalError",
        "ServerException",
    }
)


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


@contextmanager
def busy_if_transient(what: str) -> Iterator[None]:
    """Turn a transient AWS error of the block into PlatformBusyError (saying `what` was
    being done), so the service can tell "later" from "never"."""
    try:
        yield
    except Exception as err:
        if error_code(err) not in TRANSIENT:
            raise
        raise PlatformBusyError(
            f"AWS is busy ({error_code(err)}) {what}: try again in a moment."
        ) from err
