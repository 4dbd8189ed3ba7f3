"""Session ids: random, and safe as a URL path segment."""

from __future__ import annotations

import re

from skybinder.domain.naming import new_session_id
from skybinder.proxy.ids import SESSION_ID


def test_an_id_is_16_hex_characters_and_never_repeats() -> None:
    ids = {new_session_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(r"[0-9a-f]{16}", i) for i in ids)


def test_every_id_is_one_the_session_proxy_accepts() -> None:
    assert all(SESSION_ID.fullmatch(new_session_id()) for _ in range(50))
