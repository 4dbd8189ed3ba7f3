"""PublicUrlProber: ready only when Jupyter itself answers through the public URL."""

from __future__ import annotations

import httpx
import pytest

from skybinder.adapters.aws.http_prober import PublicUrlProber

URL = "https://binder.example.org/s/5e1f0c9a7b3d2468/"


def prober(answer: httpx.Response | Exception) -> tuple[PublicUrlProber, list[str]]:
    asked: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        if isinstance(answer, Exception):
            raise answer
        return answer

    return PublicUrlProber(httpx.Client(transport=httpx.MockTransport(handle))), asked


def test_jupyters_api_answer_means_ready() -> None:
    probe, asked = prober(httpx.Response(200, json={"version": "2.14.2"}))
    assert probe.ready(URL)
    assert asked == [URL + "api"]


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(503, text="Service Temporarily Unavailable"),  # no healthy target yet
        httpx.Response(404, text="no rule"),
        httpx.Response(200, text="<html>a CDN's error page</html>"),
        httpx.Response(200, json=["not", "jupyter"]),
        httpx.Response(200, json={"message": "hello"}),
        httpx.ConnectError("connection refused"),
        httpx.ReadTimeout("timed out"),
    ],
)
def test_anything_else_is_not_ready(answer: httpx.Response | Exception) -> None:
    probe, _ = prober(answer)
    assert not probe.ready(URL)
