"""Routes are read once per burst, cached briefly, forgotten when the server stops answering."""

from __future__ import annotations

import asyncio

from skybinder.domain.model import SessionState
from tests.proxy.conftest import SID, free_port, harness, run

S = SessionState


def test_a_burst_for_one_session_is_one_store_read() -> None:
    async def main() -> None:
        async with harness() as h:
            h.add()

            async def one() -> int:
                async with h.http.get(h.url(f"/s/{SID}/api/x")) as reply:
                    return reply.status

            assert await asyncio.gather(*(one() for _ in range(50))) == [200] * 50
            assert h.store.route_reads == 1

    run(main())


def test_unknown_ids_are_cached_too() -> None:
    async def main() -> None:
        async with harness() as h:
            for _ in range(20):
                async with h.http.get(h.url("/s/ffffffffffffffff/api")) as reply:
                    assert reply.status == 404
            assert h.store.route_reads == 1

    run(main())


def test_a_stopped_session_is_no_longer_routed_once_its_route_expires() -> None:
    async def main() -> None:
        async with harness() as h:  # routes live 0.3 s here (5 s by default)
            h.add()
            async with h.http.get(h.url(f"/s/{SID}/api")) as reply:
                assert reply.status == 200
            h.store.transition(SID, {S.READY}, S.STOPPED, reason="stopped by an operator")
            await asyncio.sleep(0.4)
            async with h.http.get(h.url(f"/s/{SID}/api")) as reply:
                assert reply.status == 410
            assert len(h.seen.requests) == 1

    run(main())


def test_a_server_that_died_after_the_look_up_gets_a_clear_502_and_its_route_evicted() -> None:
    async def main() -> None:
        async with harness() as h:
            h.add()
            async with h.http.get(h.url(f"/s/{SID}/api")) as reply:
                assert reply.status == 200  # routed, and the route is cached
            # The task dies and a relaunch records a new address: the cached one is stale.
            dead = f"127.0.0.1:{free_port()}"
            h.proxy.routes._entries[SID] = (h.store.route(SID).model_copy(  # type: ignore[union-attr]
                update={"address": dead}), float("inf"))  # fmt: skip
            reads = h.store.route_reads
            async with h.http.get(h.url(f"/s/{SID}/lab"), headers={"Accept": "text/html"}) as r:
                assert r.status == 502
                assert "not answering" in await r.text()
            async with h.http.get(h.url(f"/s/{SID}/api")) as reply:
                assert reply.status == 200  # read again: the store's address answers
            assert h.store.route_reads == reads + 1

    run(main())


def test_a_starting_server_that_refuses_connections_is_still_starting() -> None:
    async def main() -> None:
        async with harness() as h:
            h.add(state=S.STARTING, address=f"127.0.0.1:{free_port()}")
            async with h.http.get(h.url(f"/s/{SID}/lab")) as reply:
                assert reply.status == 503
                assert (await reply.json())["status"] == "starting"

    run(main())


def test_the_cache_is_bounded() -> None:
    async def main() -> None:
        from dataclasses import replace

        from tests.proxy.conftest import FAST

        async with harness(replace(FAST, max_routes=10, negative_ttl=60)) as h:
            for i in range(30):
                async with h.http.get(h.url(f"/s/{i:016x}/api")) as reply:
                    assert reply.status == 404
            assert len(h.proxy.routes) == 10

    run(main())
