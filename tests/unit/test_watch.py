"""The progress events `watch` yields, in BinderHub's order and shapes."""

from __future__ import annotations

import json

from skybinder.domain.model import Progress, TaskStatus
from skybinder.service.launch import on_build_finished, request_launch
from skybinder.service.sessions import on_task_state
from skybinder.service.watch import log_line_event, watch
from tests.fake_ports import phases
from tests.unit.conftest import SHA, World


def drain(world: World, session_id: str, limit: int = 50) -> list[Progress | None]:
    out: list[Progress | None] = []
    for event in watch(world.binder, session_id):
        out.append(event)
        if len(out) >= limit:
            break
    return out


def test_cached_image_events(world: World) -> None:
    world.registry.images.add(f"skybinder-gh-u-r:{SHA}")
    session = request_launch(world.binder, "gh", "u/r/HEAD", launch_host="https://b.test/")
    on_task_state(world.binder, session.id, session.task_id, TaskStatus.RUNNING, address="h:1")
    world.prober.up.add(f"https://binder.test/s/{session.id}/")
    events = drain(world, session.id)
    assert phases(events) == ["built", "launching", "ready"]
    assert events[0] is not None and events[0].message == "Found built image, launching...\n"
    ready = events[-1]
    assert ready is not None
    payload = ready.payload()
    assert payload["url"] == f"https://binder.test/s/{session.id}/"
    assert payload["token"] == session.token
    for key in (
        "image",
        "repo_url",
        "binder_ref_url",
        "binder_launch_host",
        "binder_request",
        "binder_persistent_request",
        "binder_client_ip",
    ):
        assert key in payload
    assert payload["binder_persistent_request"] == f"v2/gh/u/r/{SHA}"


def test_fresh_build_relays_log_lines_then_launches(world: World) -> None:
    session = request_launch(world.binder, "gh", "u/r/HEAD")
    (build_id,) = world.builder.jobs
    world.builder.emit(
        build_id,
        json.dumps({"phase": "fetching", "message": "Cloning\n"}),
        "plain text line",
        json.dumps({"message": "no phase\n"}),
    )
    stream = watch(world.binder, session.id)
    first = [next(stream) for _ in range(5)]
    assert phases(first) == ["waiting", "fetching", "building", "building"]
    assert first[-1] is None  # nothing new: a tick for keepalives
    on_build_finished(world.binder, world.builder.succeed(build_id), ok=True, build_id=build_id)
    session = world.store.get(session.id)  # type: ignore[assignment]
    on_task_state(world.binder, session.id, session.task_id, TaskStatus.RUNNING, address="h:1")
    world.prober.up.add(f"https://binder.test/s/{session.id}/")
    rest = [e for _, e in zip(range(20), stream, strict=False)]
    assert phases(rest) == ["built", "launching", "ready"]
    assert rest[0] is not None and rest[0].message == "Built image, launching...\n"


def test_late_joiner_gets_the_log_so_far(world: World) -> None:
    request_launch(world.binder, "gh", "u/r/HEAD")
    (build_id,) = world.builder.jobs
    world.builder.emit(build_id, json.dumps({"phase": "building", "message": "step 1\n"}))
    joiner = request_launch(world.binder, "gh", "u/r/main")
    events = [e for e in drain(world, joiner.id, limit=3) if e is not None]
    assert [e.message for e in events] == ["Waiting for build to start...\n", "step 1\n"]


def test_failed_build_ends_with_a_failed_event(world: World) -> None:
    session = request_launch(world.binder, "gh", "u/r/HEAD")
    ((build_id, job),) = world.builder.jobs.items()
    world.builder.emit(build_id, json.dumps({"phase": "building", "message": "boom\n"}))
    reason = "bad requirements"
    on_build_finished(world.binder, job.image_name, ok=False, reason=reason, build_id=build_id)
    events = drain(world, session.id)
    assert phases(events) == ["waiting", "building", "failed"]
    failed = events[-1].payload()  # type: ignore[union-attr]
    assert failed["status_code"] == 500 and "bad requirements" in str(failed["message"])


def test_bad_spec_is_one_failed_event(world: World) -> None:
    session = request_launch(world.binder, "gh", "nope")
    (event,) = drain(world, session.id)
    assert event is not None and event.phase == "failed"
    assert event.payload()["status_code"] == 400


def test_build_only_ends_with_ready_and_image_name(world: World) -> None:
    world.registry.images.add(f"skybinder-gh-u-r:{SHA}")
    session = request_launch(world.binder, "gh", "u/r/HEAD", build_only=True)
    events = drain(world, session.id)
    assert phases(events) == ["built", "ready"]
    assert events[-1].payload()["imageName"] == f"skybinder-gh-u-r:{SHA}"  # type: ignore[union-attr]
    assert "url" not in events[-1].payload()  # type: ignore[union-attr]


def test_server_dying_before_ready_is_a_failure(world: World) -> None:
    world.registry.images.add(f"skybinder-gh-u-r:{SHA}")
    session = request_launch(world.binder, "gh", "u/r/HEAD")
    on_task_state(
        world.binder,
        session.id,
        session.task_id,
        TaskStatus.STOPPED,
        reason="Jupyter exited with code 1",
    )
    events = drain(world, session.id)
    assert phases(events)[-1] == "failed"
    assert "exited with code 1" in str(events[-1].payload()["message"])  # type: ignore[union-attr]


def test_log_line_event_maps_unknown_phases_to_building() -> None:
    assert log_line_event(json.dumps({"phase": "Pushing", "message": "x"})).phase == "pushing"
    assert log_line_event(json.dumps({"phase": "weird", "message": "x"})).phase == "building"
    assert log_line_event("[1, 2]").phase == "building"
