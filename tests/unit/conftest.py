"""A Binder wired with in-memory fakes for the service-layer tests."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from skybinder.domain.model import Limits
from skybinder.service.binder import Binder, ServiceConfig
from tests.fake_ports import (
    FakeBuilder,
    FakeClock,
    FakeProber,
    FakeRegistry,
    FakeResolver,
    FakeRouter,
    FakeRunner,
)
from tests.fakes import FakeSessionStore

SHA = "a" * 40
OTHER_SHA = "b" * 40


@dataclass
class World:
    binder: Binder
    store: FakeSessionStore
    registry: FakeRegistry
    builder: FakeBuilder
    runner: FakeRunner
    router: FakeRouter
    prober: FakeProber
    resolver: FakeResolver
    clock: FakeClock

    def routes(self) -> dict[str, str]:
        """What the session proxy would route, as the store says: session id -> address."""
        found = {sid: self.store.route(sid) for sid in list(self.store.sessions)}
        return {sid: r.address for sid, r in found.items() if r is not None and r.routable}


def make_world(limits: Limits | None = None) -> World:
    registry = FakeRegistry()
    parts = {
        "store": FakeSessionStore(),
        "registry": registry,
        "builder": FakeBuilder(registry),
        "runner": FakeRunner(),
        "router": FakeRouter(),
        "prober": FakeProber(),
        "resolver": FakeResolver(
            {"u/r/HEAD": SHA, "u/r/main": SHA, "u/r/old": OTHER_SHA, "u/other/HEAD": SHA}
        ),
        "clock": FakeClock(),
    }
    config = ServiceConfig(
        limits=limits or Limits(),
        poll_interval=1.0,
        max_age=3600.0,
        start_timeout=120.0,
        build_timeout=1800.0,
    )
    binder = Binder(config=config, **parts)  # type: ignore[arg-type]
    return World(binder=binder, **parts)  # type: ignore[arg-type]


@pytest.fixture
def world() -> World:
    return make_world()
