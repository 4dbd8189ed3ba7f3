"""A test layer that cannot run skips locally, saying why, and fails the run under CI."""

from __future__ import annotations

import shutil

import pytest

from tests.requires import requires, requires_that, under_ci

MISSING = "skybinder-no-such-program"


@pytest.mark.parametrize("value", ["", "false", "0", "no"])
def test_locally_a_missing_tool_skips_with_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CI", value)
    assert not under_ci()
    with pytest.raises(pytest.skip.Exception) as skipped:
        requires(MISSING, "apt-get install it")
    assert (
        str(skipped.value)
        == f"{MISSING} is missing: install it (apt-get install it) to run these tests"
    )


@pytest.mark.parametrize("value", ["true", "TRUE", "1", "yes"])
def test_under_ci_a_missing_tool_fails_the_run(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception) as failed:
        requires(MISSING, "apt-get install it")
    assert str(failed.value).startswith(f"{MISSING} is missing: install it (apt-get install it)")
    assert "CI=true" in str(failed.value)
    with pytest.raises(pytest.fail.Exception, match="a Lambda architecture is missing: not here"):
        requires_that(False, "a Lambda architecture", "not here")


def test_a_tool_found_under_another_name_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    assert requires(MISSING, "-", "sh") == shutil.which("sh")
    requires_that(True, "anything", "-")
