"""The admin API of events: declare, list, show, close and the sessions of an event."""

from __future__ import annotations

import json

import pytest

from skybinder.domain.event import hash_code
from skybinder.service.events import request_event_launch
from tests.api.conftest import SHA, ApiWorld, Factory, events_of, read_stream, wait_for
from tests.api.event_fixtures import AUTH, CODE, create, declaration, operator_client

pytestmark = pytest.mark.timeout(30)
ROW_FIELDS = {
    "id", "state", "reason", "status_code", "admitted", "capacity", "created_at",
    "launched_at", "ended_at", "minutes", "cost_usd", "reserved_usd", "interruptions", "warm",
    "client_ip",
}  # fmt: skip


def test_every_event_route_refuses_without_an_operators_credentials(api: ApiWorld) -> None:
    client = operator_client(api)
    routes = [
        ("POST", "/api/admin/events"),
        ("GET", "/api/admin/events"),
        ("GET", "/api/admin/events/swc-2030"),
        ("POST", "/api/admin/events/swc-2030/close"),
        ("GET", "/api/admin/events/swc-2030/sessions"),
    ]
    for method, path in routes:
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            reply = client.request(method, path, headers=headers, json=declaration())
            assert reply.status_code == 403, (method, path)
    assert api.store.events == {}


def test_create_pins_the_repository_and_prebuilds_its_image(api: ApiWorld) -> None:
    client = operator_client(api)
    created = create(client)
    assert created["slug"] == "swc-2030" and created["phase"] == "open"
    assert created["resolved_spec"] == f"u/r/{SHA}" and created["ref"] == SHA
    assert created["seats"] == 3 and created["seats_left"] == 3 and created["needs_code"] is True
    assert created["budget_usd"] == 10.0 and created["remaining_usd"] == 10.0
    assert created["spent_usd"] == 0 and created["reserved_usd"] == 0
    assert created["prebuild"] in {"queued", "building", "built", "stopped"}
    assert CODE not in json.dumps(created)  # the code is never shown, not even to operators
    stored = api.store.events["swc-2030"]
    assert stored.access_code_hash == hash_code(CODE) and stored.ref == SHA
    prebuild = api.store.sessions[stored.prebuild_session]
    assert prebuild.build_only and prebuild.resolved_spec == f"u/r/{SHA}"
    assert wait_for(lambda: api.registry.has(stored.image_name))
    listed = client.get("/api/admin/events", headers=AUTH).json()
    assert [e["slug"] for e in listed] == ["swc-2030"]
    shown = client.get("/api/admin/events/swc-2030", headers=AUTH).json()
    assert shown["ref"] == SHA and shown["title"] == "Software Carpentry 2030"


def test_a_second_event_with_the_same_slug_is_409(api: ApiWorld) -> None:
    client = operator_client(api)
    create(client)
    again = client.post("/api/admin/events", json=declaration(title="Other"), headers=AUTH)
    assert again.status_code == 409 and "swc-2030" in again.json()["detail"]
    assert api.store.events["swc-2030"].title == "Software Carpentry 2030"


def test_an_invalid_declaration_names_every_field_problem(api: ApiWorld) -> None:
    client = operator_client(api)
    body = declaration(seats=0, budget_usd=-1, colour="blue", title=None)
    reply = client.post("/api/admin/events", json=body, headers=AUTH)
    assert reply.status_code == 422
    fields = {p["field"] for p in reply.json()["problems"]}
    assert fields == {"seats", "budget_usd", "colour", "title"}
    detail = reply.json()["detail"]
    assert detail.startswith("The event is not valid")
    assert "seats: Input should be greater than or equal to 1" in detail
    assert "title: Field required" in detail and "colour:" in detail
    assert api.store.events == {} and api.resolver.seen == []


