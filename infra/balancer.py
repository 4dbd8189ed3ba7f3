"""The one internal load balancer: CloudFront's VPC origin for `/s/*`, and its one target group,
the session proxy's tasks. Sessions are never its targets: the proxy routes each request to the
session's address in the table, so no call to ELB is made per session."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from skybinder.adapters.aws.names import PROXY_HEALTH_PATH, PROXY_PORT

# Jupyter's WebSockets stay open for hours; the ALB closes connections idle this long (s).
ALB_IDLE_TIMEOUT = 3600
# A proxy task that stops closes its WebSockets (clients reconnect to another task) and lets
# open requests finish within 10 s; the load balancer waits a little longer than that.
DEREGISTRATION_DELAY = 20


@dataclass
class BalancerArgs:
    unique: str  # the stack's account-unique prefix (target group names are account-wide)
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]


class Balancer(pulumi.ComponentResource):
    """An internal ALB whose listener forwards everything to the proxy's target group."""

    def __init__(self, name: str, args: BalancerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("skybinder:infra:Balancer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.load_balancer = aws.lb.LoadBalancer(
            f"{name}-lb",
            internal=True,
            load_balancer_type="application",
            subnets=list(args.subnet_ids),
            security_groups=[args.security_group_id],
            idle_timeout=ALB_IDLE_TIMEOUT,
            drop_invalid_header_fields=True,
            opts=child,
        )
        self.target_group = aws.lb.TargetGroup(
            f"{name}-targets",
            name=f"{args.unique}-proxy"[:32],
            target_type="ip",  # Fargate tasks (awsvpc) register by address
            protocol="HTTP",
            port=PROXY_PORT,
            vpc_id=args.vpc_id,
            deregistration_delay=DEREGISTRATION_DELAY,
            health_check={
                "path": PROXY_HEALTH_PATH,
                "matcher": "200",
                "interval": 10,
                "timeout": 5,
                "healthy_threshold": 2,
                "unhealthy_threshold": 3,
            },
            opts=child,
        )
        self.listener = aws.lb.Listener(
            f"{name}-http",
            load_balancer_arn=self.load_balancer.arn,
            port=80,
            protocol="HTTP",
            default_actions=[{"type": "forward", "target_group_arn": self.target_group.arn}],
            opts=child,
        )
        # What CloudWatch and Application Auto Scaling name them by ("app/<name>/<id>", ...).
        self.request_label = pulumi.Output.concat(
            self.load_balancer.arn_suffix, "/", self.target_group.arn_suffix
        )
        self.register_outputs(
            {"load_balancer": self.load_balancer.arn, "target_group": self.target_group.arn}
        )
