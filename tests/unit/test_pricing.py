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
    rates,
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


def test_prices_that_do_not_divide_evenly_are_rounded_up_never_to_the_nearest() -> None:
    # 0.25 x $0.04048 + 0.5 x $0.004445 = $0.0123425 per hour: 12,342.5 micro-dollars -> 12,343
    assert hourly_micros(PRICES, 0.25, 0.5, Capacity.ON_DEMAND) == 12_343
    # 62 s at 49,370 per hour = 850.26 -> 851; 3 s at a micro-dollar an hour -> the minute: 1
    assert cost_micros(49_370, 62) == 851
    assert cost_micros(1, 3) == cost_micros(1, 60) == 1
    # 95 minutes at 12,343 per hour = 19,543.08 -> 19,544
    assert worst_case_micros(12_343, 95) == 19_544


def test_binary_noise_does_not_add_a_micro_dollar() -> None:
    # 0.1 + 0.2 is 0.30000000000000004 in binary: still exactly $0.30 per hour.
    noisy = Prices(vcpu_hour=0.1, gb_hour=0.2)
    assert hourly_micros(noisy, 1, 1, Capacity.ON_DEMAND) == 300_000
    assert cost_micros(300_000, 3600) == 300_000


def test_rates_price_a_task_on_each_capacity() -> None:
    assert rates(PRICES, 1, 2) == {Capacity.SPOT: 19_760, Capacity.ON_DEMAND: 49_370}
    assert rates(Prices(public_ip=True), 0.25, 0.5) == {
        Capacity.SPOT: 4_050 + 890 + 5_000,  # 0.25 x 16,200 + 0.5 x 1,780 + the address
        Capacity.ON_DEMAND: 12_343 + 5_000,
    }


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
    assert micros_of(0.0000014) == 1 and micros_of(0.0000016) == 2  # typed: to the nearest
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
