"""The pool of load balancers: CloudFront (infra/) and the runtime agree on which one serves a
session id, and the longest ids still make valid ALB target group names."""

from __future__ import annotations

import dataclasses
import fnmatch

import pytest

from infra.config import Settings, SettingsError, load, validate
from infra.edge import session_path_pattern
from skybinder.adapters.aws import alb_listeners as runtime
from skybinder.adapters.aws.alb_router import MAX_NAME, AlbRouter, AlbSettings
from skybinder.domain.naming import new_session_id, session_id_length


class EmptyConfig:
    """A stack's config with nothing set."""

    def __getattr__(self, name: str) -> object:
        return lambda key: None


def test_the_runtime_knows_the_largest_pool_the_deployment_makes() -> None:
    settings = Settings(prefix="sb-dev", region="us-east-1", alb_count=runtime.MAX_POOL)
    validate(settings)
    with pytest.raises(SettingsError, match="albCount"):
        validate(dataclasses.replace(settings, alb_count=runtime.MAX_POOL + 1))


@pytest.mark.parametrize("pool_size", range(1, runtime.MAX_POOL + 1))
def test_cloudfront_sends_each_id_to_the_load_balancer_the_runtime_placed_it_on(
    pool_size: int,
) -> None:
    for index in range(pool_size):
        session_id = new_session_id(runtime.pool_id_prefix(index))
        path = f"/s/{session_id}/api/kernels"
        # infra/edge.py orders the behaviors most specific first; the first match wins.
        patterns = [(i, session_path_pattern(i)) for i in reversed(range(pool_size))]
        chosen = next(i for i, pattern in patterns if fnmatch.fnmatchcase(path, pattern))
        assert chosen == runtime.pool_member(session_id, pool_size) == index


def test_the_longest_stack_name_and_pool_prefix_leave_room_for_the_id() -> None:
    stack = "a-very-long-stack-name" * 4
    settings = load(EmptyConfig(), stack, "us-east-1", f"my-org/skybinder/{stack}")
    name_prefix = settings.target_group_prefix
    listeners = tuple(f"listener-{i}" for i in range(runtime.MAX_POOL))
    alb = AlbRouter(  # type: ignore[arg-type]
        None, AlbSettings(listeners, vpc_id="v", public_url=str, name_prefix=name_prefix)
    )
    longest = runtime.pool_id_prefix(runtime.MAX_POOL - 1)
    assert len(name_prefix) + session_id_length(longest) <= MAX_NAME == 32
    for index in range(runtime.MAX_POOL):
        session_id = new_session_id(runtime.pool_id_prefix(index))
        assert alb.name(session_id) == name_prefix + session_id  # nothing cut off
        assert len(alb.name(session_id)) <= 32
        assert len(session_id) - len(runtime.pool_id_prefix(index)) >= 14  # >= 56 random bits