def test_a_window_that_ends_before_it_starts_is_refused_in_words(api: ApiWorld) -> None:
    client = operator_client(api)
    body = declaration(starts_at="2030-06-01T10:00:00Z", ends_at="2030-06-01T09:00:00Z")
    reply = client.post("/api/admin/events", json=body, headers=AUTH)
    assert reply.status_code == 422
    assert "event: ends_at must be after starts_at" in reply.json()["detail"]


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"{not json", "not JSON"), (b"[1, 2]", "must be a JSON object"), (b"", "must be a JSON")],
)
def test_a_body_that_is_not_a_json_object_is_400(
    api: ApiWorld, content: bytes, message: str
) -> None:
    client = operator_client(api)
    headers = {**AUTH, "Content-Type": "application/json"}
    reply = client.post("/api/admin/events", content=content, headers=headers)
    assert reply.status_code == 400 and message in reply.json()["detail"]


@pytest.mark.parametrize(
    ("changes", "status", "message"),
    [
        ({"spec": "u/r/nope"}, 404, "Could not resolve ref 'nope'"),
        ({"provider": "zz"}, 404, "No provider found for prefix 'zz'"),
        ({"budget_usd": 0.01}, 400, "does not cover one session"),
    ],
)
def test_resolver_and_budget_refusals_keep_their_status(
    api: ApiWorld, changes: dict[str, object], status: int, message: str
) -> None:
    client = operator_client(api)
    reply = client.post("/api/admin/events", json=declaration(**changes), headers=AUTH)
    assert reply.status_code == status and message in reply.json()["detail"]
    assert api.store.events == {}


@pytest.mark.parametrize("route", ["", "/sessions"])
def test_an_unknown_event_is_404(api: ApiWorld, route: str) -> None:
    client = operator_client(api)
    reply = client.get(f"/api/admin/events/nope{route}", headers=AUTH)
    assert reply.status_code == 404 and "There is no event 'nope'" in reply.json()["detail"]
    assert client.post("/api/admin/events/nope/close", headers=AUTH).status_code == 404


def test_sessions_list_admitted_and_refused_attempts_with_their_accounting(
    make_api: Factory,
) -> None:
    world = make_api()
    client = operator_client(world)
    created = create(client)
    stored = world.store.events["swc-2030"]
    assert wait_for(lambda: world.registry.has(stored.image_name))
    _, body = read_stream(client, f"/build/gh/u/r/main?event=swc-2030&code={CODE}")
    assert events_of(body)[-1]["phase"] == "ready"
    refused = request_event_launch(world.binder, "gh", "u/other/HEAD", slug="swc-2030", code=CODE)
    rows = client.get("/api/admin/events/swc-2030/sessions", headers=AUTH).json()
    assert [set(r) for r in rows] == [ROW_FIELDS, ROW_FIELDS]
    admitted, refusal = rows
    assert admitted["admitted"] is True and admitted["state"] == "ready"
    assert admitted["reserved_usd"] == stored.reserve_micros / 1_000_000 > 0
    assert admitted["launched_at"] is not None and admitted["ended_at"] is None
    assert (refusal["id"], refusal["admitted"]) == (refused.id, False)
    assert (refusal["status_code"], refusal["reserved_usd"]) == (400, 0)
    assert "not the repository of" in refusal["reason"]
    shown = client.get("/api/admin/events/swc-2030", headers=AUTH).json()
    assert (shown["seats_in_use"], shown["sessions"]) == (1, 1)
    assert shown["reserved_usd"] == admitted["reserved_usd"]
    assert shown["remaining_usd"] == pytest.approx(created["budget_usd"] - shown["reserved_usd"])


def test_close_stops_the_sessions_and_admits_nobody_after(make_api: Factory) -> None:
    world = make_api()
    client = operator_client(world)
    create(client)
    session = request_event_launch(world.binder, "gh", "u/r/main", slug="swc-2030", code=CODE)
    assert session.reserved_micros > 0
    closed = client.post("/api/admin/events/swc-2030/close", headers=AUTH).json()
    assert closed["phase"] == "closed" and closed["closed_at"] is not None
    after = world.store.get(session.id)
    assert after is not None and after.state in {"stopping", "stopped", "failed"}
    assert "closed by its organisers" in after.reason
    _, body = read_stream(client, f"/build/gh/u/r/main?event=swc-2030&code={CODE}")
    (refused,) = events_of(body)
    assert refused["phase"] == "failed" and refused["status_code"] == 403
    assert "closed by its organisers" in str(refused["message"])
