"""AWS's published limits, as the cloud rehearsal (bench/cloud_rehearsal.py) enforces them.

AWS throttles with token buckets per account and region: a bucket holds at most `burst` tokens,
refilled at `rate` a second, and a call without a token fails (ThrottlingException, Throttling,
TooManyRequestsException). botocore retries a throttled call (the functions' `standard` mode:
5 attempts, waits of up to 2^attempt seconds, jittered); one that still finds no token fails
as AWS answered it, and the service takes its error path. `Bucket.take` models exactly that:
the call succeeds at the first attempt that finds a token, later by the waits before it, or
fails after the last. Numbers and sources:

| limit                                | value          | source |
|--------------------------------------|----------------|--------|
| ECS RunTask API                      | 20/s, burst 100 | ECS service quotas (API throttles) |
| ECS task reads (DescribeTasks)       | 20/s, burst 100 | "Request throttling for the ECS API" |
| RunTask tasks per call               | 10             | RunTask API reference (`count`) |
| DescribeTasks tasks per call         | 100            | DescribeTasks API reference (`tasks`) |
| Fargate task launches, per capacity  | 20/s, burst 100 | Fargate quotas: task launch rate |
| ELB Create*/Delete* (groups, rules)  | 5/s, burst 20  | "a few per second" (aws-facts.md) |
| ELB ModifyTargetGroupAttributes      | 3/s, burst 20  | aws-facts.md |
| ELB RegisterTargets                  | 4/s, burst 20  | aws-facts.md |
| ELB Describe*                        | 50/s, burst 100 | aws-facts.md |
| ALB target groups per load balancer  | 100 (hard)     | ELB quotas |
| DynamoDB, one item (partition)       | 1,000 WCU/s    | partition limits (a transaction: 2) |
| Lambda concurrent executions         | 1,000          | Lambda quotas (account default) |
| API Gateway, account                 | 10,000/s, burst 5,000 | API Gateway quotas |
| API Gateway, the deployment's stage  | 50/s, burst 100 | apiRateLimit, apiBurstLimit defaults |
"""

from __future__ import annotations

import random
from dataclasses import dataclass

ATTEMPTS = 5  # the functions' botocore `standard` retry mode (bootstrap_aws.CLIENT_CONFIG)
MAX_WAIT = 20.0  # botocore caps a retry's wait


@dataclass(frozen=True)
class Rate:
    per_second: float
    burst: int


RUN_TASK = Rate(20, 100)
ECS_TASK_READS = Rate(20, 100)  # DescribeTasks: the reaper's look at each session's task
TASKS_PER_RUN_TASK = 10
TASKS_PER_DESCRIBE = 100
FARGATE_LAUNCHES = Rate(20, 100)  # each of on-demand and Spot
ELB_CHANGE = Rate(5, 20)  # CreateTargetGroup, CreateRule, DeleteRule, DeleteTargetGroup
ELB_MODIFY = Rate(3, 20)  # ModifyTargetGroupAttributes
ELB_REGISTER = Rate(4, 20)  # RegisterTargets
ELB_DESCRIBE = Rate(50, 100)  # DescribeRules, DescribeTargetGroups
TARGET_GROUPS_PER_ALB = 100
ITEM_WRITE_UNITS = Rate(1000, 1000)  # one item: a transactional write takes 2 units
LAMBDA_CONCURRENCY = 1000
API_ACCOUNT = Rate(10_000, 5000)
API_STAGE = Rate(50, 100)  # the deployment's default stage throttle


class Bucket:
    """One token bucket, as the generic cell rate algorithm keeps it (a token bucket's exact
    twin): a call conforms when the bucket has a token at the time of one of its attempts.
    Calls that succeed take their token at the attempt that got it, in that order; so when
    calls come faster than tokens, a backlog builds, and a call that finds no token before its
    last retry fails, as it does in AWS.

    `take` answers when a call made at `now` succeeds (>= now), or None when every attempt was
    refused; a refused call takes nothing.
    """

    def __init__(self, rate: Rate, rng: random.Random, name: str = "") -> None:
        self.rate, self.rng, self.name = rate, rng, name
        self.tat = 0.0  # theoretical arrival time: when the bucket is full again
        self.calls = 0
        self.throttled = 0  # attempts refused (each one AWS would have answered with an error)
        self.failed = 0  # calls that failed after every retry

    def take(self, now: float, units: float = 1.0, attempts: int = ATTEMPTS) -> float | None:
        """`attempts`: botocore's for an SDK call; 1 for a browser's request (a 429 page)."""
        self.calls += 1
        cost = units / self.rate.per_second
        # The bucket holds `burst` tokens: a call conforms while the backlog of tokens taken
        # ahead of the refill is within it.
        earliest = max(now, self.tat - self.rate.burst / self.rate.per_second + cost)
        when = now
        for attempt in range(attempts):
            if when >= earliest:
                self.tat = max(self.tat, when) + cost
                return when
            self.throttled += 1
            if attempt < attempts - 1:
                when += self.rng.uniform(0, min(MAX_WAIT, 2.0**attempt))
        self.failed += 1
        return None


class Concurrency:
    """Lambda's concurrent executions of one account: a request that finds them all in use is
    throttled (API Gateway answers 429, EventBridge retries later)."""

    def __init__(self, limit: int = LAMBDA_CONCURRENCY) -> None:
        self.limit = limit
        self.running = 0
        self.peak = 0
        self.throttled = 0

    def enter(self) -> bool:
        if self.running >= self.limit:
            self.throttled += 1
            return False
        self.running += 1
        self.peak = max(self.peak, self.running)
        return True

    def leave(self) -> None:
        self.running -= 1
