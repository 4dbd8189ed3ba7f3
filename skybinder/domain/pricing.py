"""The cost model: what a session costs from its cpu, memory, capacity type and minutes.

Money is kept in whole micro-dollars (1 USD = 1,000,000): sums and comparisons are exact in
every store (DynamoDB numbers are decimal, SQLite integers are 64-bit), and rounding happens
once, upwards, where a figure is computed, so the model never under-counts.

Fargate bills each task per second, with a one-minute minimum, for the vCPU and memory it
was given, from the start of its image pull to its end; Fargate Spot is the same at a lower,
variable price. A task with a public IPv4 address also pays for the address by the hour.
The defaults are us-east-1 (x86) list prices; Spot's is a conservative figure (a price above
what Spot usually costs, so budgets hold when Spot prices move). Operators set their own.
"""

from __future__ import annotations

import math
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from skybinder.domain.model import CapacityPolicy

MICROS = 1_000_000
MINIMUM_SECONDS = 60  # Fargate's minimum charge per task


class Capacity(StrEnum):
    """Where a task actually runs."""

    SPOT = "spot"
    ON_DEMAND = "on-demand"


class Prices(BaseModel):
    """Prices per hour in USD; defaults: us-east-1, Linux/x86."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vcpu_hour: float = Field(default=0.04048, ge=0)
    gb_hour: float = Field(default=0.004445, ge=0)
    spot_vcpu_hour: float = Field(default=0.0162, ge=0)  # ~60 % off: above typical Spot
    spot_gb_hour: float = Field(default=0.00178, ge=0)
    public_ipv4_hour: float = Field(default=0.005, ge=0)
    public_ip: bool = False  # session tasks get public addresses (and pay for them)


def hourly_micros(prices: Prices, cpu: float, memory_gb: float, capacity: Capacity) -> int:
    """The price of one task per hour, in micro-dollars, rounded up."""
    if capacity is Capacity.SPOT:
        usd = cpu * prices.spot_vcpu_hour + memory_gb * prices.spot_gb_hour
    else:
        usd = cpu * prices.vcpu_hour + memory_gb * prices.gb_hour
    if prices.public_ip:
        usd += prices.public_ipv4_hour
    return _up(usd * MICROS)


def cost_micros(hourly: int, seconds: float) -> int:
    """What a task at `hourly` micro-dollars per hour costs for `seconds` (at least a minute,
    as Fargate bills), rounded up to a whole micro-dollar."""
    if hourly <= 0:
        return 0
    billed = max(float(MINIMUM_SECONDS), seconds)
    return _up(hourly * billed / 3600)


def worst_capacity(policy: CapacityPolicy) -> Capacity:
    """The dearest capacity a session under `policy` may land on."""
    return Capacity.SPOT if policy is CapacityPolicy.SPOT else Capacity.ON_DEMAND


def preferred_capacity(policy: CapacityPolicy) -> Capacity:
    """Where a session under `policy` lands when capacity is there."""
    return Capacity.ON_DEMAND if policy is CapacityPolicy.ON_DEMAND else Capacity.SPOT


def worst_case_micros(hourly: int, minutes: float) -> int:
    """The most a session at `hourly` can cost when it runs `minutes` at most."""
    return cost_micros(hourly, minutes * 60)


def usd(micros: int) -> float:
    """Micro-dollars as dollars, for display (cents and below kept)."""
    return micros / MICROS


def micros_of(dollars: float) -> int:
    """Dollars as micro-dollars, rounded to the nearest (a budget is an amount someone typed)."""
    return round(dollars * MICROS)


def _up(value: float) -> int:
    # A hair of tolerance so that binary noise (0.1 + 0.2) does not add a micro-dollar.
    return math.ceil(value - 1e-6)


def rates(prices: Prices, cpu: float, memory_gb: float) -> dict[Capacity, int]:
    """The price per hour of a task of this size on each capacity, in micro-dollars."""
    return {capacity: hourly_micros(prices, cpu, memory_gb, capacity) for capacity in Capacity}
