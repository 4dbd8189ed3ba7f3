"""What a test layer needs from the machine, and what happens when it is missing.

Locally a missing tool skips the tests that need it, saying how to get it. Under CI (the
environment variable CI set to true, as CI services set it) it fails them with the same
reason: a layer that cannot run there must turn the run red, never pass unseen as skips.

    chromium = requires("chromium", "apt-get install -y chromium", "chromium-browser")
    requires_that(ARCH is not None, "a Lambda architecture", f"{platform.machine()} is not one")
"""

from __future__ import annotations

import os
import shutil
from typing import NoReturn

import pytest

TRUE = frozenset({"1", "true", "yes", "on"})


def under_ci() -> bool:
    """True when the tests run under CI (CI=true), where nothing may be skipped silently."""
    return os.environ.get("CI", "").strip().lower() in TRUE


def missing(what: str, reason: str) -> NoReturn:
    """Skip the calling test (or fixture's tests) for want of `what`; fail it under CI."""
    message = f"{what} is missing: {reason}"
    if under_ci():
        pytest.fail(f"{message} (CI=true: a layer that cannot run fails the run)", pytrace=False)
    pytest.skip(message)


def requires(program: str, how: str, *aliases: str) -> str:
    """The path of `program` (or of one of its `aliases`) on PATH, else `missing` with `how`
    to install it."""
    for name in (program, *aliases):
        found = shutil.which(name)
        if found:
            return found
    missing(program, f"install it ({how}) to run these tests")


def requires_that(condition: bool, what: str, reason: str) -> None:
    """`missing(what, reason)` unless `condition` holds."""
    if not condition:
        missing(what, reason)
