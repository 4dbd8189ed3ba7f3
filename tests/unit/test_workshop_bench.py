"""The simulated workshop (bench/workshop.py): the budget holds, the counts are sane, and the
check would catch an overshoot."""

from __future__ import annotations

import dataclasses
import random

import pytest

from bench.workshop import SCENARIOS, verdict
from bench.workshop_platform import Platform, SimRunner, SimTask, Timeline
from bench.workshop_sim import Outcome, Scenario, simulate
from skybinder.domain.errors import LaunchError
from skybinder.domain.model import CapacityPolicy
from skybinder.domain.pricing import Capacity
from skybinder.service.ports import LaunchRequest
from tests.fake_ports import FakeClock

BY_NAME = {s.name: s for s in SCENARIOS}


def small(scenario: Scenario) -> Scenario:
    """The scenario at a third of its size (seats, attendees and budget), to run quickly."""
    return dataclasses.replace(
        scenario,
        seats=scenario.seats // 3,
        attendees=scenario.attendees // 3,
        budget_usd=scenario.budget_usd / 3,
    )


def assert_sane(o: Outcome, scenario: Scenario) -> None:
    assert o.true_spend <= o.budget and o.settled <= o.budget
    assert o.admitted > 0 and o.attempts == o.admitted + sum(o.refused.values())
    assert 0 < o.peak <= scenario.seats
    assert o.first_ready is not None
    # Every task stopped, every session ended and settled, nothing is still reserved.
    assert (o.leaked_tasks, o.open_sessions, o.reserved_left) == (0, 0, 0)


@pytest.mark.parametrize("seed", [3, 11])
def test_a_stormy_warm_workshop_on_a_tight_budget_never_overspends(seed: int) -> None:
    scenario = small(BY_NAME["tight-budget-warm-stormy"])
    o = simulate(scenario, seed)
    assert_sane(o, scenario)
    assert (
        o.refused["budget-reserved"] + o.refused["budget-spent"] > 0
    )  # the budget, not the seats, turned people away
    assert o.peak < scenario.seats
    assert o.warm_handovers > 0
    assert o.first_ready is not None and o.first_ready < 30  # a warm session, at once
    assert o.interruptions > 0 and o.endings["interrupted"] > 0
    assert o.endings["left"] > 0 and o.endings["event-end"] + o.endings["max-minutes"] > 0
    assert "zero overshoot across 1 seeds" in verdict([o])


def test_the_worst_case_spends_the_budget_almost_to_the_cent_and_no_further() -> None:
    scenario = small(BY_NAME["worst-case-on-demand"])
    o = simulate(scenario, 5)
    assert_sane(o, scenario)
    assert o.true_spend >= 0.97 * o.budget  # the claim is tested where it is tight
    assert o.refused["full"] > 0 and o.refused["budget-reserved"] + o.refused["budget-spent"] > 0
    assert o.endings["max-minutes"] > 0


def test_an_overshoot_is_caught_when_the_grace_does_not_cover_the_stop() -> None:
    base = BY_NAME["worst-case-on-demand"]  # full size: 120 sessions overrunning at once
    # No grace: admission reserves exactly max minutes, but the reaper's interval and the
    # task's stop run past them, and AWS bills that.
    scenario = dataclasses.replace(
        base, config=dataclasses.replace(base.config, event_grace_minutes=0.0)
    )
    o = simulate(scenario, 5)
    assert o.overshoot > 0
    assert "OVERSHOOT in 1 of 1 seeds" in verdict([o])


def test_aws_bills_a_task_per_second_with_a_minute_minimum() -> None:
    task = SimTask("t", "s", Capacity.SPOT, hourly=3600, started=100.0, idle_timeout=0)
    task.stop_at = 130.0
    assert task.billed(until=10_000.0) == 60  # 30 s, billed as a minute
    task.stop_at = 190.5
    assert task.billed(until=10_000.0) == 91  # 90.5 s, rounded up
    task.stop_at = None
    assert task.billed(until=400.0) == 300  # still running: billed until now


def test_without_spot_capacity_the_runner_falls_back_or_refuses() -> None:
    prices = {Capacity.SPOT: 1, Capacity.ON_DEMAND: 2}
    runner = SimRunner(
        Timeline(FakeClock()), random.Random(0), Platform(spot_unavailable=1.0), prices
    )

    def start(policy: CapacityPolicy) -> str:
        return runner.start(
            LaunchRequest(
                session_id=policy.value, image_name="i", base_url="/s/s/", token="t", env={},
                capacity=policy,
            )
        )  # fmt: skip

    task = runner.tasks[start(CapacityPolicy.SPOT_FALLBACK)]
    assert (task.capacity, task.hourly) == (Capacity.ON_DEMAND, 2)
    with pytest.raises(LaunchError, match="no capacity"):
        start(CapacityPolicy.SPOT)
