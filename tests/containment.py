"""The process containment tests run builds and servers in: the strongest this machine has."""

from __future__ import annotations

from functools import cache

from skybinder.adapters.local.containment import Containment, detect


@cache
def containment(preferred: str = "auto") -> Containment:
    return detect(preferred)
