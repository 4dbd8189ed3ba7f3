"""ProxyFleet on Application Auto Scaling: the session proxy's ECS service, awake or asleep.

The service's task count belongs to Application Auto Scaling (it scales the proxy on the load
balancer's requests and connections), so waking and sleeping set the scalable target's range,
never the count itself. RegisterScalableTarget moves the service's count into the range it is
given: awake is [tasks, max_tasks] (a count the autoscaling has grown within it stays), asleep
is [0, 0] (no task, and no policy can start one). One call either way. When to call it is the
service's business (skybinder/service/proxy_tasks.py): the store's mark says whether the proxy
is awake, so a launch of a cached image asks Application Auto Scaling nothing.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from mypy_boto3_application_autoscaling import ApplicationAutoScalingClient

log = logging.getLogger(__name__)
NAMESPACE: Final = "ecs"
DIMENSION: Final = "ecs:service:DesiredCount"


class EcsProxyFleet:
    """`resource_id`: "service/<cluster>/<service>"; `tasks`..`max_tasks`: the range awake."""

    def __init__(
        self,
        client: ApplicationAutoScalingClient,
        resource_id: str,
        *,
        tasks: int,
        max_tasks: int,
    ) -> None:
        if not resource_id.startswith("service/") or resource_id.count("/") != 2:
            raise ValueError(f"{resource_id!r} is not service/<cluster>/<service>.")
        if not 1 <= tasks <= max_tasks:
            raise ValueError(f"The proxy needs 1 <= tasks ({tasks}) <= max_tasks ({max_tasks}).")
        self.client = client
        self.resource_id = resource_id
        self.tasks = tasks
        self.max_tasks = max_tasks

    def wake(self) -> None:
        self._register(self.tasks, self.max_tasks)

    def sleep(self) -> None:
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
