"""ProxyFleet on Application Auto Scaling: the session proxy's ECS service, awake or asleep.

The service's task count belongs to Application Auto Scaling (it scales the proxy on the load
balancer's requests and connections), so waking and sleeping set the scalable target's range,
never the count itself. RegisterScalableTarget moves the service's count into the range it is
given: awake is [tasks, max_tasks] (a count the autoscaling has grown within it stays), asleep
is [0, 0] (no task, and no policy can start one). One call either way.

A wake is asked only while a session is active (ProxyFleet.wake), and the service sleeps only
after `proxy_idle` seconds without an admission or an end (service/proxy_tasks.py). So after
this fleet woke the proxy, or saw it awake, it knows the proxy cannot have slept for almost
that long: `trust` seconds, in which `wake` asks AWS nothing. A warm Lambda that keeps
launching makes no call for the proxy at all; a cold one makes one read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from mypy_boto3_application_autoscaling import ApplicationAutoScalingClient

log = logging.getLogger(__name__)
NAMESPACE: Final = "ecs"
DIMENSION: Final = "ecs:service:DesiredCount"
# Below the service's idle time by this much: clocks of two functions may differ slightly.
MARGIN = 60.0


class EcsProxyFleet:
    """`resource_id`: "service/<cluster>/<service>"; `tasks`..`max_tasks`: the range while
    awake; `idle`: ServiceConfig.proxy_idle, which bounds how long a look stays true."""

    def __init__(
        self,
        client: ApplicationAutoScalingClient,
        resource_id: str,
        *,
        tasks: int,
        max_tasks: int,
        idle: float,
        clock: Callable[[], float],
    ) -> None:
        if not resource_id.startswith("service/") or resource_id.count("/") != 2:
            raise ValueError(f"{resource_id!r} is not service/<cluster>/<service>.")
        if not 1 <= tasks <= max_tasks:
            raise ValueError(f"The proxy needs 1 <= tasks ({tasks}) <= max_tasks ({max_tasks}).")
        self.client = client
        self.resource_id = resource_id
        self.tasks = tasks
        self.max_tasks = max_tasks
        self.trust = max(0.0, idle - MARGIN)
        self._clock = clock
        self._seen_awake: float | None = None  # when this fleet last knew the proxy awake

    def wake(self) -> bool:
        now = self._clock()
        if self._seen_awake is not None and 0 <= now - self._seen_awake < self.trust:
            self._seen_awake = now  # a session is active now: no sleep for `trust` again
            return False
        if self.awake():
            self._seen_awake = now
            return False
        self._register(self.tasks, self.max_tasks)
        self._seen_awake = now
        return True

    def sleep(self) -> None:
        self._seen_awake = None
        self._register(0, 0)

    def awake(self) -> bool:
        answer = self.client.describe_scalable_targets(
            ServiceNamespace=NAMESPACE, ResourceIds=[self.resource_id], ScalableDimension=DIMENSION
        )
        targets = answer.get("ScalableTargets") or []
        if not targets:
            raise LookupError(
                f"The session proxy's service {self.resource_id} is not a scalable target: the "
                "deployment (infra/) registers it; run `pulumi up` again."
            )
        return int(targets[0]["MaxCapacity"]) > 0

    def _register(self, low: int, high: int) -> None:
        self.client.register_scalable_target(
            ServiceNamespace=NAMESPACE,
            ResourceId=self.resource_id,
            ScalableDimension=DIMENSION,
            MinCapacity=low,
            MaxCapacity=high,
        )
        log.info("session proxy %s: tasks %d to %d", self.resource_id, low, high)
