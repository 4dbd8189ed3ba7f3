"""The shared build-token key: made once, the same for every instance, random per table."""

from __future__ import annotations

from typing import Any

from skybinder.adapters.aws.dynamo_schema import create_table
from skybinder.adapters.aws.dynamo_secret import shared_secret
from tests.threads import each, race


def test_every_caller_gets_the_one_secret(dynamodb: Any, table: str) -> None:
    got = each(race(8, lambda _: shared_secret(dynamodb, table, "build-token")))
    assert len(got) == 8 and len(set(got)) == 1 and len(got[0]) >= 48
    assert shared_secret(dynamodb, table, "other") != got[0]
    other_table = create_table(dynamodb, "another-binder")
    assert shared_secret(dynamodb, other_table, "build-token") != got[0]
