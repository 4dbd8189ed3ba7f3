"""How many local builds run at once: a build takes a slot to start and gives it back at its end."""

from __future__ import annotations

import threading

from skybinder.domain.errors import BuilderBusyError


class BuildSlots:
    """At most `size` builds at once (0: no cap). The service queues a build that finds none."""

    def __init__(self, size: int = 0) -> None:
        self.size = size
        self._taken = 0
        self._lock = threading.Lock()

    @property
    def taken(self) -> int:
        with self._lock:
            return self._taken

    def take(self) -> None:
        """Take a slot; BuilderBusyError (the build waits for a free builder) when none is free."""
        with self._lock:
            if 0 < self.size <= self._taken:
                raise BuilderBusyError(
                    f"{self._taken} builds are running, as many as this binder runs at once "
                    "(--max-builds). The build starts when one of them ends."
                )
            self._taken += 1

    def give_back(self) -> None:
        with self._lock:
            self._taken = max(0, self._taken - 1)
