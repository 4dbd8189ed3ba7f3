"""Behind CloudFront: the origin secret keeps out requests that went around it, and the client
address is the one CloudFront saw. Without a secret (locally) nothing changes."""

from __future__ import annotations

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from skybinder.api.origin import OriginCheck, viewer_address

HEADER = "x-skybinder-origin"


@pytest.mark.parametrize(
    ("value", "address"),
    [
        ("198.51.100.7:53211", "198.51.100.7"),
        ("2001:db8:85a3::8a2e:370:7334:443", "2001:db8:85a3::8a2e:370:7334"),
        ("[2001:db8::7]:443", "2001:db8::7"),
        ("198.51.100.7", "198.51.100.7"),  # no port: the address as it is
        ("", ""),
    ],
)
def test_the_viewer_address_is_cloudfronts_without_the_port(value: str, address: str) -> None:
    app = FastAPI()
    read = viewer_address("CloudFront-Viewer-Address")

    @app.get("/who")
    def who(request: Request) -> str:
        return read(request)

    client = TestClient(app)
    headers = {"CloudFront-Viewer-Address": value} if value else {}
    assert client.get("/who", headers=headers).json() == address


def app_with_secret(secret: str) -> TestClient:
    app = FastAPI()
    for path in ("/build/x", "/health", "/api/admin", "/api/admin/sessions", "/api/adminx"):
        app.add_api_route(path, lambda: "reached")

    @app.post("/echo")
    async def echo(request: Request) -> str:
        return (await request.body()).decode()

    app.add_middleware(OriginCheck, header=HEADER, secret=lambda: secret)
    return TestClient(app)


def test_only_requests_with_the_secret_reach_the_app() -> None:
    client = app_with_secret("s3cret")
    assert client.get("/build/x", headers={HEADER: "s3cret"}).text == '"reached"'
    for headers in ({}, {HEADER: "wrong"}, {HEADER: "s3cret "}, {"X-Skybinder": "s3cret"}):
        refused = client.get("/build/x", headers=headers)
        assert refused.status_code == 403 and "public address" in refused.text
    assert client.get("/api/adminx").status_code == 403  # only the admin API's own paths
    assert client.get("/health").text == '"reached"'
    assert client.get("/api/admin/sessions").text == '"reached"'
    assert client.get("/api/admin").text == '"reached"'
    # What reaches the app is the request as it came, its body too.
    echoed = client.post("/echo", content=b"the body", headers={HEADER: "s3cret"})
    assert echoed.json() == "the body"


def test_the_secret_counts_only_as_the_one_header_cloudfront_sends() -> None:
    client = app_with_secret("s3cret")
    for values in (["s3", "cret"], ["s3cret", "s3cret"], ["s3cret", ""], ["", "s3cret"]):
        headers = [(HEADER, value) for value in values]
        assert client.get("/build/x", headers=headers).status_code == 403, values


def test_a_deployment_without_a_secret_refuses_everything() -> None:
    assert app_with_secret("").get("/build/x", headers={HEADER: ""}).status_code == 403
