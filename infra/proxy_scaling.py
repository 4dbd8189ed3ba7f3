"""The session proxy's autoscaling: target tracking on the load balancer's requests and open
connections per task, within the range the functions set (asleep: none; awake: the floor of
`proxyTasks` up to `proxyMaxTasks`)."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
from pulumi_aws.appautoscaling import (
    PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricArgsDict as Query,  # noqa: E501
)
from pulumi_aws.appautoscaling import (
    PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricMetricStatArgsDict as Stat,  # noqa: E501
)
from pulumi_aws.appautoscaling import (
    PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricMetricStatMetricDimensionArgsDict as Dimension,  # noqa: E501
)

# A task serves this many requests a minute, or holds this many connections (WebSockets
# mostly: kernels and terminals; bench/ measured 1,000 through one process in ~110 MB), before
# another is started.
REQUESTS_PER_TASK_MINUTE = 6000.0
CONNECTIONS_PER_TASK = 1000.0
Tracking = aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgsDict


def scale(
    name: str,
    parent: pulumi.Resource,
    resource_id: pulumi.Input[str],
    load_balancer_suffix: pulumi.Input[str],
    request_label: pulumi.Input[str],
) -> aws.appautoscaling.Target:
    """The scalable target, asleep at first ([0, 0]); the functions set its range after that,
    so later `pulumi up`s leave it as they find it."""
    target = aws.appautoscaling.Target(
        name,
        service_namespace="ecs",
        scalable_dimension="ecs:service:DesiredCount",
        resource_id=resource_id,
        min_capacity=0,
        max_capacity=0,
        opts=pulumi.ResourceOptions(parent=parent, ignore_changes=["minCapacity", "maxCapacity"]),
    )
    requests: Tracking = {
        "target_value": REQUESTS_PER_TASK_MINUTE,
        "predefined_metric_specification": {
            "predefined_metric_type": "ALBRequestCountPerTarget",
            "resource_label": request_label,
        },
    }
    connections: Tracking = {
        "target_value": CONNECTIONS_PER_TASK,
        "customized_metric_specification": {
            "metrics": _connections_per_task(load_balancer_suffix, request_label)
        },
    }
    for role, tracking in (("requests", requests), ("connections", connections)):
        aws.appautoscaling.Policy(
            f"{name}-{role}",
            policy_type="TargetTrackingScaling",
            service_namespace=target.service_namespace,
            scalable_dimension=target.scalable_dimension,
            resource_id=target.resource_id,
            target_tracking_scaling_policy_configuration={
                **tracking,
                "scale_out_cooldown": 60,
                "scale_in_cooldown": 300,
            },
            opts=pulumi.ResourceOptions(parent=parent),
        )
    return target


def _connections_per_task(
    load_balancer_suffix: pulumi.Input[str], request_label: pulumi.Input[str]
) -> list[Query]:
    """The load balancer's open connections over the proxy's healthy tasks."""
    # app/<lb>/<id>/targetgroup/<tg>/<id> -> targetgroup/<tg>/<id>
    target_group = pulumi.Output.from_input(request_label).apply(
        lambda label: label.split("/", 3)[3]
    )
    balancer: Dimension = {"name": "LoadBalancer", "value": load_balancer_suffix}
    group: Dimension = {"name": "TargetGroup", "value": target_group}

    def stat(metric: str, dimensions: list[Dimension], how: str) -> Stat:
        return {
            "metric": {
                "namespace": "AWS/ApplicationELB",
                "metric_name": metric,
                "dimensions": dimensions,
            },
            "stat": how,
        }

    return [
        {
            "id": "connections",
            "metric_stat": stat("ActiveConnectionCount", [balancer], "Sum"),
            "return_data": False,
        },
        {
            "id": "tasks",
            "metric_stat": stat("HealthyHostCount", [balancer, group], "Average"),
            "return_data": False,
        },
        {"id": "per_task", "expression": "connections / MAX([tasks, 1])", "return_data": True},
    ]
