"""The launch function: the HTTP app over the AWS binder, and run.sh as the Lambda Web Adapter
starts it (a real uvicorn process against moto's server)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
from fastapi.testclient import TestClient

from skybinder.adapters.aws import names
from skybinder.domain.model import SessionState
from tests.aws.compute_fixtures import IMAGE, PROJECT, PUBLIC_URL, SPEC, Cloud
from tests.aws.conftest import REGION
from tests.threads import Worker

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def wait_for(check: Callable[[], T | None], timeout: float = 30.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_build_streams_a_cached_launch_to_ready(cloud: Cloud) -> None:
    from functions.launch.app import create

    cloud.push_image(IMAGE)
    http = TestClient(create(), headers=through_cloudfront(cloud))
    events: list[dict[str, Any]] = []

    def read_stream() -> None:
        with http.stream("GET", f"/build/gh/{SPEC}") as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            for line in response.iter_lines():
                if line.startswith("data: "):
                    events.append(json.loads(line.removeprefix("data: ")))

    reader = Worker(read_stream, name="the /build reader")
    reader.start()
    session = wait_for(lambda: next(iter(cloud.binder.store.list({SessionState.STARTING})), None))
    cloud.send_reap(cloud.task_event("ecs-task-running", session.task_id))
    reader.result(30)  # its assertions fail here, and so does a reader still running
    phases = [e["phase"] for e in events]
    # One or two `launching` events, as the stream saw the server starting or not.
    assert phases[0] == "built" and phases[-1] == "ready" and set(phases[1:-1]) == {"launching"}
    assert events[-1]["url"] == f"{PUBLIC_URL}/s/{session.id}/"
    assert events[-1]["token"] == session.token
    versions = http.get("/versions").json()
    assert versions["builder_info"]["builder"] == "AWS CodeBuild"
    assert session.client_ip == "198.51.100.7"  # the viewer CloudFront saw


def through_cloudfront(cloud: Cloud, viewer: str = "198.51.100.7:53211") -> dict[str, str]:
    """The headers CloudFront adds to what it sends the API: the origin secret, the viewer."""
    return {
        names.ORIGIN_SECRET_HEADER: cloud.deployment.origin_secret,
        names.VIEWER_ADDRESS_HEADER: viewer,
    }


def test_only_requests_through_cloudfront_reach_the_app(cloud: Cloud) -> None:
    """The API Gateway endpoint is public: a request sent to it directly lacks the origin
    secret, and is refused before anything runs, whatever it claims to come from."""
    from functions.launch.app import create

    cloud.push_image(IMAGE)
    direct = TestClient(create())
    forged = {"X-Forwarded-For": "203.0.113.9", names.VIEWER_ADDRESS_HEADER: "203.0.113.9:1"}
    for headers in ({}, forged, {names.ORIGIN_SECRET_HEADER: "guessed"}):
        answer = direct.get(f"/build/gh/{SPEC}", headers=headers)
        assert answer.status_code == 403 and "public address" in answer.text
        assert direct.get("/", headers=headers).status_code == 403
    assert cloud.binder.store.list() == []  # nothing was launched
    assert direct.get("/health").status_code == 200  # the adapter's readiness check
    # The admin API is authorised by IAM at API Gateway, where operators call it directly.
    assert direct.get("/api/admin/sessions").status_code == 403
    assert "public address" not in direct.get("/api/admin/sessions").text


def test_the_client_address_is_the_one_cloudfront_saw_not_a_forwarded_one(cloud: Cloud) -> None:
    from functions.launch.app import create

    cloud.push_image(IMAGE)
    http = TestClient(create(), headers=through_cloudfront(cloud, "[2001:db8::7]:443"))
    spoofed = {"X-Forwarded-For": "6.6.6.6, 203.0.113.7"}
    with http.stream("GET", f"/build/gh/{SPEC}", headers=spoofed) as response:
        assert response.status_code == 200
        assert response.headers["x-ratelimit-remaining"] == "9"
    (session,) = cloud.binder.store.list()
    assert session.client_ip == "2001:db8::7"


# Started before uvicorn in run.sh's process: moto in that process, the deployment in it, and
# the functions' environment for it, as the Lambda service would set it.
SITE = """
import os, sys
from moto import mock_aws
mock_aws().start()
sys.path.insert(0, {root!r})
import tests.aws.conftest  # first, as pytest imports it: it imports compute_fixtures
from tests.aws.compute_fixtures import deploy
os.environ.update(deploy().env)
"""


def test_run_sh_serves_the_app_on_the_adapters_port(tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text(SITE.format(root=str(ROOT)))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    environment = {
        "HOME": str(tmp_path),
        "PORT": str(port),
        "PYTHONPATH": f"{tmp_path}:{ROOT}",
        "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ.get('PATH', '')}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    process = subprocess.Popen(
        ["sh", "run.sh"],
        cwd=ROOT / "functions" / "launch",
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        health = wait_for(lambda: _get(f"http://127.0.0.1:{port}/health"), timeout=60)
        assert health.status_code == 200
        assert health.json() == {"ok": True, "checks": [{"service": "store", "ok": True}]}
        secret = {names.ORIGIN_SECRET_HEADER: deploy_secret()}
        versions = _get(f"http://127.0.0.1:{port}/versions", secret)
        assert versions is not None
        assert versions.json()["builder_info"]["project"] == PROJECT
        refused = _get(f"http://127.0.0.1:{port}/versions")
        assert refused is not None and refused.status_code == 403
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0].decode(errors="replace")
    assert f"Uvicorn running on http://127.0.0.1:{port}" in output


def deploy_secret() -> str:
    """The origin secret the deployment in run.sh's process has (the program renders it)."""
    import json

    from tests.aws.compute_deploy import program

    launch = program().variables("launch")
    parameter = program().parameter(launch[names.ENV_SETTINGS_PARAMETER]).inputs["value"]
    return str(json.loads(parameter)[names.ENV_ORIGIN_SECRET])


def _get(url: str, headers: dict[str, str] | None = None) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=5, headers=headers)
    except httpx.HTTPError:
        return None
