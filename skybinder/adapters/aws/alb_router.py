"""Router on Application Load Balancers: per session an ip target group and a path rule
(a RouteProvisioner), until AWS sessions are served by the session proxy too.

An ALB holds at most 100 target groups (a hard AWS limit that moto does not enforce), so the
router counts them itself, over a pool of listeners (one per ALB). CloudFront picks the ALB
by the session id's prefix, so the id is chosen for the ALB with the most room (`id_prefix`),
and `reserve` uses that ALB only, refusing the session when it is full: before its server
starts, because `reserve` runs first.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from skybinder.adapters.aws.alb_listeners import (
    Listener,
    load_balancer_of,
    pool_id_prefix,
    pool_member,
    read_listener,
)
from skybinder.adapters.aws.client_errors import error_code
from skybinder.domain.errors import LaunchError, QuotaExceededError
from skybinder.domain.model import Session
from skybinder.domain.naming import session_id_length

if TYPE_CHECKING:
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client
    from mypy_boto3_elbv2.type_defs import TargetDescriptionTypeDef

log = logging.getLogger(__name__)
PRIORITY_ATTEMPTS = 8
_FULL = {"TooManyTargetGroups", "TooManyRules", "TooManyUniqueTargetGroupsPerLoadBalancer"}
_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,15}")
MAX_NAME = 32  # characters of an ALB target group name


@dataclass(frozen=True)
class AlbSettings:
    listener_arns: tuple[str, ...]
    vpc_id: str
    public_url: Callable[[], str]  # read when first needed: it may live in SSM
    name_prefix: str = "sb-"  # unique per deployment: the orphan sweep owns these names
    targets_per_alb: int = 100
    port: int = 8888
    deregistration_delay: int = 15  # seconds; Spot gives two minutes' notice

    def __post_init__(self) -> None:
        if not self.listener_arns:
            raise ValueError("The ALB router needs at least one listener.")
        if not _PREFIX.fullmatch(self.name_prefix):
            raise ValueError(
                f"Target group prefix {self.name_prefix!r}: 1-16 letters, digits and hyphens."
            )
        pool = len(self.listener_arns)
        longest = max(session_id_length(), session_id_length(pool_id_prefix(pool - 1)))
        if len(self.name_prefix) + longest > MAX_NAME:
            raise ValueError(
                f"Target group prefix {self.name_prefix!r} is too long for a pool of {pool} "
                f"load balancers: with session ids of up to {longest} characters, target "
                f"group names would pass AWS's {MAX_NAME}. Use at most "
                f"{MAX_NAME - longest} characters."
            )


@dataclass(frozen=True)
class _TargetGroup:
    arn: str
    load_balancers: tuple[str, ...]  # where a rule forwards to it


class AlbRouter:
    def __init__(
        self,
        client: ElasticLoadBalancingv2Client,
        settings: AlbSettings,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.rng = rng or random.SystemRandom()

    def name(self, session_id: str) -> str:
        return f"{self.settings.name_prefix}{session_id}"[:MAX_NAME]

    def url(self, session: Session) -> str:
        return self._url(session.id)

    def probe_url(self, session: Session) -> str:
        """Through the load balancer: a new target answers only once its checks pass."""
        return session.url or self._url(session.id)

    def id_prefix(self) -> str:
        """The prefix of the listener with the most free slots (ties: a random one of them)."""
        arns = self.settings.listener_arns
        if len(arns) == 1:
            return ""  # every id reaches the only load balancer: nothing to look up
        prefix = self.settings.name_prefix
        used = [len(read_listener(self.client, arn, prefix).target_groups) for arn in arns]
        fewest = min(used)
        return pool_id_prefix(self.rng.choice([i for i, n in enumerate(used) if n == fewest]))

    def reserve(self, session_id: str) -> str:
        """The session's target group and rule, made (or found); returns the group's ARN."""
        listener = read_listener(
            self.client, self._listener_of(session_id), self.settings.name_prefix
        )
        if session_id in listener.sessions:
            return listener.sessions[session_id]
        if len(listener.target_groups) < self.settings.targets_per_alb:
            target_group = self._target_group(session_id)
            if target_group.load_balancers:
                return target_group.arn  # a concurrent reservation made the rule first
            if self._add_rule(listener, session_id, target_group.arn):
                return target_group.arn
        self._drop(session_id)
        slots = self.settings.targets_per_alb * len(self.settings.listener_arns)
        raise QuotaExceededError(
            f"This binder is at capacity: all {slots} session slots of its load balancers are "
            "in use. Please try again in a few minutes."
        )

    def add(self, session_id: str, address: str, route: str = "") -> str:
        host, _, port = address.rpartition(":") if ":" in address else (address, "", "")
        targets: list[TargetDescriptionTypeDef] = [
            {"Id": host, "Port": int(port or self.settings.port)}
        ]
        # The target group `reserve` made, as the session keeps it: no look-up.
        if route and self._register(route, targets):
            return self._url(session_id)
        target_group = self._find(session_id)
        if target_group is None or not target_group.load_balancers:
            self.reserve(session_id)  # the route was never made, or was lost: make it now
            target_group = self._find(session_id)
        if target_group is None:
            raise LaunchError("The load balancer route to the server could not be made.")
        self.client.register_targets(TargetGroupArn=target_group.arn, Targets=targets)
        return self._url(session_id)

    def remove(self, session_id: str, route: str = "") -> None:
        if route:  # the session's own listener holds its rule: no look-up of the group
            known = _TargetGroup(route, (load_balancer_of(self._listener_of(session_id)),))
            try:
                self._remove(known, missing_ok=False)
                return
            except Exception as err:
                # Gone (remade since under a new ARN), or still used by a rule on another
                # listener (the pool changed): find what the session has now, by name.
                if error_code(err) not in {"TargetGroupNotFound", "ResourceInUse"}:
                    raise
        target_group = self._find(session_id)
        if target_group is not None:
            self._remove(target_group, missing_ok=True)

    def _remove(self, target_group: _TargetGroup, *, missing_ok: bool) -> None:
        """Delete the group's rules on the pool's listeners, then the group."""
        for listener_arn in self.settings.listener_arns:
            if load_balancer_of(listener_arn) not in target_group.load_balancers:
                continue
            listener = read_listener(self.client, listener_arn, self.settings.name_prefix)
            for rule_arn in listener.rules_to(target_group.arn):
                self._ignoring("RuleNotFound", self.client.delete_rule, RuleArn=rule_arn)
        # A rule outside the pool still forwarding to it makes this fail (ResourceInUse): the
        # error surfaces, and the orphan sweep tries again.
        if not missing_ok:
            self.client.delete_target_group(TargetGroupArn=target_group.arn)
            return
        self._ignoring(
            "TargetGroupNotFound", self.client.delete_target_group, TargetGroupArn=target_group.arn
        )

    def held(self) -> dict[str, str]:
        """Session target groups of this deployment (its VPC and name prefix): id -> id."""
        prefix = self.settings.name_prefix
        held: dict[str, str] = {}
        for page in self.client.get_paginator("describe_target_groups").paginate():
            for group in page.get("TargetGroups", []):
                name = str(group.get("TargetGroupName", ""))
                if group.get("VpcId") == self.settings.vpc_id and name.startswith(prefix):
                    session_id = name.removeprefix(prefix)
                    held[session_id] = session_id
        return held

    def release(self, resource: str) -> None:
        self.remove(resource)

    # -- steps ------------------------------------------------------------------------------

    def _listener_of(self, session_id: str) -> str:
        """CloudFront sends the session's requests to this listener's ALB, and only there."""
        arns = self.settings.listener_arns
        return arns[pool_member(session_id, len(arns))]

    def _url(self, session_id: str) -> str:
        return f"{self.settings.public_url().rstrip('/')}/s/{session_id}/"

    def _register(self, target_group_arn: str, targets: list[TargetDescriptionTypeDef]) -> bool:
        """Register in a known group; False when it is gone (the route must be made again)."""
        try:
            self.client.register_targets(TargetGroupArn=target_group_arn, Targets=targets)
        except Exception as err:
            if error_code(err) != "TargetGroupNotFound":
                raise
            return False
        return True

    def _target_group(self, session_id: str) -> _TargetGroup:
        s = self.settings
        try:
            created = self.client.create_target_group(
                Name=self.name(session_id),
                Protocol="HTTP",
                Port=s.port,
                VpcId=s.vpc_id,
                TargetType="ip",
                HealthCheckProtocol="HTTP",
                # Jupyter answers `<base_url>api` without a token.
                HealthCheckPath=f"/s/{session_id}/api",
                HealthCheckIntervalSeconds=5,
                HealthCheckTimeoutSeconds=4,
                HealthyThresholdCount=2,
                UnhealthyThresholdCount=2,
                Matcher={"HttpCode": "200"},
            )["TargetGroups"][0]
        except Exception as err:
            if error_code(err) != "DuplicateTargetGroupName":
                raise
            found = self._find(session_id)
            if found is None:
                raise
            return found
        arn = str(created["TargetGroupArn"])
        # ALB's default is 300 s: far longer than a session needs to drain its connections.
        delay = str(s.deregistration_delay)
        self.client.modify_target_group_attributes(
            TargetGroupArn=arn,
            Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": delay}],
        )
        return _TargetGroup(arn, ())

    def _add_rule(self, listener: Listener, session_id: str, target_group_arn: str) -> bool:
        """Add the session's rule at a free priority; False when the listener is full."""
        for _ in range(PRIORITY_ATTEMPTS):
            priority = listener.free_priority(self.rng)
            try:
                self.client.create_rule(
                    ListenerArn=listener.arn,
                    Priority=priority,
                    Conditions=[
                        {
                            "Field": "path-pattern",
                            "PathPatternConfig": {
                                "Values": [f"/s/{session_id}", f"/s/{session_id}/*"]
                            },
                        }
                    ],
                    Actions=[{"Type": "forward", "TargetGroupArn": target_group_arn}],
                )
                return True
            except Exception as err:
                code = error_code(err)
                if code in _FULL:
                    return False
                if code != "PriorityInUse":
                    raise
                # Another launch took it between our read and our write: read again.
                log.info("priority %s of %s was taken; choosing again", priority, listener.arn)
                listener = read_listener(self.client, listener.arn, self.settings.name_prefix)
                listener.priorities.add(priority)
        return False

    def _find(self, session_id: str) -> _TargetGroup | None:
        try:
            answer = self.client.describe_target_groups(Names=[self.name(session_id)])
        except Exception as err:
            if error_code(err) == "TargetGroupNotFound":
                return None
            raise
        group = answer["TargetGroups"][0]
        return _TargetGroup(str(group["TargetGroupArn"]), tuple(group.get("LoadBalancerArns", [])))

    def _drop(self, session_id: str) -> None:
        """Delete the session's target group if no rule uses it (a reservation that failed)."""
        found = self._find(session_id)
        if found is not None and not found.load_balancers:
            self._ignoring(
                "TargetGroupNotFound", self.client.delete_target_group, TargetGroupArn=found.arn
            )

    @staticmethod
    def _ignoring(code: str, call: Callable[..., Any], **kwargs: Any) -> None:
        try:
            call(**kwargs)
        except Exception as err:
            if error_code(err) != code:
                raise
