"""The throttle on event access codes (service/access_codes.py), one step at a time on a fake
clock: what is counted, when the window shuts and when it opens again, and what each answer
says (tests/api/test_access_codes.py guesses through the API against each real limiter)."""

from __future__ import annotations

from typing import Any

import pytest

from skybinder.domain.errors import AccessCodeError
from skybinder.domain.event import Event, hash_code
from skybinder.domain.model import CapacityPolicy
from skybinder.service.access_codes import (
    GUESS_WINDOW,
    MAX_GUESSES,
    check_access_code,
    guess_key,
)
from tests.fakes import FakeRateLimiter
from tests.unit.conftest import World

CODE = "tide-pool-42"
IP = "198.51.100.7"
T0 = 1_800_000_000.0


def event(code: str = CODE, **fields: Any) -> Event:
    values: dict[str, Any] = {
        "slug": "swc", "title": "Python workshop", "provider": "gh", "spec": "a/b/main",
        "starts_at": T0, "ends_at": T0 + 3600, "seats": 3, "budget_micros": 10**7,
        "capacity": CapacityPolicy.SPOT, "cpu": 1.0, "memory_gb": 2.0, "max_minutes": 60,
        "access_code_hash": hash_code(code) if code else "",
    }  # fmt: skip
    return Event(**{**values, **fields})


class Door:
    """One event's door, its limiter and the world's clock."""

    def __init__(self, world: World, ev: Event | None = None) -> None:
        self.world, self.event, self.limiter = world, ev or event(), FakeRateLimiter()

    def attempt(self, code: str | None, ip: str = IP) -> None:
        check_access_code(self.world.binder, self.limiter, self.event, code, ip)

    def refusal(self, code: str | None, ip: str = IP) -> AccessCodeError:
        with pytest.raises(AccessCodeError) as caught:
            self.attempt(code, ip)
        return caught.value

    def later(self, seconds: float) -> None:
        self.world.clock.t += seconds


@pytest.fixture
def door(world: World) -> Door:
    world.clock.t = T0
    return Door(world)


def test_the_right_code_opens_and_is_never_counted(door: Door) -> None:
    for _ in range(MAX_GUESSES * 2):
        door.attempt(CODE)
    assert door.limiter.checks == []


@pytest.mark.parametrize("code", [None, ""])
def test_no_code_yet_is_asked_for_and_not_counted_as_a_guess(door: Door, code: str | None) -> None:
    for _ in range(MAX_GUESSES + 1):
        refused = door.refusal(code)
        assert refused.status_code == 403
        assert str(refused) == "Python workshop needs an access code. Ask the organisers for it."
    assert door.limiter.checks == []
    door.attempt(CODE)


def test_a_wrong_code_is_refused_and_counted_in_a_window_of_its_own(door: Door) -> None:
    refused = door.refusal("guess")
    assert refused.status_code == 403
    assert str(refused) == "That access code is not right. Check it with the organisers."
    key = guess_key("swc", IP)
    assert door.limiter.checks == [key]
    assert door.limiter.attempts(key, T0) == (1, int(T0) + GUESS_WINDOW)


def test_after_the_last_allowed_guess_everyone_guessing_waits_for_the_window(door: Door) -> None:
    for i in range(MAX_GUESSES - 1):
        assert door.refusal(f"guess-{i}").status_code == 403
    door.attempt(CODE)  # the right code still opens, after four wrong ones
    assert door.refusal("guess-last").status_code == 403  # the fifth: still only wrong
    door.later(20.4)
    for code in (CODE, "another", None):  # the right code too: no answer tells which is right
        refused = door.refusal(code)
        assert refused.status_code == 429
        assert str(refused) == (
            "Too many wrong access codes were tried from your address. Try again in 40 "
            "seconds, with the code the organisers gave you."
        )
    assert door.limiter.attempts(guess_key("swc", IP), T0)[0] == MAX_GUESSES  # not counted on


def test_the_wait_is_whole_seconds_and_at_least_one(door: Door) -> None:
    for i in range(MAX_GUESSES):
        door.refusal(f"guess-{i}")
    door.later(GUESS_WINDOW - 0.25)
    assert "Try again in 1 seconds" in str(door.refusal(CODE))
    door.later(0.25)  # the window is over: the right code opens again
    door.attempt(CODE)
    assert door.refusal("guess").status_code == 403  # and a new window starts counting


def test_the_throttle_holds_one_address_and_one_event(door: Door, world: World) -> None:
    for i in range(MAX_GUESSES):
        door.refusal(f"guess-{i}")
    assert door.refusal(CODE).status_code == 429
    door.attempt(CODE, ip="203.0.113.9")  # another address
    door.attempt(CODE, ip="::ffff:203.0.113.9")
    other = Door(world, event(slug="other"))
    other.limiter = door.limiter  # one limiter holds every event's windows
    other.attempt(CODE)
    # One IPv6 host holds a /64: its addresses are one address.
    for i in range(MAX_GUESSES):
        door.refusal(f"guess-{i}", ip=f"2001:db8:1:2::{i + 1}")
    assert door.refusal(CODE, ip="2001:db8:1:2:ffff::").status_code == 429
    door.attempt(CODE, ip="2001:db8:1:3::1")
    # An IPv4 address written as IPv6 is that IPv4 address.
    assert door.refusal(CODE, ip=f"::ffff:{IP}").status_code == 429


def test_an_event_without_a_code_opens_to_anyone_and_counts_nothing(world: World) -> None:
    door = Door(world, event(code=""))
    for code in (None, "", "anything"):
        door.attempt(code)
    assert door.limiter.checks == [] and door.limiter.windows == {}


@pytest.mark.parametrize(
    ("slug", "ip", "key"),
    [
        ("swc", "198.51.100.7", "code:swc:198.51.100.7"),
        ("swc", "2001:db8:1:2:3:4:5:6", "code:swc:2001:db8:1:2::/64"),
        ("other", "::ffff:198.51.100.7", "code:other:198.51.100.7"),
        ("swc", "", "code:swc:unknown"),
    ],
)
def test_guesses_are_counted_under_keys_of_their_own(slug: str, ip: str, key: str) -> None:
    # "code:" keeps them apart from the launch limit's keys and the build tokens' in the
    # limiter both share.
    assert guess_key(slug, ip) == key
