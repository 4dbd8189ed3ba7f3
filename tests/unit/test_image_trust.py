"""A fresh image record is proof enough that the image is there; a server that cannot pull
its image corrects the record, so the next launch builds it again."""

from __future__ import annotations

import dataclasses

import pytest

from skybinder.adapters.aws.ecs_stops import stop_reason
from skybinder.domain.model import ImageState, SessionState, TaskStatus
from skybinder.service.launch import on_build_finished, request_launch
from skybinder.service.sessions import on_task_state
from tests.unit.conftest import SHA, World, make_world

S = SessionState
IMAGE = f"skybinder-gh-u-r:{SHA}"
DAY = 86400.0
PULL_FAILED = (
    "CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to "
    "resolve ref 123456789012.dkr.ecr.us-east-1.amazonaws.com/images:tag: not found"
)


class CountingRegistry:
    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.asked = 0

    def has(self, name: str) -> bool:
        self.asked += 1
        return self.inner.has(name)  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
def trusting() -> World:
    world = make_world()
    world.binder.config = dataclasses.replace(world.binder.config, image_trust=89 * DAY)
    return world


def built(world: World) -> CountingRegistry:
    """The image built through a launch, and the registry counting what it is asked after."""
    request_launch(world.binder, "gh", "u/r/HEAD")
    ((build_id, _),) = world.builder.jobs.items()
    on_build_finished(world.binder, world.builder.succeed(build_id), ok=True)
    counting = CountingRegistry(world.registry)
    world.binder.registry = counting  # type: ignore[assignment]
    return counting


def test_a_launch_of_a_freshly_built_image_asks_the_registry_nothing(trusting: World) -> None:
    registry = built(trusting)
    trusting.clock.sleep(30 * DAY)
    session = request_launch(trusting.binder, "gh", "u/r/HEAD")
    assert session.state == S.STARTING and registry.asked == 0


def test_an_old_record_is_checked_against_the_registry(trusting: World) -> None:
    registry = built(trusting)
    trusting.clock.sleep(90 * DAY)
    request_launch(trusting.binder, "gh", "u/r/HEAD")
    assert registry.asked == 1


def test_without_trust_every_launch_asks(world: World) -> None:
    registry = built(world)
    request_launch(world.binder, "gh", "u/r/HEAD")
    assert registry.asked == 1


def test_an_image_deleted_by_hand_is_built_again_after_its_server_could_not_pull_it(
    trusting: World,
) -> None:
    built(trusting)
    trusting.registry.images.discard(IMAGE)  # deleted from the registry by hand
    session = request_launch(trusting.binder, "gh", "u/r/HEAD")
    reason = stop_reason("TaskFailedToStart", PULL_FAILED)
    on_task_state(trusting.binder, session.id, session.task_id, TaskStatus.STOPPED, reason=reason)
    failed = trusting.store.get(session.id)
    assert failed is not None and failed.state == S.FAILED
    assert "no longer in the registry" in failed.reason and "built anew" in failed.reason
    record = trusting.store.get_image(IMAGE)
    assert record is not None and record.state == ImageState.FAILED
    again = request_launch(trusting.binder, "gh", "u/r/HEAD")
    assert again.state == S.BUILDING  # built anew, not launched from a record that lied


def test_other_pull_failures_keep_the_record(trusting: World) -> None:
    built(trusting)
    session = request_launch(trusting.binder, "gh", "u/r/HEAD")
    reason = stop_reason("TaskFailedToStart", "CannotPullContainerError: 403 Forbidden")
    on_task_state(trusting.binder, session.id, session.task_id, TaskStatus.STOPPED, reason=reason)
    record = trusting.store.get_image(IMAGE)
    assert record is not None and record.state == ImageState.BUILT
