"""The router this binder had before the session proxy, as a model for the cloud rehearsal: a
target group and a listener rule per session, on a pool of up to 10 internal load balancers
(albCount), each holding at most 100 target groups (a hard AWS limit), every ELB call through
ELB's throttles. Its calls are those the ALB router made (commit bb751cb), at the same steps:

- before RunTask (`reserve`): with a pool, DescribeRules on every listener to pick the least
  used; then DescribeRules on its listener, CreateTargetGroup, ModifyTargetGroupAttributes,
  CreateRule. A throttled call failed the launch ("Could not start the server"); a full pool
  refused it (429, "at capacity");
- at the task's RUNNING (`register`): RegisterTargets. A throttled one failed the reap function,
  whose event EventBridge retried (up to 8 times); the target then passed its health checks
  (every 5 s, healthy after 2) before the probe through the load balancer answered;
- at the end (`remove`): DescribeRules, DeleteRule, DeleteTargetGroup; a throttled one left the
  target group to the reaper's sweep, its slot taken until then.
"""

from __future__ import annotations

import random
from collections import Counter

from bench import cloud_limits as limits
from bench.cloud_limits import Bucket
from bench.cloud_world import Calls, Fargate
from bench.workshop_platform import Timeline
from skybinder.domain.errors import QuotaExceededError
from skybinder.service.ports import LaunchRequest

HEALTHY_AFTER = (5.0, 10.0)  # interval 5 s, healthy threshold 2: seconds after registration
EVENTBRIDGE_RETRIES = 8  # the rules' retry policy (infra/schedules.py)


class ElbThrottledError(RuntimeError):
    """ELB answered ThrottlingException after botocore's retries."""


class AlbPool:
    def __init__(
        self, timeline: Timeline, rng: random.Random, calls: Calls, balancers: int
    ) -> None:
        self.timeline, self.rng, self.calls = timeline, rng, calls
        self.balancers = max(1, min(balancers, 10))
        self.buckets = {
            "change": Bucket(limits.ELB_CHANGE, rng, "elb create/delete"),
            "modify": Bucket(limits.ELB_MODIFY, rng, "elb ModifyTargetGroupAttributes"),
            "register": Bucket(limits.ELB_REGISTER, rng, "elb RegisterTargets"),
            "describe": Bucket(limits.ELB_DESCRIBE, rng, "elb Describe*"),
        }
        self.groups: list[set[str]] = [set() for _ in range(self.balancers)]
        self.healthy_at: dict[str, float] = {}
        self.orphans = 0
        self.failures: Counter[str] = Counter()

    def install(self, fargate: Fargate) -> None:
        fargate.before_run = self.reserve

    def reserve(self, request: LaunchRequest) -> float:
        """The session's target group and rule, before its task: when RunTask may go."""
        when = self.timeline.now
        if self.balancers > 1:
            for _ in range(self.balancers):
                when = self._call("describe", "DescribeRules", when)
        chosen = min(range(self.balancers), key=lambda i: len(self.groups[i]))
        if len(self.groups[chosen]) >= limits.TARGET_GROUPS_PER_ALB:
            slots = limits.TARGET_GROUPS_PER_ALB * self.balancers
            raise QuotaExceededError(
                f"This binder is at capacity: all {slots} session slots of its load balancers "
                "are in use. Please try again in a few minutes."
            )
        for kind, operation in (
            ("describe", "DescribeRules"),
            ("change", "CreateTargetGroup"),
            ("modify", "ModifyTargetGroupAttributes"),
            ("change", "CreateRule"),
        ):
            when = self._call(kind, operation, when)
            if operation == "CreateTargetGroup":
                self.groups[chosen].add(request.session_id)
        return when

    def register(self, session_id: str) -> bool:
        """RegisterTargets at the task's RUNNING; False when ELB throttled it."""
        try:
            when = self._call("register", "RegisterTargets", self.timeline.now)
        except ElbThrottledError:
            return False
        self.healthy_at[session_id] = when + self.rng.uniform(*HEALTHY_AFTER)
        return True

    def healthy(self, session_id: str, now: float) -> bool:
        return self.healthy_at.get(session_id, float("inf")) <= now

    def remove(self, session_id: str) -> None:
        try:
            when = self._call("describe", "DescribeRules", self.timeline.now)
            when = self._call("change", "DeleteRule", when)
            self._call("change", "DeleteTargetGroup", when)
        except ElbThrottledError:
            self.orphans += 1  # the reaper's sweep deletes it later; its slot stays taken
            return
        for groups in self.groups:
            groups.discard(session_id)
        self.healthy_at.pop(session_id, None)

    def sweep(self, live: set[str]) -> None:
        """The reaper's orphan sweep: DescribeTargetGroups, then remove what no live session
        owns (a reservation that failed half-way, a removal that was throttled)."""
        try:
            self._call("describe", "DescribeTargetGroups", self.timeline.now)
        except ElbThrottledError:
            return
        for session_id in [s for groups in self.groups for s in groups if s not in live]:
            self.remove(session_id)

    def _call(self, kind: str, operation: str, when: float) -> float:
        self.calls[f"elasticloadbalancing.{operation}"] += 1
        done = self.buckets[kind].take(when)
        if done is None:
            self.failures[operation] += 1
            raise ElbThrottledError(f"ThrottlingException: Rate exceeded ({operation})")
        return done
