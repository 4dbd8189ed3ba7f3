"""The admin API: who may call it, what it lists, how it stops a session."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from skybinder.admin_client import AdminClientError, call, sigv4_headers
from skybinder.api.admin import bearer_auth, iam_auth, write_admin_token
from skybinder.api.app import AppOptions, create_app
from skybinder.service.launch import request_launch
from tests.api.conftest import IMAGE, ApiWorld, Factory

TOKEN = "operator-secret"


def admin_client(world: ApiWorld, auth: object) -> TestClient:
    return TestClient(create_app(world.binder, AppOptions(admin_auth=auth)))  # type: ignore[arg-type]


def test_admin_routes_refuse_without_the_right_credentials(make_api: Factory) -> None:
    world = make_api()
    for auth in (None, bearer_auth(TOKEN)):
        client = admin_client(world, auth)
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            assert client.get("/api/admin/sessions", headers=headers).status_code == 403
            reply = client.post("/api/admin/sessions/x/stop", headers=headers)
            assert reply.status_code == 403


def test_list_and_stop_sessions_with_a_bearer_token(make_api: Factory) -> None:
    world = make_api()
    world.registry.images.add(IMAGE)
    session = request_launch(world.binder, "gh", "u/r/HEAD")
    request_launch(world.binder, "gh", "u/r/nope")  # fails: listed only with ended=true
    client = admin_client(world, bearer_auth(TOKEN))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    listed = client.get("/api/admin/sessions", headers=auth).json()
    assert [s["id"] for s in listed] == [session.id]
    assert "token" not in listed[0] and session.token not in json.dumps(listed)
    assert len(client.get("/api/admin/sessions?ended=true", headers=auth).json()) == 2
    stopped = client.post(f"/api/admin/sessions/{session.id}/stop", headers=auth).json()
    assert stopped["state"] == "stopping" and stopped["reason"] == "stopped by an operator"
    assert session.task_id in world.runner.stopped
    missing = client.post("/api/admin/sessions/nope/stop", headers=auth)
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        (f"Bearer {TOKEN}", True),
        (f"bearer {TOKEN}", True),
        (f"Bearer  {TOKEN} ", True),  # spaces around the token are not part of it
        (f"Bearer {TOKEN}x", False),
        (f"Bearer {TOKEN} {TOKEN}", False),
        (f"Token {TOKEN}", False),
        (f"Basic {TOKEN}", False),
        ("", False),
    ],
)
def test_the_bearer_token_is_compared_whole(header: str, ok: bool) -> None:
    raw = [(b"authorization", header.encode())] if header else []
    assert bearer_auth(TOKEN)(Request({"type": "http", "headers": raw})) is ok


def test_iam_auth_reads_the_api_gateway_request_context(make_api: Factory) -> None:
    client = admin_client(make_api(), iam_auth)
    context = {"identity": {"userArn": "arn:aws:iam::123456789012:user/ops"}}
    ok = {"x-amzn-request-context": json.dumps(context)}
    assert client.get("/api/admin/sessions", headers=ok).status_code == 200
    anonymous = {"x-amzn-request-context": json.dumps({"identity": {"userArn": None}})}
    for headers in ({}, anonymous, {"x-amzn-request-context": "not json"}):
        assert client.get("/api/admin/sessions", headers=headers).status_code == 403


def test_admin_token_file_is_private_and_new_each_time(tmp_path: Path) -> None:
    first = write_admin_token(tmp_path)
    path = tmp_path / "admin-token"
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.read_text().strip() == first and len(first) >= 32
    assert write_admin_token(tmp_path) != first


def test_client_uses_the_local_token_and_reports_refusals(tmp_path: Path) -> None:
    token = write_admin_token(tmp_path)
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.headers.get("authorization") != f"Bearer {token}":
            return httpx.Response(403, json={"detail": "no"})
        return httpx.Response(200, json=[])

    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        assert (
            call(client, "GET", "http://127.0.0.1:8585", "/api/admin/sessions", data_dir=tmp_path)
            == []
        )
        with pytest.raises(AdminClientError, match="No admin token"):
            call(client, "GET", "http://localhost:1", "/x", data_dir=tmp_path / "none")
        (tmp_path / "admin-token").write_text("stale\n")
        with pytest.raises(AdminClientError, match="answered 403: no"):
            call(client, "GET", "http://127.0.0.1:8585", "/x", data_dir=tmp_path)


def test_client_signs_remote_calls_with_sigv4(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    url = "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/api/admin/sessions"
    headers = sigv4_headers("GET", url, None)
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/execute-api/aws4_request" in headers["Authorization"]
    assert "X-Amz-Date" in headers
