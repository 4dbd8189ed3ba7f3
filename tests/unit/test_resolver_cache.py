"""CachingResolver: TTLs for moving and pinned refs, negative caching, bounds, one flight."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Sequence
from types import FrameType

import pytest

from skybinder.adapters.providers.cache import CachingResolver
from skybinder.domain.errors import ProviderUnavailableError, ResolveError, SpecError
from skybinder.service.ports import ResolvedRepo
from tests.fake_ports import FakeClock, FakeResolver
from tests.threads import Worker

SHA = "a" * 40
NEW = "b" * 40


class Counting(FakeResolver):
    """FakeResolver that can fail on demand and hold a call until released."""

    def __init__(self, refs: dict[str, str]) -> None:
        super().__init__(refs)
        self.fail_with: Exception | None = None
        self.gate: threading.Event | None = None
        self.entered = threading.Event()

    def resolve(self, provider: str, spec: str) -> ResolvedRepo:
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(5)
        if self.fail_with is not None:
            self.calls += 1
            raise self.fail_with
        repo = super().resolve(provider, spec)
        return repo.model_copy(update={"notices": ["Ref 'master' not found, trying HEAD..."]})


@pytest.fixture
def inner() -> Counting:
    return Counting({"u/r/HEAD": SHA, f"u/r/{SHA}": SHA, "u/other/HEAD": SHA})


def cache(inner: Counting, clock: FakeClock, **options: float) -> CachingResolver:
    return CachingResolver(inner, now=clock.now, **options)  # type: ignore[arg-type]


def test_moving_refs_are_cached_for_the_short_ttl(inner: Counting) -> None:
    clock = FakeClock()
    resolver = cache(inner, clock, ttl=60)
    assert resolver.resolve("gh", "u/r/HEAD").ref == SHA
    inner.refs["u/r/HEAD"] = NEW
    clock.sleep(59)
    assert resolver.resolve("gh", "u/r/HEAD/").ref == SHA  # the trailing slash is the same spec
    assert inner.calls == 1
    clock.sleep(2)
    assert resolver.resolve("gh", "u/r/HEAD").ref == NEW  # the branch moved on
    assert inner.calls == 2


def test_specs_naming_a_commit_are_cached_for_the_long_ttl(inner: Counting) -> None:
    clock = FakeClock()
    resolver = cache(inner, clock, ttl=60, pinned_ttl=86400)
    resolver.resolve("gh", f"u/r/{SHA}")
    clock.sleep(86000)
    resolver.resolve("gh", f"u/r/{SHA}")
    assert inner.calls == 1
    clock.sleep(401)
    resolver.resolve("gh", f"u/r/{SHA}")
    assert inner.calls == 2


def test_not_found_is_cached_briefly(inner: Counting) -> None:
    clock = FakeClock()
    resolver = cache(inner, clock, negative_ttl=30)
    for _ in range(3):
        with pytest.raises(ResolveError, match="Could not resolve ref 'nope'"):
            resolver.resolve("gh", "u/r/nope")
    assert inner.calls == 1
    inner.refs["u/r/nope"] = SHA  # the branch is pushed
    clock.sleep(31)
    assert resolver.resolve("gh", "u/r/nope").ref == SHA


@pytest.mark.parametrize(
    "error", [ProviderUnavailableError("GitHub is down."), SpecError("Invalid gh spec.")]
)
def test_other_errors_are_not_cached(inner: Counting, error: Exception) -> None:
    resolver = cache(inner, FakeClock())
    inner.fail_with = error
    for _ in range(2):
        with pytest.raises(type(error)):
            resolver.resolve("gh", "u/r/HEAD")
    assert inner.calls == 2


def test_callers_get_their_own_copies(inner: Counting) -> None:
    resolver = cache(inner, FakeClock())
    first = resolver.resolve("gh", "u/r/HEAD")
    first.notices.append("changed by a caller")
    assert resolver.resolve("gh", "u/r/HEAD").notices == ["Ref 'master' not found, trying HEAD..."]


def test_the_cache_is_bounded_least_recently_used_first(inner: Counting) -> None:
    resolver = cache(inner, FakeClock(), max_entries=2)
    resolver.resolve("gh", "u/r/HEAD")
    resolver.resolve("gh", "u/other/HEAD")
    resolver.resolve("gh", "u/r/HEAD")  # now the most recently used
    resolver.resolve("gh", f"u/r/{SHA}")  # evicts u/other/HEAD
    assert inner.calls == 3
    resolver.resolve("gh", "u/r/HEAD")
    assert inner.calls == 3
    resolver.resolve("gh", "u/other/HEAD")
    assert inner.calls == 4


def test_zero_ttl_disables_caching(inner: Counting) -> None:
    resolver = cache(inner, FakeClock(), ttl=0)
    resolver.resolve("gh", "u/r/HEAD")
    resolver.resolve("gh", "u/r/HEAD")
    assert inner.calls == 2


def test_local_repositories_are_always_asked_afresh() -> None:
    class Local(FakeResolver):
        def resolve(self, provider: str, spec: str) -> ResolvedRepo:
            self.calls += 1
            return ResolvedRepo(
                provider=provider, spec=spec, repo_url="file:///src/r", ref=SHA, ref_url="",
                resolved_spec=spec, repo_key="git:file:///src/r", slug="git-r",
            )  # fmt: skip

    inner = Local()
    resolver = CachingResolver(inner)
    for spec in ("file%3A%2F%2F%2Fsrc%2Fr/HEAD", "%2Fsrc%2Fr/HEAD"):
        resolver.resolve("git", spec)
        resolver.resolve("git", spec)
    assert inner.calls == 4


def _functions(frame: FrameType | None) -> set[str]:
    names = set()
    while frame is not None:
        names.add(frame.f_code.co_qualname)
        frame = frame.f_back
    return names


def wait_for_followers(threads: Sequence[threading.Thread], count: int) -> None:
    """Until `count` threads wait for another's resolution (in the cache, not in the fake)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        frames = sys._current_frames()
        stacks = [_functions(frames.get(t.ident or 0)) for t in threads]
        waiting = [s for s in stacks if "CachingResolver.resolve" in s and "Event.wait" in s]
        if len([s for s in waiting if "Counting.resolve" not in s]) >= count:
            return
        time.sleep(0.01)
    raise AssertionError("the requests did not all arrive")


