"""The builds a local builder runs: each one's container scope and thread, to tell whether a
build runs, cancel one, or end them all when the binder stops."""

from __future__ import annotations

import threading
import time

from skybinder.adapters.local.processes import Scope
from skybinder.domain.errors import BuildError

SHUT_DOWN = "The local binder shut down during the build. Launch again to build it anew."


class RunningBuilds:
    def __init__(self) -> None:
        self._builds: dict[str, tuple[Scope, threading.Thread]] = {}
        self._closed = False
        self._lock = threading.Lock()

    def add(self, build_id: str, scope: Scope, thread: threading.Thread) -> None:
        """Count a build in (before its thread starts); BuildError once the builds are closed."""
        with self._lock:
            if self._closed:
                raise BuildError(SHUT_DOWN)
            self._builds[build_id] = (scope, thread)

    def remove(self, build_id: str) -> None:
        with self._lock:
            self._builds.pop(build_id, None)

    def is_live(self, build_id: str) -> bool:
        with self._lock:
            return build_id in self._builds

    def cancel(self, build_id: str, reason: str) -> None:
        with self._lock:
            found = self._builds.get(build_id)
        if found is not None:
            found[0].cancel(reason)

    def close(self, timeout: float) -> None:
        """Take no more builds, cancel those that run (they fail with SHUT_DOWN), and wait up
        to `timeout` seconds for their threads to end."""
        with self._lock:
            self._closed = True
            builds = list(self._builds.values())
        for scope, _ in builds:
            scope.cancel(SHUT_DOWN)
        deadline = time.monotonic() + timeout
        for _, thread in builds:
            thread.join(max(0.0, deadline - time.monotonic()))
