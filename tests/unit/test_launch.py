"""request_launch, shared builds, build results and quotas, against fakes."""

from __future__ import annotations

from skybinder.domain.model import ImageState, Limits, SessionState, TaskStatus
from skybinder.service.launch import on_build_finished, request_launch
from skybinder.service.ports import ResolvedRepo
from skybinder.service.sessions import check_ready, on_task_state
from tests.fake_ports import FakeResolver
from tests.unit.conftest import SHA, World, make_world

S = SessionState


def test_cached_image_launches_without_a_build(world: World) -> None:
    world.registry.images.add(f"skybinder-gh-u-r:{SHA}")
    session = request_launch(world.binder, "gh", "u/r/HEAD", client_ip="10.1.2.3")
    assert session.state == S.STARTING
    assert world.builder.jobs == {}
    ((task_id, request),) = world.runner.tasks.items()
    assert session.task_id == task_id
    assert request.base_url == f"/s/{session.id}/"
    assert request.token == session.token and len(session.token) >= 32
    assert request.env["BINDER_REQUEST"] == "v2/gh/u/r/HEAD"
    assert request.env["BINDER_PERSISTENT_REQUEST"] == f"v2/gh/u/r/{SHA}"
    assert request.env["BINDER_CLIENT_IP"] == "10.1.2.3"


def test_missing_image_is_built_then_launched(world: World) -> None:
    session = request_launch(world.binder, "gh", "u/r/HEAD")
    assert session.state == S.BUILDING
    ((build_id, job),) = world.builder.jobs.items()
    assert (job.repo_url, job.ref) == ("https://github.com/u/r", SHA)
    assert world.runner.tasks == {}
    on_build_finished(world.binder, world.builder.succeed(build_id), ok=True)
    assert world.store.get(session.id).state == S.STARTING  # type: ignore[union-attr]
    assert world.store.get_image(job.image_name).state == ImageState.BUILT  # type: ignore[union-attr]


def test_concurrent_launches_share_one_build(world: World) -> None:
    first = request_launch(world.binder, "gh", "u/r/HEAD")
    second = request_launch(world.binder, "gh", "u/r/main")  # same commit, same image
    assert len(world.builder.jobs) == 1
    (build_id,) = world.builder.jobs
    on_build_finished(world.binder, world.builder.succeed(build_id), ok=True)
    for s in (first, second):
        assert world.store.get(s.id).state == S.STARTING  # type: ignore[union-attr]
    assert len(world.runner.tasks) == 2


def test_failed_build_fails_every_waiting_session_and_next_launch_rebuilds(world: World) -> None:
    a = request_launch(world.binder, "gh", "u/r/HEAD")
    b = request_launch(world.binder, "gh", "u/r/main")
    ((_build_id, job),) = world.builder.jobs.items()
    on_build_finished(world.binder, job.image_name, ok=False, reason="pip could not install x")
    for s in (a, b):
        got = world.store.get(s.id)
        assert got is not None and got.state == S.FAILED
        assert "pip could not install x" in got.reason and got.status_code == 500
    assert world.runner.tasks == {}
    request_launch(world.binder, "gh", "u/r/HEAD")
    assert len(world.builder.jobs) == 2


def test_build_that_ends_before_session_waits_is_still_seen(world: World) -> None:
    # The builder finishes synchronously inside start(): the session joins afterwards.
    original = world.builder.start

    def start_and_finish(job):  # type: ignore[no-untyped-def]
        build_id = original(job)
        world.builder.succeed(build_id)
        on_build_finished(world.binder, job.image_name, ok=True)
        return build_id

    world.builder.start = start_and_finish  # type: ignore[method-assign]
    session = request_launch(world.binder, "gh", "u/r/HEAD")
    assert world.store.get(session.id).state == S.STARTING  # type: ignore[union-attr]


def test_bad_input_is_a_failed_session_with_nothing_started(world: World) -> None:
    cases = {("gh", "nope"): 400, ("xx", "a/b"): 404, ("gh", "u/r/missing"): 404}
    for (provider, spec), code in cases.items():
        session = request_launch(world.binder, provider, spec)
        assert session.state == S.FAILED and session.status_code == code
        assert session.reason and not session.token
        assert world.store.get(session.id) == session
    assert world.builder.jobs == {} and world.runner.tasks == {}


def test_builder_that_cannot_start_fails_the_session(world: World) -> None:
    world.builder.fail_start = True
    session = request_launch(world.binder, "gh", "u/r/HEAD")
    assert session.state == S.FAILED and "builder" in session.reason
    image = world.store.get_image(session.image_name)
    assert image is not None and image.state == ImageState.FAILED


def test_runner_that_cannot_start_fails_the_session(world: World) -> None:
    world.registry.images.add(f"skybinder-gh-u-r:{SHA}")
    world.runner.fail = True
    session = request_launch(world.binder, "gh", "u/r/HEAD")
    assert session.state == S.FAILED and "no capacity" in session.reason