def test_a_burst_of_requests_shares_one_resolution(inner: Counting) -> None:
    resolver = cache(inner, FakeClock())
    inner.gate = threading.Event()
    threads = [Worker(lambda: resolver.resolve("gh", "u/r/HEAD").ref) for _ in range(20)]
    for thread in threads:
        thread.start()
    assert inner.entered.wait(5)
    wait_for_followers(threads, 19)
    inner.gate.set()
    assert [thread.result(5) for thread in threads] == [SHA] * 20
    assert inner.calls == 1


def test_a_burst_shares_a_failure_too(inner: Counting) -> None:
    resolver = cache(inner, FakeClock())
    inner.gate = threading.Event()
    inner.fail_with = ProviderUnavailableError("GitHub rate limit exceeded.", status_code=429)
    threads = [Worker(lambda: resolver.resolve("gh", "u/r/HEAD")) for _ in range(10)]
    for thread in threads:
        thread.start()
    assert inner.entered.wait(5)
    wait_for_followers(threads, 9)
    inner.gate.set()
    errors = [thread.outcome(5) for thread in threads]
    assert [(type(e), getattr(e, "status_code", None)) for e in errors] == [
        (ProviderUnavailableError, 429)
    ] * 10
    assert inner.calls == 1


def test_display_configs_pass_through(inner: Counting) -> None:
    assert cache(inner, FakeClock()).display_configs() == inner.display_configs()
