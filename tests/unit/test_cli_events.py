"""`skybinder events`: the CLI against the real admin API (an app over fakes, in process)."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from fastapi.testclient import TestClient
from rich.console import Console
from typer.testing import CliRunner, Result

from skybinder import cli_events
from skybinder.admin_client import call
from skybinder.api.admin import bearer_auth, write_admin_token
from skybinder.api.app import AppOptions, create_app
from skybinder.cli import app as skybinder
from skybinder.domain.event import hash_code
from skybinder.domain.model import SessionState, TaskStatus
from skybinder.service.events import request_event_launch
from skybinder.service.sessions import check_ready, on_task_state
from tests.unit.conftest import SHA, World, make_world

BINDER = "http://127.0.0.1:8585"
IMAGE = f"skybinder-gh-u-r:{SHA}"


@pytest.fixture
def world() -> World:
    built = make_world()
    built.registry.images.add(IMAGE)  # prebuilt: attendees' sessions start at once
    return built


@pytest.fixture
def client(world: World, tmp_path: Path) -> Iterator[TestClient]:
    auth = bearer_auth(write_admin_token(tmp_path))
    with TestClient(create_app(world.binder, AppOptions(admin_auth=auth)), base_url=BINDER) as c:
        yield c


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    # Wide enough that no table cell is wrapped, so the tests can read the output.
    monkeypatch.setattr(cli_events, "console", Console(width=250))


def run(client: TestClient, tmp_path: Path, *args: str) -> Result:
    """`skybinder events ARGS` against the app, with the local binder's token in tmp_path."""
    argv = ["events", *args, "--binder", BINDER, "--data-dir", str(tmp_path)]
    return CliRunner().invoke(skybinder, argv, obj=client)


def iso(world: World, offset: float) -> str:
    return datetime.fromtimestamp(world.clock.now() + offset, UTC).isoformat()


def create(client: TestClient, tmp_path: Path, world: World, *extra: str) -> Result:
    return run(
        client, tmp_path, "create", "swc-2030", "--title", "Software Carpentry",
        "--provider", "gh", "--spec", "u/r/main", "--starts-at", iso(world, -60),
        "--ends-at", iso(world, 3 * 3600), "--seats", "2", "--budget-usd", "5", *extra,
    )  # fmt: skip


def attend(world: World, code: str | None = "tea") -> str:
    return request_event_launch(world.binder, "gh", "u/r/main", slug="swc-2030", code=code).id


