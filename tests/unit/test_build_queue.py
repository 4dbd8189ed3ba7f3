"""The build queue against fakes: a busy builder queues builds, sessions wait and are told why,
the reaper starts queued builds oldest first as builders free, once even when reapers race."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from skybinder.domain.errors import BuilderBusyError, BuildError
from skybinder.domain.model import Image, ImageState, Progress, Session, SessionState
from skybinder.service.binder import Binder
from skybinder.service.build_queue import QUEUED, start_queued_builds
from skybinder.service.launch import on_build_finished, request_launch
from skybinder.service.ports import BuildJob
from skybinder.service.reap import reap
from skybinder.service.watch import watch
from tests.contract import conftest as contract
from tests.fake_ports import FakeBuilder, FakeRegistry
from tests.threads import each
from tests.unit.conftest import OTHER_SHA, SHA, World, make_world

S = SessionState
IMAGE = f"skybinder-gh-u-r:{SHA}"  # u/r/HEAD
OTHER = f"skybinder-gh-u-other:{SHA}"  # u/other/HEAD
OLD = f"skybinder-gh-u-r:{OTHER_SHA}"  # u/r/old
BUSY_ELSEWHERE = "Waiting for a free builder: the build service is busy with other builds."
open_store = contract.open_store  # fake, SQLite and DynamoDB (moto) stores, as the contract's


class BusyBuilder(FakeBuilder):
    """A FakeBuilder with a limit of concurrent builds: over it, `start` refuses as CodeBuild
    does (nothing started), until `finish` frees a builder."""

    def __init__(self, registry: FakeRegistry, limit: int) -> None:
        super().__init__(registry)
        self.limit = limit
        self.running: set[str] = set()
        self.refusals = 0
        self.fault: Exception | None = None  # raised by the next starts, when set
        self._lock = threading.Lock()

    def start(self, job: BuildJob) -> str:
        with self._lock:
            if self.fault is not None:
                raise self.fault
            if len(self.running) >= self.limit:
                self.refusals += 1
                raise BuilderBusyError("Every builder is in use.")
            build_id = super().start(job)
            self.running.add(build_id)
            return build_id

    def finish(self, binder: Binder, build_id: str) -> None:
        """The build succeeds: its builder is free, and the service hears of it."""
        self.running.discard(build_id)
        on_build_finished(binder, self.succeed(build_id), ok=True, build_id=build_id)

    def build_of(self, image_name: str) -> str:
        (build_id,) = [b for b, job in self.jobs.items() if job.image_name == image_name]
        return build_id


def busy_world(limit: int) -> tuple[World, BusyBuilder]:
    world = make_world()
    builder = BusyBuilder(world.registry, limit)
    world.binder.builder = world.builder = builder
    return world, builder


def launch(world: World, spec: str) -> Session:
    return request_launch(world.binder, "gh", spec)


def got(world: World, session_id: str) -> Session:
    found = world.store.get(session_id)
    assert found is not None
    return found


def image(world: World, name: str) -> Image:
    found = world.store.get_image(name)
    assert found is not None
    return found


def take(events: Iterable[Progress | None], polls: int = 2) -> list[Progress]:
    """Events of a running `watch` until it ends or is quiet for `polls` polls."""
    out: list[Progress] = []
    quiet = 0
    for event in events:
        if event is not None:
            out.append(event)
            quiet = 0
            continue
        quiet += 1
        if quiet >= polls:
            break
    return out


def test_busy_builder_queues_the_build_then_the_reaper_starts_it_and_sessions_launch() -> None:
    world, builder = busy_world(limit=1)
    first = launch(world, "u/r/HEAD")  # takes the only builder
    queued = launch(world, "u/other/HEAD")
    assert (first.state, queued.state) == (S.BUILDING, S.BUILDING)  # nothing failed
    record = image(world, OTHER)
    assert (record.state, record.build_id, record.reason) == (ImageState.BUILDING, "", QUEUED)
    notice = "Waiting for a free builder: 1 build runs at once on this binder."
    assert got(world, queued.id).notices == [notice]
    assert got(world, first.id).notices == []
    stream = watch(world.binder, queued.id)
    waiting = take(stream)
    assert [(e.phase, e.message) for e in waiting] == [
        ("waiting", notice + "\n"),
        ("waiting", "Waiting for build to start...\n"),
    ]
    joiner = launch(world, "u/other/HEAD")  # joins the queued build; told by the next refusal
    assert joiner.state == S.BUILDING and joiner.notices == []

    assert "queued-build-started" not in reap(world.binder)  # still busy
    assert builder.refusals == 2 and image(world, OTHER).reason == QUEUED
    assert got(world, joiner.id).notices == [notice]

    builder.finish(world.binder, builder.build_of(IMAGE))
    assert got(world, first.id).state == S.STARTING
    assert reap(world.binder)["queued-build-started"] == 1
    build_id = builder.build_of(OTHER)
    job = builder.jobs[build_id]
    assert (job.repo_url, job.ref, job.provider) == ("https://github.com/u/other", SHA, "gh")
    started = image(world, OTHER)
    assert (started.build_id, started.reason) == (build_id, "")
    builder.emit(build_id, "Step 1/9 : FROM buildpack-deps:jammy")
    assert [e.message for e in take(stream)] == ["Step 1/9 : FROM buildpack-deps:jammy\n"]
    assert "queued-build-started" not in reap(world.binder)  # started once, not again

    builder.finish(world.binder, build_id)
    for session in (queued, joiner):
        assert got(world, session.id).state == S.STARTING
    assert len(world.runner.tasks) == 3


def test_queued_builds_start_oldest_first_until_the_builder_refuses_one() -> None:
    world, builder = busy_world(limit=1)
    launch(world, "u/r/HEAD")
    older = launch(world, "u/other/HEAD")
    world.clock.sleep(10)
    newer = launch(world, "u/r/old")
    assert image(world, OLD).reason == QUEUED
    builder.finish(world.binder, builder.build_of(IMAGE))  # one builder frees
    assert start_queued_builds(world.binder) == 1
    assert [job.image_name for job in builder.jobs.values()] == [IMAGE, OTHER]
    assert image(world, OLD).reason == QUEUED and got(world, newer.id).state == S.BUILDING
    assert got(world, older.id).state == S.BUILDING
    assert builder.refusals == 3  # OTHER's first start, OLD's first start, OLD again: then stop


def test_queued_build_past_the_build_timeout_fails_its_sessions_and_is_never_started() -> None:
    world, builder = busy_world(limit=0)  # the builders are taken by builds of others
    session = launch(world, "u/r/HEAD")
    assert got(world, session.id).notices == [BUSY_ELSEWHERE]
    world.clock.sleep(world.binder.config.build_timeout + 1)
    builder.limit = 1
    assert reap(world.binder) == {"build-timeout": 1}
    failed = got(world, session.id)
    assert (failed.state, failed.reason) == (
        S.FAILED,
        "The build did not finish within 30 minutes.",
    )
    assert builder.jobs == {}  # nobody waits for it: not built
    again = launch(world, "u/r/HEAD")  # a later launch revives the queued build
    assert again.state == S.BUILDING and start_queued_builds(world.binder) == 1
    assert image(world, IMAGE).build_id == builder.build_of(IMAGE)


def test_queued_build_that_cannot_start_fails_its_sessions_with_the_reason() -> None:
    world, builder = busy_world(limit=0)
    session = launch(world, "u/r/HEAD")
    builder.fault = BuildError("The build project p does not exist.")
    assert start_queued_builds(world.binder) == 0
    failed = got(world, session.id)
    assert failed.state == S.FAILED and failed.status_code == 500
    assert failed.reason == (
        "The build of this repository could not be started: The build project p does not exist."
    )
    assert image(world, IMAGE).state == ImageState.FAILED
    builder.fault, builder.limit = None, 1
    assert launch(world, "u/r/HEAD").state == S.BUILDING  # a new launch builds it afresh
    assert image(world, IMAGE).build_id == builder.build_of(IMAGE)


class ReadsMeet:
    """A store handle whose first image read waits for the other reaper's: both reapers have
    seen the build queued before either claims it. Everything else goes to `store`."""

    def __init__(self, store: contract.Store, barrier: threading.Barrier) -> None:
        self.store = store
        self.barrier = barrier
        self.met = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def get_image(self, name: str) -> Image | None:
        found = self.store.get_image(name)
        if not self.met:
            self.met = True
            self.barrier.wait(timeout=10)
        return found


@pytest.mark.parametrize("handles", [1, 2], ids=["one-handle", "two-handles"])
def test_two_reapers_racing_for_a_queued_build_start_it_once(
    open_store: Callable[[], contract.Store], handles: int
) -> None:
    world, builder = busy_world(limit=0)
    stores = [open_store() for _ in range(handles)]
    world.binder.store = stores[0]
    session = launch(world, "u/r/HEAD")
    assert image_of(stores[0], IMAGE).reason == QUEUED
    builder.limit = 5
    barrier = threading.Barrier(2)
    reapers = [
        dataclasses.replace(world.binder, store=ReadsMeet(stores[i % handles], barrier))
        for i in range(2)
    ]
    started = each(contract.race(2, lambda i: start_queued_builds(reapers[i])))
    assert sorted(started) == [0, 1]
    assert [job.image_name for job in builder.jobs.values()] == [IMAGE]
    assert image_of(stores[-1], IMAGE).build_id == builder.build_of(IMAGE)
    assert contract.got(stores[-1], session.id).state == S.BUILDING


def image_of(store: contract.Store, name: str) -> Image:
    return contract.must(store.get_image(name))


def test_update_image_where_is_part_of_the_condition(store: contract.Store) -> None:
    store.claim_build(Image(name="img", reason=QUEUED))
    building = [ImageState.BUILDING]
    claim = {"build_id": "", "reason": QUEUED}
    assert store.update_image("img", building, ImageState.BUILDING, claim, reason="x")
    assert store.update_image("img", building, ImageState.BUILDING, claim) is None
    assert image_of(store, "img").reason == "x"
    with pytest.raises(ValueError, match="no field"):
        store.update_image("img", building, ImageState.BUILDING, {"colour": "red"})
    with pytest.raises(ValueError, match="cannot be changed"):  # `name` is the record's key
        store.update_image("img", building, ImageState.BUILDING, name="other")


store = contract.store  # the contract's `store` fixture: one handle of `open_store`


@pytest.mark.parametrize("mark", ["", "starting 1800000000"])
def test_a_build_claimed_by_a_caller_that_crashed_is_taken_over(world: World, mark: str) -> None:
    # A launch (mark "") or a reaper claimed the build and died before StartBuild.
    world.binder.store.claim_build(
        Image(name=IMAGE, repo_url="https://github.com/u/r", ref=SHA, created_at=world.clock.now())
    )
    world.binder.store.update_image(IMAGE, {ImageState.BUILDING}, ImageState.BUILDING, reason=mark)
    session = request_launch(world.binder, "gh", "u/r/HEAD")
    assert session.state == S.BUILDING and world.builder.jobs == {}  # it joined the claim
    assert start_queued_builds(world.binder) == 0  # the claimer may still be starting it
    world.clock.sleep(301)
    assert start_queued_builds(world.binder) == 1
    (job,) = world.builder.jobs.values()
    assert job.image_name == IMAGE
    assert world.binder.store.get_image(IMAGE).build_id  # type: ignore[union-attr]
    assert start_queued_builds(world.binder) == 0  # started once