def test_global_and_per_repo_quota() -> None:
    w = make_world(Limits(max_sessions=3, max_sessions_per_repo=2))
    w.registry.images.add(f"skybinder-gh-u-r:{SHA}")
    w.registry.images.add(f"skybinder-gh-u-other:{SHA}")
    ok = [request_launch(w.binder, "gh", "u/r/HEAD") for _ in range(2)]
    assert all(s.state == S.STARTING for s in ok)
    refused = request_launch(w.binder, "gh", "u/r/main")  # another ref counts for the repo
    assert refused.state == S.FAILED and refused.status_code == 429
    assert refused.reason == "Too many users running https://github.com/u/r! Try again soon."
    assert request_launch(w.binder, "gh", "u/other/HEAD").state == S.STARTING
    full = request_launch(w.binder, "gh", "u/other/HEAD")
    assert full.reason == "Too many users on this BinderHub! Try again soon."
    # A build-only request takes the machine as a launch does: held to the quota, and counted.
    refused = request_launch(w.binder, "gh", "u/r/HEAD", build_only=True)
    assert (refused.state, refused.status_code) == (S.FAILED, 429)
    assert w.builder.jobs == {}  # nothing built for it


def test_build_only_requests_take_a_slot_while_they_build() -> None:
    w = make_world(Limits(max_sessions=1))
    building = request_launch(w.binder, "gh", "u/r/HEAD", build_only=True)
    assert building.state == S.BUILDING
    full = request_launch(w.binder, "gh", "u/other/HEAD")
    assert (full.state, full.status_code) == (S.FAILED, 429)
    (build_id,) = w.builder.jobs
    on_build_finished(w.binder, w.builder.succeed(build_id), ok=True)
    assert request_launch(w.binder, "gh", "u/other/HEAD").state != S.FAILED  # the slot is free


def test_build_only_ends_stopped_after_the_build(world: World) -> None:
    session = request_launch(world.binder, "gh", "u/r/HEAD", build_only=True)
    (build_id,) = world.builder.jobs
    on_build_finished(world.binder, world.builder.succeed(build_id), ok=True)
    got = world.store.get(session.id)
    assert got is not None and got.state == S.STOPPED and got.reason == "build only"
    assert world.runner.tasks == {}


def test_running_then_ready_through_the_prober(world: World) -> None:
    world.registry.images.add(f"skybinder-gh-u-r:{SHA}")
    session = request_launch(world.binder, "gh", "u/r/HEAD")
    on_task_state(
        world.binder, session.id, session.task_id, TaskStatus.RUNNING, address="10.0.0.5:8888"
    )
    got = world.store.get(session.id)
    assert got is not None and got.url == f"https://binder.test/s/{session.id}/"
    assert world.routes() == {session.id: "10.0.0.5:8888"}
    assert check_ready(world.binder, session.id).state == S.STARTING  # type: ignore[union-attr]
    world.prober.up.add(got.url)
    assert check_ready(world.binder, session.id).state == S.READY  # type: ignore[union-attr]


class QuotaResolver(FakeResolver):
    """FakeResolver whose repositories carry the operator's per-repository quota."""

    def __init__(self, refs: dict[str, str], quota: int | None) -> None:
        super().__init__(refs)
        self.quota = quota

    def resolve(self, provider: str, spec: str) -> ResolvedRepo:
        return super().resolve(provider, spec).model_copy(update={"quota": self.quota})


def test_a_repositorys_own_quota_replaces_the_per_repo_limit() -> None:
    w = make_world(Limits(max_sessions=10, max_sessions_per_repo=1))
    w.registry.images.add(f"skybinder-gh-u-r:{SHA}")
    w.binder.resolver = QuotaResolver({"u/r/HEAD": SHA}, quota=3)
    launched = [request_launch(w.binder, "gh", "u/r/HEAD") for _ in range(4)]
    assert [s.state for s in launched] == [S.STARTING] * 3 + [S.FAILED]
    assert launched[-1].reason == "Too many users running https://github.com/u/r! Try again soon."
    assert launched[-1].status_code == 429


def test_a_quota_of_zero_lifts_the_per_repo_limit_but_not_the_global_one() -> None:
    w = make_world(Limits(max_sessions=3, max_sessions_per_repo=1))
    w.registry.images.add(f"skybinder-gh-u-r:{SHA}")
    w.binder.resolver = QuotaResolver({"u/r/HEAD": SHA}, quota=0)
    launched = [request_launch(w.binder, "gh", "u/r/HEAD") for _ in range(4)]
    assert [s.state for s in launched] == [S.STARTING] * 3 + [S.FAILED]
    assert launched[-1].reason == "Too many users on this BinderHub! Try again soon."


def test_no_quota_keeps_the_default_per_repo_limit() -> None:
    w = make_world(Limits(max_sessions=10, max_sessions_per_repo=1))
    w.registry.images.add(f"skybinder-gh-u-r:{SHA}")
    w.binder.resolver = QuotaResolver({"u/r/HEAD": SHA}, quota=None)
    assert request_launch(w.binder, "gh", "u/r/HEAD").state == S.STARTING
    assert request_launch(w.binder, "gh", "u/r/HEAD").state == S.FAILED