def test_create_sends_every_option_of_the_contract(
    client: TestClient, tmp_path: Path, world: World
) -> None:
    result = create(
        client, tmp_path, world, "--capacity", "on-demand", "--cpu", "2", "--memory-gb", "4",
        "--max-minutes", "90", "--access-code", "tea", "--warm-pool", "1",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Event swc-2030 created." in result.output
    assert f"{BINDER}/e/swc-2030" in result.output
    event = world.store.events["swc-2030"]
    assert (event.title, event.provider, event.spec, event.ref) == (
        "Software Carpentry", "gh", "u/r/main", SHA,
    )  # fmt: skip
    assert (event.seats, event.budget_micros, event.capacity.value) == (2, 5_000_000, "on-demand")
    assert (event.cpu, event.memory_gb, event.max_minutes, event.warm_pool) == (2, 4, 90, 1)
    assert event.access_code_hash == hash_code("tea")
    assert event.ends_at - event.starts_at == pytest.approx(3 * 3600 + 60)


def test_options_left_out_take_the_binders_defaults(
    client: TestClient, tmp_path: Path, world: World
) -> None:
    assert create(client, tmp_path, world).exit_code == 0
    event = world.store.events["swc-2030"]
    assert (event.capacity.value, event.cpu, event.memory_gb) == ("spot-fallback", 1, 2)
    assert (event.max_minutes, event.warm_pool, event.access_code_hash) == (240, 0, "")


def test_a_refused_declaration_exits_1_and_says_why(
    client: TestClient, tmp_path: Path, world: World
) -> None:
    result = create(client, tmp_path, world, "--cpu", "3")
    assert result.exit_code == 1
    assert "answered 422" in result.output and "cpu must be one of Fargate's sizes" in result.output
    assert world.store.events == {}
    again = create(client, tmp_path, world)
    assert again.exit_code == 0
    duplicate = create(client, tmp_path, world)
    assert duplicate.exit_code == 1 and "answered 409" in duplicate.output


def test_list_and_show_an_event(client: TestClient, tmp_path: Path, world: World) -> None:
    create(client, tmp_path, world, "--access-code", "tea")
    attend(world)
    listed = run(client, tmp_path, "list")
    assert listed.exit_code == 0
    assert "swc-2030" in listed.output and "open" in listed.output and "1/2" in listed.output
    shown = run(client, tmp_path, "show", "swc-2030")
    assert shown.exit_code == 0
    assert "1 of 2" in shown.output and "$5.00" in shown.output
    assert f"gh/u/r/{SHA}" in shown.output  # the pinned repository
    missing = run(client, tmp_path, "show", "nope")
    assert missing.exit_code == 1 and "There is no event 'nope'" in missing.output


def test_report_prints_sessions_and_totals_and_writes_csv(
    client: TestClient, tmp_path: Path, world: World
) -> None:
    create(client, tmp_path, world, "--access-code", "tea")
    finished = attend(world)
    session = world.store.get(finished)
    assert session is not None
    on_task_state(
        world.binder, session.id, session.task_id, TaskStatus.RUNNING, address="h:1",
        capacity="spot",
    )  # fmt: skip
    world.prober.up.add(f"https://binder.test/s/{session.id}/")
    assert check_ready(world.binder, session.id) is not None
    world.clock.sleep(30 * 60)
    on_task_state(world.binder, session.id, session.task_id, TaskStatus.STOPPED, reason="idle")
    ended = world.store.get(finished)
    assert ended is not None and ended.state == SessionState.STOPPED and ended.cost_micros > 0
    # A refusal the report keeps (a wrong code leaves no session to report).
    request_event_launch(world.binder, "gh", "u/other/HEAD", slug="swc-2030", code="tea")
    out = tmp_path / "report.csv"
    result = run(client, tmp_path, "report", "swc-2030", "--csv", str(out))
    assert result.exit_code == 0, result.output
    assert finished in result.output and "30.0" in result.output
    assert "1 admitted, 1 refused, 30.0 session minutes" in result.output
    assert f"spent ${ended.cost_micros / 1e6:,.4f} of $5.00" in result.output
    assert "refused 1x: This link is not the repository of" in result.output
    with out.open(newline="") as rows:
        written = list(csv.DictReader(rows))
    assert [r["id"] for r in written] == [finished, written[1]["id"]]
    assert list(written[0]) == list(cli_events.CSV_FIELDS)
    assert (written[0]["admitted"], written[0]["capacity"], written[0]["minutes"]) == (
        "True", "spot", "30.0",
    )  # fmt: skip
    assert float(written[0]["cost_usd"]) == ended.cost_micros / 1e6
    assert (written[1]["admitted"], written[1]["status_code"]) == ("False", "400")


def test_close_stops_the_event(client: TestClient, tmp_path: Path, world: World) -> None:
    create(client, tmp_path, world)
    session_id = attend(world, code=None)
    result = run(client, tmp_path, "close", "swc-2030")
    assert result.exit_code == 0 and "closed" in result.output
    assert world.store.events["swc-2030"].closed_at is not None
    session = world.store.get(session_id)
    assert session is not None and session.state != SessionState.READY
    assert "closed by its organisers" in session.reason


def test_without_the_local_token_nothing_is_sent(client: TestClient, world: World) -> None:
    argv = ["events", "list", "--binder", BINDER, "--data-dir", "/nonexistent"]
    result = CliRunner().invoke(skybinder, argv, obj=client)
    assert result.exit_code == 1 and "No admin token" in result.output


def test_a_remote_call_signs_the_body_it_sends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(201, json={"slug": "swc-2030"})

    url = "https://abc123.execute-api.eu-west-1.amazonaws.com/prod"
    with httpx.Client(transport=httpx.MockTransport(answer)) as http:
        body = {"slug": "swc-2030", "seats": 2}
        reply = call(http, "POST", url, "/api/admin/events", data_dir=Path("."), body=body)
    assert reply == {"slug": "swc-2030"}
    (request,) = sent
    assert request.headers["content-type"] == "application/json"
    assert signature_checks(request, request.content)  # what API Gateway recomputes
    assert not signature_checks(request, request.content.replace(b"2", b"3"))


def signature_checks(request: httpx.Request, body: bytes) -> bool:
    """Recompute the SigV4 signature of `request` with `body`, as the receiving side does."""
    authorization = request.headers["authorization"]
    signed = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
    headers = {name: request.headers[name] for name in signed if name != "host"}
    recomputed = AWSRequest(method=request.method, url=str(request.url), data=body, headers=headers)
    recomputed.context["timestamp"] = request.headers["x-amz-date"]
    auth = SigV4Auth(Credentials("AKIDEXAMPLE", "secret"), "execute-api", "eu-west-1")
    string_to_sign = auth.string_to_sign(recomputed, auth.canonical_request(recomputed))
    assert hashlib.sha256(body).hexdigest() in auth.canonical_request(recomputed)
    return authorization.endswith("Signature=" + auth.signature(string_to_sign, recomputed))
