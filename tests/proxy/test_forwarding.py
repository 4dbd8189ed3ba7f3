"""HTTP through the proxy: every method, the raw path, the headers Jupyter needs, bodies."""

from __future__ import annotations

import gzip

import pytest
from yarl import URL

from skybinder.proxy import ProxyConfig
from tests.proxy.conftest import FAST, SID, harness, run
from tests.proxy.upstream import TOKEN

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]


@pytest.mark.parametrize("method", METHODS)
def test_every_method_reaches_the_session_with_its_raw_path_and_body(method: str) -> None:
    async def main() -> None:
        async with harness() as h:
            h.add()
            path = f"/s/{SID}/api/contents/a%20b/c%2Fd.ipynb?content=0&x=%2F"
            data = b"payload" if method not in {"GET", "HEAD", "OPTIONS"} else None
            raw = URL(h.url(path), encoded=True)  # sent exactly as written
            async with h.http.request(method, raw, data=data) as reply:
                assert reply.status == 200
            (seen,) = h.seen.requests
            assert (seen["method"], seen["raw_path"]) == (method, path)
            assert seen["body"] == (data or b"")

    run(main())


def test_jupyter_headers_pass_and_forwarded_headers_say_who_asked() -> None:
    async def main() -> None:
        async with harness() as h:
            h.add()
            sent = {
                "Host": "binder.example.org",
                "Origin": "https://binder.example.org",
                "Cookie": "_xsrf=abc; username-x=y",
                "Authorization": f"token {TOKEN}",
                "X-XSRFToken": "abc",
                "X-Forwarded-For": "6.6.6.6",  # a client's own claim: not believed
                "X-Real-IP": "6.6.6.6",
                "Connection": "keep-alive, X-Hop",
                "X-Hop": "this hop only",
            }
            async with h.http.get(h.url(f"/s/{SID}/api/x"), headers=sent) as reply:
                assert reply.headers.getall("Set-Cookie") == ["a=1; Path=/", "b=2; Path=/"]
            got = dict(h.seen.requests[0]["headers"])  # type: ignore[arg-type]
            for name in ("Host", "Origin", "Cookie", "Authorization", "X-XSRFToken"):
                assert got[name] == sent[name]
            assert got["X-Forwarded-For"] == "127.0.0.1"
            assert got["X-Forwarded-Proto"] == "http"
            assert got["X-Forwarded-Host"] == "binder.example.org"
            assert "X-Real-IP" not in got and "X-Hop" not in got

    run(main())


def test_behind_a_trusted_load_balancer_the_chain_is_kept_and_extended() -> None:
    async def main() -> None:
        config = ProxyConfig(**{**FAST.__dict__, "trust_forwarded": True})
        async with harness(config) as h:
            h.add()
            sent = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
            async with h.http.get(h.url(f"/s/{SID}/api/x"), headers=sent):
                pass
            got = dict(h.seen.requests[0]["headers"])  # type: ignore[arg-type]
            assert got["X-Forwarded-For"] == "203.0.113.9, 127.0.0.1"
            assert got["X-Forwarded-Proto"] == "https"

    run(main())


def test_both_token_forms_work_and_a_missing_token_is_the_servers_refusal() -> None:
    async def main() -> None:
        async with harness() as h:
            h.add()
            guarded = h.url(f"/s/{SID}/api/guarded")
            async with h.http.get(guarded, params={"token": TOKEN}) as reply:
                assert reply.status == 200
            auth = {"Authorization": f"token {TOKEN}"}
            async with h.http.get(guarded, headers=auth) as reply:
                assert reply.status == 200
            async with h.http.get(guarded) as reply:
                assert reply.status == 403  # Jupyter's answer: the proxy adds no login

    run(main())


@pytest.mark.parametrize(
    "path", ["proxy/8050/", "proxy/absolute/8050/_dash-layout", "voila/render/x.ipynb", "rstudio/"]
)
def test_jupyter_server_proxy_paths_pass_unchanged(path: str) -> None:
    async def main() -> None:
        async with harness() as h:
            h.add()
            async with h.http.get(h.url(f"/s/{SID}/{path}")) as reply:
                assert (await reply.json())["raw_path"] == f"/s/{SID}/{path}"

    run(main())


def test_compressed_bodies_pass_as_they_are() -> None:
    async def main() -> None:
        async with harness() as h:
            h.add()
            async with h.http.get(h.url(f"/s/{SID}/gzip")) as reply:
                assert reply.headers["Content-Encoding"] == "gzip"
                assert gzip.decompress(await reply.read()) == b"x" * 1000

    run(main())


def test_the_session_base_without_its_slash_redirects_with_the_query() -> None:
    async def main() -> None:
        async with harness() as h:
            h.add()
            url = h.url(f"/s/{SID}?token=t")
            async with h.http.get(url, allow_redirects=False) as reply:
                assert reply.status == 307
                assert reply.headers["Location"] == f"/s/{SID}/?token=t"
            assert h.store.route_reads == 0

    run(main())


def test_the_binders_own_cookies_never_reach_a_session() -> None:
    async def main() -> None:
        config = ProxyConfig(**{**FAST.__dict__, "private_cookies": ("skybinder-token-8585",)})
        async with harness(config) as h:
            h.add()
            cookie = {"Cookie": "_xsrf=abc; skybinder-token-8585=secret; username-x=y"}
            async with h.http.get(h.url(f"/s/{SID}/api/x"), headers=cookie):
                pass
            alone = {"Cookie": "skybinder-token-8585=secret"}
            async with h.http.get(h.url(f"/s/{SID}/api/x"), headers=alone):
                pass
            first, second = (dict(r["headers"]) for r in h.seen.requests)  # type: ignore[call-overload]
            assert first["Cookie"] == "_xsrf=abc; username-x=y"
            assert "Cookie" not in second

    run(main())
