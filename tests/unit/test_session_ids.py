"""Session ids: random, short enough for ALB names, with an optional routing prefix."""

from __future__ import annotations

import re

import pytest

from skybinder.domain.naming import new_session_id, session_id_length


def test_an_id_without_a_prefix_is_16_hex_characters() -> None:
    ids = {new_session_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(r"[0-9a-f]{16}", i) for i in ids)
    assert session_id_length() == 16


def test_a_prefixed_id_keeps_56_random_bits_after_its_prefix() -> None:
    ids = {new_session_id("p3-") for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(r"p3-[0-9a-f]{14}", i) for i in ids)
    assert session_id_length("p3-") == 17


@pytest.mark.parametrize("prefix", ["P1-", "p1", "p/1-", "p1-x", "toolong1-"])
def test_a_prefix_that_cannot_lead_a_url_path_and_a_name_is_refused(prefix: str) -> None:
    with pytest.raises(ValueError, match="Session id prefix"):
        new_session_id(prefix)
