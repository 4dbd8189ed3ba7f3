"""CachingResolver: resolutions kept briefly in memory, so a badge a whole class clicks asks once.

A branch, tag or HEAD moves, so its resolution lives `ttl` seconds; a spec that already names
a commit sha resolves to that sha forever, so it lives `pinned_ttl`. "No such repository or
ref" is kept `negative_ttl`, long enough to absorb a burst, short enough for a repository that
is being published. Concurrent requests for one spec share a single resolution.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote

from skybinder.domain.errors import ResolveError, SkybinderError
from skybinder.domain.specs import is_sha1
from skybinder.service.ports import ResolvedRepo, Resolver

Key = tuple[str, str]


@dataclass
class _Flight:
    """One resolution under way; the requests that arrive meanwhile wait for its outcome."""

    done: threading.Event = field(default_factory=threading.Event)
    repo: ResolvedRepo | None = None
    error: SkybinderError | None = None


class CachingResolver:
    """A Resolver in front of another: same contract, fewer calls to the providers."""

    def __init__(
        self,
        inner: Resolver,
        *,
        ttl: float = 60.0,
        pinned_ttl: float = 86400.0,
        negative_ttl: float = 30.0,
        max_entries: int = 4096,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.inner = inner
        self.ttl, self.pinned_ttl, self.negative_ttl = ttl, pinned_ttl, negative_ttl
        self.max_entries = max_entries
        self._now = now
        self._lock = threading.Lock()
        self._entries: OrderedDict[Key, tuple[float, ResolvedRepo | ResolveError]] = OrderedDict()
        self._flights: dict[Key, _Flight] = {}

    def resolve(self, provider: str, spec: str) -> ResolvedRepo:
        key = (provider, spec.rstrip("/"))
        if _is_local(key):
            # A repository on this machine is read in milliseconds, and its author is likely
            # committing to it between launches: always ask it afresh.
            return self.inner.resolve(provider, spec)
        with self._lock:
            cached = self._get(key)
            flight = self._flights.get(key)
            leader = cached is None and flight is None
            if leader:
                flight = self._flights[key] = _Flight()
        if cached is not None:
            return _answer(cached)
        assert flight is not None
        if not leader:
            flight.done.wait()
            if flight.error is not None:
                raise _copy(flight.error)
            if flight.repo is None:  # the first request failed unexpectedly: try once more
                return self.inner.resolve(*key)
            return flight.repo.model_copy(deep=True)
        return self._resolve(key, flight)

    def display_configs(self) -> list[dict[str, object]]:
        return self.inner.display_configs()

    def _resolve(self, key: Key, flight: _Flight) -> ResolvedRepo:
        try:
            flight.repo = self.inner.resolve(*key)
        except SkybinderError as error:
            flight.error = error
            if isinstance(error, ResolveError):
                self._put(key, error, self.negative_ttl)
            raise
        finally:
            with self._lock:
                self._flights.pop(key, None)
            flight.done.set()
        pinned = is_sha1(flight.repo.ref) and flight.repo.ref.lower() in key[1].lower()
        self._put(key, flight.repo, self.pinned_ttl if pinned else self.ttl)
        return flight.repo.model_copy(deep=True)

    def _get(self, key: Key) -> ResolvedRepo | ResolveError | None:
        """The live entry for `key` (now the most recently used), or None. Holds the lock."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self._now():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def _put(self, key: Key, value: ResolvedRepo | ResolveError, ttl: float) -> None:
        if ttl <= 0:
            return
        with self._lock:
            self._entries[key] = (self._now() + ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)  # the least recently used


def _is_local(key: Key) -> bool:
    provider, spec = key
    return provider == "git" and unquote(spec).lower().startswith(("file:", "/"))


def _answer(cached: ResolvedRepo | ResolveError) -> ResolvedRepo:
    if isinstance(cached, ResolveError):
        raise _copy(cached)
    return cached.model_copy(deep=True)


def _copy(error: SkybinderError) -> SkybinderError:
    """A fresh exception like `error`: one instance raised in many threads tangles tracebacks."""
    return type(error)(error.message, error.status_code)
