"""Events: workshops with seats, a time window and a dollar cap (DESIGN.md §7).

An `EventRequest` is what an operator asks for (the admin API's JSON); an `Event` is what the
store keeps: the request with its repository pinned to a commit, its prices fixed at creation
(so a later price change does not move an event's accounting) and the worst case one session
may cost, which admission reserves. `EventUsage` is what the store counts for an event.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from skybinder.domain.model import CapacityPolicy

SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$"
# Fargate's task sizes: vCPU -> the memory (GB) it may have.
FARGATE_SIZES: dict[float, tuple[float, ...]] = {
    0.25: (0.5, 1, 2),
    0.5: (1, 2, 3, 4),
    1: tuple(range(2, 9)),
    2: tuple(range(4, 17)),
    4: tuple(range(8, 31)),
    8: tuple(range(16, 61, 4)),
    16: tuple(range(32, 121, 8)),
}

# Event fields that only the event's creation sets: its identity, repository, prices and size.
EVENT_FIXED = (
    "slug", "provider", "spec", "resolved_spec", "repo_url", "ref", "image_name", "seats",
    "budget_micros", "capacity", "cpu", "memory_gb", "max_minutes", "spot_hourly_micros",
    "on_demand_hourly_micros", "reserve_micros",
)  # fmt: skip


class EventRequest(BaseModel):
    """`POST /api/admin/events`: what an operator declares."""

    model_config = ConfigDict(extra="forbid")

    slug: str = Field(pattern=SLUG_PATTERN)
    title: str = Field(min_length=1, max_length=200)
    provider: str = Field(min_length=1, max_length=64)
    spec: str = Field(min_length=1, max_length=1000)
    starts_at: datetime
    ends_at: datetime
    seats: int = Field(ge=1, le=10_000)
    budget_usd: float = Field(gt=0, le=1_000_000)
    capacity: CapacityPolicy = CapacityPolicy.SPOT_FALLBACK
    cpu: float = 1.0
    memory_gb: float = 2.0
    max_minutes: int = Field(default=240, ge=1, le=24 * 60)
    access_code: str | None = Field(default=None, min_length=1, max_length=200)
    warm_pool: int = Field(default=0, ge=0, le=500)

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        # A time without a zone is read as UTC: the one reading that is the same everywhere.
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    @model_validator(mode="after")
    def _consistent(self) -> EventRequest:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        sizes = FARGATE_SIZES.get(self.cpu)
        if sizes is None:
            raise ValueError(
                f"cpu must be one of Fargate's sizes {sorted(FARGATE_SIZES)}, not {self.cpu}"
            )
        if self.memory_gb not in sizes:
            raise ValueError(
                f"Fargate gives {self.cpu:g} vCPU {', '.join(f'{m:g}' for m in sizes)} GB of "
                f"memory, not {self.memory_gb:g}"
            )
        if self.warm_pool > self.seats:
            raise ValueError("warm_pool cannot be larger than seats")
        return self


class Event(BaseModel):
    """An event as stored: the request, pinned and priced."""

    slug: str
    title: str
    provider: str
    spec: str
    # The repository, pinned at creation: attendees launch exactly this.
    resolved_spec: str = ""
    repo_url: str = ""
    ref: str = ""
    ref_url: str = ""
    repo_key: str = ""
    image_name: str = ""
    starts_at: float  # epoch seconds
    ends_at: float
    seats: int
    budget_micros: int
    capacity: CapacityPolicy
    cpu: float
    memory_gb: float
    max_minutes: int
    access_code_hash: str = ""  # sha256 of the code; the code itself is not kept
    warm_pool: int = 0
    # Prices per hour of one session, in micro-dollars, fixed at creation.
    spot_hourly_micros: int = 0
    on_demand_hourly_micros: int = 0
    reserve_micros: int = 0  # the worst case of one session: what admission reserves
    created_at: float = 0.0
    closed_at: float | None = None
    prebuild_session: str = ""  # the build-only session that made the image before the start

    def spec_matches(self, provider: str, spec: str) -> bool:
        """True when a launch names this event's repository (as declared or as pinned)."""
        return provider == self.provider and spec in {self.spec, self.resolved_spec}

    def code_ok(self, code: str | None) -> bool:
        """True when the event needs no code or `code` is its code (in constant time)."""
        if not self.access_code_hash:
            return True
        return hmac.compare_digest(hash_code(code or ""), self.access_code_hash)


class EventUsage(BaseModel):
    """What an event holds and has spent, as its store counts it."""

    seats_in_use: int = 0  # active sessions, warm ones included
    reserved_micros: int = 0  # worst cases held by active sessions
    spent_micros: int = 0  # settled costs of ended sessions
    sessions: int = 0  # sessions ever admitted
    interruptions: int = 0  # Spot interruptions its ended sessions met (counted as they end)
    warm_idle: int = 0  # warm sessions not yet handed to an attendee

    def remaining_micros(self, event: Event) -> int:
        return event.budget_micros - self.spent_micros - self.reserved_micros


def hash_code(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def epoch(moment: datetime) -> float:
    return moment.timestamp()


def iso(seconds: float) -> str:
    """Epoch seconds as ISO 8601 in UTC, to the second."""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")
