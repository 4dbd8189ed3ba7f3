"""The cost model against figures computed by hand from the us-east-1 price list."""

from __future__ import annotations

import pytest

from skybinder.domain.event_admission import session_cost
from skybinder.domain.model import CapacityPolicy, Session
from skybinder.domain.pricing import (
    Capacity,
    Prices,
    cost_micros,
    hourly_micros,
    micros_of,
    preferred_capacity,
    usd,
    worst_capacity,
    worst_case_micros,
)

PRICES = Prices()


def test_on_demand_hour_of_one_vcpu_and_two_gb() -> None:
    # 1 x $0.04048 + 2 x $0.004445 = $0.04937 per hour
    assert hourly_micros(PRICES, 1, 2, Capacity.ON_DEMAND) == 49_370


def test_spot_hour_uses_the_spot_prices() -> None:
    # 1 x $0.0162 + 2 x $0.00178 = $0.01976 per hour
    assert hourly_micros(PRICES, 1, 2, Capacity.SPOT) == 19_760


def test_a_public_address_adds_its_hourly_charge() -> None:
    with_ip = Prices(public_ip=True)
    assert hourly_micros(with_ip, 1, 2, Capacity.ON_DEMAND) == 49_370 + 5_000
    assert hourly_micros(with_ip, 1, 2, Capacity.SPOT) == 19_760 + 5_000


def test_a_big_task_for_four_hours() -> None:
    # 4 x $0.04048 + 16 x $0.004445 = $0.23304 per hour; x 4 h = $0.93216
    hourly = hourly_micros(PRICES, 4, 16, Capacity.ON_DEMAND)
    assert cost_micros(hourly, 4 * 3600) == 932_160


def test_cost_is_per_second_with_a_minute_minimum_rounded_up() -> None:
    assert cost_micros(49_370, 90 * 60) == 74_055  # $0.074055 for 90 minutes
    assert cost_micros(49_370, 30) == cost_micros(49_370, 60) == 823  # 822.83 -> 823
    assert cost_micros(49_370, 61) == 837  # 836.60 -> 837
    assert cost_micros(0, 3600) == 0


def test_worst_case_and_capacities_by_policy() -> None:
    assert worst_capacity(CapacityPolicy.SPOT) is Capacity.SPOT
    assert worst_capacity(CapacityPolicy.SPOT_FALLBACK) is Capacity.ON_DEMAND
    assert worst_capacity(CapacityPolicy.ON_DEMAND) is Capacity.ON_DEMAND
    assert preferred_capacity(CapacityPolicy.SPOT_FALLBACK) is Capacity.SPOT
    assert preferred_capacity(CapacityPolicy.ON_DEMAND) is Capacity.ON_DEMAND
    # 95 minutes on-demand: 49,370 x 95 / 60 = 78,169.17 -> 78,170
    assert worst_case_micros(49_370, 95) == 78_170


def test_dollars_round_trip() -> None:
    assert micros_of(12.34) == 12_340_000
    assert usd(78_170) == pytest.approx(0.07817)


def test_settled_cost_of_a_session_runs_from_launch_to_end() -> None:
    base = Session(id="s", provider="gh", spec="a/b/c", hourly_micros=49_370)
    assert session_cost(base) == 0  # never launched: nothing to pay
    ran = base.model_copy(update={"launched_at": 1000.0, "ended_at": 1000.0 + 5400})
    assert session_cost(ran) == 74_055
    instant = base.model_copy(update={"launched_at": 1000.0, "ended_at": 1000.0})
    assert session_cost(instant) == 823  # Fargate's minimum minute
    relaunched = ran.model_copy(update={"interruptions": 2})
    assert session_cost(relaunched) == 74_055 + 2 * 823  # each lost server's minimum minute


def test_prices_refuse_unknown_or_negative_settings() -> None:
    with pytest.raises(ValueError):
        Prices(vcpu_hour=-1)
    with pytest.raises(ValueError):
        Prices.model_validate({"vcpu_hours": 1})
