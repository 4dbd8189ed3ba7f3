"""What one ALB listener holds (its rules' priorities and the target groups they forward to),
and which listener of the pool serves a session."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from skybinder.adapters.aws.names import pool_id_prefix as pool_id_prefix  # re-exported

if TYPE_CHECKING:
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client

PRIORITIES = range(1, 50_001)  # what ALB allows for a listener's rules
# The most load balancers a deployment has (infra/config.py allows 1 to 10).
MAX_POOL = 10


def pool_member(session_id: str, pool_size: int) -> int:
    """Which load balancer of a pool of `pool_size` serves `session_id`, as CloudFront routes
    it: the one whose prefix the id starts with, else the first one."""
    for index in range(1, pool_size):
        if session_id.startswith(pool_id_prefix(index)):
            return index
    return 0


@dataclass
class Listener:
    arn: str
    priorities: set[int] = field(default_factory=set)
    target_groups: set[str] = field(default_factory=set)  # ARNs; these count against the 100
    # Session id -> the ARN of its target group, for the target groups the rules forward to.
    sessions: dict[str, str] = field(default_factory=dict)
    forwards: dict[str, list[str]] = field(default_factory=dict)  # target group -> rule ARNs

    def free_priority(self, rng: random.Random) -> int:
        """A priority no rule has; random, so that concurrent launches rarely pick the same."""
        if len(self.priorities) >= len(PRIORITIES):
            raise ValueError(f"Listener {self.arn} has no free rule priority.")
        while True:
            priority = rng.choice(PRIORITIES)
            if priority not in self.priorities:
                return priority

    def rules_to(self, target_group_arn: str) -> list[str]:
        return list(self.forwards.get(target_group_arn, []))


def read_listener(client: ElasticLoadBalancingv2Client, arn: str, name_prefix: str) -> Listener:
    """The listener's rules, all pages of them; one call for up to 400 rules."""
    listener = Listener(arn)
    marker: str | None = None
    while True:
        args: dict[str, Any] = {"ListenerArn": arn, "PageSize": 400}
        if marker:
            args["Marker"] = marker
        page = client.describe_rules(**args)
        for rule in page.get("Rules", []):
            _add(listener, rule, name_prefix)
        marker = page.get("NextMarker")
        if not marker:
            return listener


def _add(listener: Listener, rule: Any, name_prefix: str) -> None:
    if str(rule.get("Priority", "default")).isdigit():
        listener.priorities.add(int(rule["Priority"]))
    for arn in _forwarded(rule.get("Actions", [])):
        listener.target_groups.add(arn)
        if rule.get("RuleArn") and not rule.get("IsDefault"):
            listener.forwards.setdefault(arn, []).append(str(rule["RuleArn"]))
        name = target_group_name(arn)
        if name.startswith(name_prefix):
            listener.sessions[name.removeprefix(name_prefix)] = arn


def _forwarded(actions: list[Any]) -> set[str]:
    arns: set[str] = set()
    for action in actions:
        if action.get("TargetGroupArn"):
            arns.add(str(action["TargetGroupArn"]))
        for group in (action.get("ForwardConfig") or {}).get("TargetGroups", []):
            arns.add(str(group["TargetGroupArn"]))
    return arns


def target_group_name(arn: str) -> str:
    """`arn:...:targetgroup/<name>/<id>` -> `<name>`."""
    resource = arn.rsplit(":", 1)[-1]
    parts = resource.split("/")
    return parts[1] if len(parts) >= 3 and parts[0] == "targetgroup" else ""


def load_balancer_of(listener_arn: str) -> str:
    """`...:listener/app/<name>/<lb-id>/<listener-id>` -> `...:loadbalancer/app/<name>/<lb-id>`."""
    head, _, resource = listener_arn.partition(":listener/")
    return f"{head}:loadbalancer/{resource.rsplit('/', 1)[0]}"
