"""Events for the API tests: a declaration open now, and an app with operators' credentials."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from fastapi.testclient import TestClient

from skybinder.api.admin import bearer_auth
from skybinder.api.app import AppOptions, create_app
from tests.api.conftest import ApiWorld

TOKEN = "operator-secret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CODE = "letmein"


def at(offset_seconds: float) -> str:
    """ISO 8601 (UTC) of now + `offset_seconds`: the API tests run on the system clock."""
    return datetime.fromtimestamp(time.time() + offset_seconds, UTC).isoformat()


def declaration(**changes: object) -> dict[str, object]:
    """An event open from an hour ago to an hour from now, on the fake GitHub's u/r/main."""
    body: dict[str, object] = {
        "slug": "swc-2030",
        "title": "Software Carpentry 2030",
        "provider": "gh",
        "spec": "u/r/main",
        "starts_at": at(-3600),
        "ends_at": at(3600),
        "seats": 3,
        "budget_usd": 10.0,
        "capacity": "spot-fallback",
        "cpu": 1,
        "memory_gb": 2,
        "max_minutes": 60,
        "access_code": CODE,
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def operator_client(world: ApiWorld) -> TestClient:
    """The world's binder behind an app whose admin API takes the bearer token TOKEN."""
    app = create_app(world.binder, AppOptions(admin_auth=bearer_auth(TOKEN), keepalive=30.0))
    return TestClient(app, headers={"Accept": "text/event-stream"})


def create(client: TestClient, **changes: object) -> dict[str, object]:
    reply = client.post("/api/admin/events", json=declaration(**changes), headers=AUTH)
    assert reply.status_code == 201, reply.text
    created: dict[str, object] = reply.json()
    return created
