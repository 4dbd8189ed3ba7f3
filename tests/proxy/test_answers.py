"""What the proxy answers instead of forwarding: malformed, unknown, starting and ended
sessions, as a page for browsers and JSON with a status code for programs."""

from __future__ import annotations

import pytest
from yarl import URL

from skybinder.domain.model import SessionState
from tests.proxy.conftest import SID, harness, run

S = SessionState
HTML = {"Accept": "text/html,application/xhtml+xml"}
MALFORMED = [
    "/s/../etc/passwd",
    "/s/%2e%2e/x",
    f"/s/{SID}%2F..%2Fother/api",
    "/s/abc%2Fdef/",
    "/s/" + "a" * 65 + "/",
    "/s/caf%C3%A9/",
    "/s/ABCDEF/",
    "/s//api",
    "/s/",
    "/s",
    f"/s/{SID}/../{SID}x/api",
    f"/s/{SID}/api/%2E%2E/x",
]


@pytest.mark.parametrize("path", MALFORMED)
def test_malformed_addresses_are_refused_without_a_look_up(path: str) -> None:
    async def main() -> None:
        async with harness() as h:
            h.add()
            async with h.http.get(URL(h.url(path), encoded=True)) as reply:
                assert reply.status == 400, path
                body = await reply.json()
                assert body["status"] == "malformed" and "/s/<session id>/" in body["message"]
            assert h.store.route_reads == 0 and h.seen.requests == []

    run(main())


def test_an_unknown_session_is_a_404_page_or_json() -> None:
    async def main() -> None:
        async with harness() as h:
            async with h.http.get(h.url("/s/ffffffffffffffff/lab"), headers=HTML) as reply:
                assert reply.status == 404 and reply.content_type == "text/html"
                page = await reply.text()
                assert "No such session" in page and "Launch the repository again" in page
                assert "default-src 'none'" in reply.headers["Content-Security-Policy"]
            async with h.http.get(h.url("/s/ffffffffffffffff/api/kernels")) as reply:
                assert reply.status == 404
                assert (await reply.json())["status"] == "unknown"

    run(main())


@pytest.mark.parametrize("state", [S.QUEUED, S.BUILDING, S.BUILT, S.LAUNCHING])
def test_a_session_on_its_way_says_it_is_starting_and_reloads(state: SessionState) -> None:
    async def main() -> None:
        async with harness() as h:
            h.add(state=state, address="")
            async with h.http.get(h.url(f"/s/{SID}/lab"), headers=HTML) as reply:
                assert reply.status == 503 and reply.headers["Retry-After"] == "2"
                page = await reply.text()
                assert "still starting" in page and 'http-equiv="refresh"' in page
            async with h.http.get(h.url(f"/s/{SID}/api/status")) as reply:
                body = await reply.json()
                assert (reply.status, body["status"]) == (503, "starting")

    run(main())


@pytest.mark.parametrize("state", [S.STOPPED, S.FAILED])
def test_an_ended_session_offers_to_launch_it_again(state: SessionState) -> None:
    async def main() -> None:
        async with harness() as h:
            reason = "idle: no activity for 10 minutes\nmore detail <script>"
            h.add(state=state, reason=reason)
            async with h.http.get(h.url(f"/s/{SID}/lab"), headers=HTML) as reply:
                assert reply.status == 410
                page = await reply.text()
                assert "This session has ended — launch it again" in page
                assert 'href="/v2/gh/u/r/main"' in page
                assert "idle: no activity for 10 minutes" in page and "<script>" not in page
            async with h.http.get(h.url(f"/s/{SID}/api/kernels")) as reply:
                body = await reply.json()
                assert (reply.status, body["status"], body["launch"]) == (
                    410,
                    "ended",
                    "/v2/gh/u/r/main",
                )
            assert h.seen.requests == []  # an ended session's old address is never used

    run(main())


def test_an_ended_event_session_leads_back_to_its_event() -> None:
    async def main() -> None:
        async with harness() as h:
            h.add(state=S.STOPPED, event="swc-2030")
            async with h.http.get(h.url(f"/s/{SID}/lab"), headers=HTML) as reply:
                assert 'href="/e/swc-2030"' in await reply.text()

    run(main())


def test_a_store_that_fails_is_a_503_and_is_asked_again() -> None:
    async def main() -> None:
        async with harness() as h:
            h.add()
            h.store.broken = True
            async with h.http.get(h.url(f"/s/{SID}/api")) as reply:
                assert reply.status == 503
                assert (await reply.json())["status"] == "unavailable"
            h.store.broken = False
            async with h.http.get(h.url(f"/s/{SID}/api")) as reply:
                assert reply.status == 200
            assert h.store.route_reads == 2

    run(main())


def test_health_reports_the_store_and_what_the_proxy_holds() -> None:
    async def main() -> None:
        async with harness() as h:
            async with h.http.get(h.url("/_proxy/health")) as reply:
                body = await reply.json()
                assert reply.status == 200 and body["ok"] and body["websockets"] == 0
            h.store.broken = True
            async with h.http.get(h.url("/health")) as reply:
                assert reply.status == 503 and not (await reply.json())["ok"]

    run(main())


def test_without_a_binder_behind_other_paths_are_not_found() -> None:
    async def main() -> None:
        async with harness() as h, h.http.get(h.url("/v2/gh/u/r/main")) as reply:
            assert reply.status == 404

    run(main())
