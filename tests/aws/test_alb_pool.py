"""AlbRouter over a pool of ALBs, on moto: a session's id names the ALB CloudFront sends it to
(infra/edge.py's path patterns), and the router places it on that ALB and no other."""

from __future__ import annotations

import dataclasses
import fnmatch
import random
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from infra.edge import session_path_pattern
from skybinder import bootstrap_aws
from skybinder.adapters.aws.alb_listeners import pool_id_prefix, pool_member
from skybinder.adapters.aws.alb_router import AlbRouter
from skybinder.domain.errors import QuotaExceededError
from skybinder.domain.model import SessionState
from skybinder.domain.naming import new_session_id
from tests.aws.compute_fixtures import IMAGE, TARGET_GROUP_PREFIX, Cloud, deploy, launch, make_cloud
from tests.aws.conftest import ApiCalls, mocked_aws


@pytest.fixture(params=[2, 3], ids=["2 ALBs", "3 ALBs"])
def pool(request: pytest.FixtureRequest) -> Iterator[Cloud]:
    with mocked_aws():
        yield make_cloud(deploy(listeners=request.param))
        bootstrap_aws.use(None)


def router(cloud: Cloud, **settings: Any) -> AlbRouter:
    """The deployment's router with other settings and a reproducible choice of priorities."""
    base = cloud.binder.router
    return AlbRouter(base.client, dataclasses.replace(base.settings, **settings), random.Random(7))


def size(cloud: Cloud) -> int:
    return len(cloud.deployment.listener_arns)


def cloudfront_origin(session_id: str, pool_size: int) -> int:
    """The ALB CloudFront sends `/s/<id>/...` to: the first cache behavior whose pattern
    matches, in infra/edge.py's order (the most specific first, the catch-all `/s/*` last)."""
    path = f"/s/{session_id}/lab/tree/notebook.ipynb"
    for index in reversed(range(pool_size)):
        if fnmatch.fnmatchcase(path, session_path_pattern(index)):
            return index
    raise AssertionError(f"no cache behavior matches {path}")


def placed_on(cloud: Cloud, session_id: str) -> list[int]:
    """The indexes of the listeners with a rule for the session's paths."""
    found = []
    for index, arn in enumerate(cloud.deployment.listener_arns):
        for rule in cloud.elbv2.describe_rules(ListenerArn=arn)["Rules"]:
            for condition in rule["Conditions"]:
                if f"/s/{session_id}/*" in condition.get("PathPatternConfig", {}).get("Values", []):
                    found.append(index)
    return found


def test_ids_from_id_prefix_reach_the_alb_cloudfront_sends_them_to_and_spread(pool: Cloud) -> None:
    alb, n = router(pool), size(pool)
    ids = []
    for _ in range(2 * n):
        session_id = new_session_id(alb.id_prefix())
        alb.reserve(session_id)
        ids.append(session_id)
    for session_id in ids:
        assert placed_on(pool, session_id) == [cloudfront_origin(session_id, n)], session_id
    # Each id goes to the ALB with the most room: reserved one by one, they fill evenly.
    assert Counter(placed_on(pool, i)[0] for i in ids) == dict.fromkeys(range(n), 2)


def test_an_id_is_placed_by_its_prefix_alone(pool: Cloud) -> None:
    alb, n = router(pool), size(pool)
    last = new_session_id(pool_id_prefix(n - 1))
    plain = new_session_id()
    unknown = new_session_id(f"p{n + 4}-")  # a prefix of no member: CloudFront's catch-all
    for session_id in (last, plain, unknown):
        alb.add(session_id, "10.42.1.7:8888")  # never reserved: add reserves it
    assert placed_on(pool, last) == [n - 1] == [cloudfront_origin(last, n)]
    assert placed_on(pool, plain) == [0] == [cloudfront_origin(plain, n)]
    assert placed_on(pool, unknown) == [0] == [cloudfront_origin(unknown, n)]
    assert pool.targets(last) == ["10.42.1.7"]


def test_a_full_alb_refuses_its_sessions_though_another_has_room(pool: Cloud) -> None:
    alb, n = router(pool, targets_per_alb=1), size(pool)
    prefix = pool_id_prefix(n - 1)
    first, second = new_session_id(prefix), new_session_id(prefix)
    alb.reserve(first)
    with pytest.raises(QuotaExceededError, match=f"This binder is at capacity: all {n} session"):
        alb.reserve(second)
    assert pool.target_groups() == [
        f"{TARGET_GROUP_PREFIX}{first}"
    ]  # the refused one's target group is gone
    assert placed_on(pool, first) == [n - 1]
    assert alb.id_prefix() != prefix  # the next session is given an ALB with room
    third = new_session_id(alb.id_prefix())
    alb.reserve(third)
    assert placed_on(pool, third) == [cloudfront_origin(third, n)] != [n - 1]


def test_id_prefix_reads_each_alb_once(pool: Cloud) -> None:
    alb = router(pool)
    calls = ApiCalls(alb.client)
    alb.id_prefix()
    assert calls.names == ["DescribeRules"] * size(pool)


def test_one_alb_takes_every_id_without_asking_aws(cloud: Cloud) -> None:
    alb = router(cloud)
    calls = ApiCalls(alb.client)
    assert alb.id_prefix() == ""
    assert calls.names == []


def test_a_launched_sessions_id_names_the_alb_it_was_placed_on(pool: Cloud) -> None:
    n = size(pool)
    pool.push_image(IMAGE)  # cached: the launch reserves its route at once
    sessions = [launch(pool) for _ in range(n)]
    for session in sessions:
        assert pool.session(session.id).state == SessionState.STARTING
        member = pool_member(session.id, n)
        assert session.id.startswith(pool_id_prefix(member))
        assert placed_on(pool, session.id) == [member] == [cloudfront_origin(session.id, n)]
    assert {placed_on(pool, s.id)[0] for s in sessions} == set(range(n))


def test_a_build_only_session_needs_no_route_and_asks_for_none(pool: Cloud) -> None:
    calls = ApiCalls(pool.binder.router.client)
    session = launch(pool, build_only=True)
    assert calls.names == []
    assert pool_member(session.id, size(pool)) == 0 and len(session.id) == 16
    assert pool.target_groups() == []
