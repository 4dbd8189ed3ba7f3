"""AlbRouter on moto: one target group and one path rule per session, counted against the
100-per-ALB limit itself, priorities that survive collisions, and clean removal."""

from __future__ import annotations

import random
from typing import Any

import pytest

from skybinder.adapters.aws.alb_listeners import load_balancer_of, target_group_name
from skybinder.adapters.aws.alb_router import AlbRouter, AlbSettings
from skybinder.domain.errors import QuotaExceededError
from tests.aws.compute_fixtures import PUBLIC_URL, TARGET_GROUP_PREFIX, Cloud
from tests.aws.conftest import ApiCalls, fail_calls

TG = TARGET_GROUP_PREFIX

SESSION = "5e1f0c9a7b3d2468"


def router(cloud: Cloud, **settings: Any) -> AlbRouter:
    """A router over the deployment's listeners, with a reproducible choice of priorities."""
    base = cloud.binder.router.settings
    values = {
        "listener_arns": base.listener_arns,
        "vpc_id": base.vpc_id,
        "public_url": lambda: PUBLIC_URL,
        "name_prefix": base.name_prefix,
        **settings,
    }
    return AlbRouter(cloud.binder.router.client, AlbSettings(**values), random.Random(7))


def on_create_rule(aws_client: Any, action: Any) -> None:
    """Run `action(parameters)` once, just before the client's next CreateRule."""
    service = aws_client.meta.service_model.service_id.hyphenize()
    done: list[bool] = []

    def hook(params: dict[str, Any], **_: Any) -> None:
        if not done:
            done.append(True)
            action(params)

    aws_client.meta.events.register(f"before-parameter-build.{service}.CreateRule", hook)


def test_a_reservation_is_a_target_group_checked_on_jupyters_api_and_a_path_rule(
    cloud: Cloud,
) -> None:
    alb = router(cloud)
    alb.reserve(SESSION)
    (group,) = cloud.elbv2.describe_target_groups(Names=[f"{TG}{SESSION}"])["TargetGroups"]
    assert (group["TargetType"], group["Port"], group["VpcId"]) == (
        "ip",
        8888,
        cloud.deployment.vpc_id,
    )
    assert group["HealthCheckPath"] == f"/s/{SESSION}/api"
    assert group["Matcher"] == {"HttpCode": "200"}
    assert (group["HealthCheckIntervalSeconds"], group["HealthyThresholdCount"]) == (5, 2)
    attributes = cloud.elbv2.describe_target_group_attributes(
        TargetGroupArn=group["TargetGroupArn"]
    )
    delay = {a["Key"]: a["Value"] for a in attributes["Attributes"]}
    assert int(delay["deregistration_delay.timeout_seconds"]) < 120
    (rule,) = cloud.session_rules()
    assert rule["Conditions"][0]["PathPatternConfig"]["Values"] == [
        f"/s/{SESSION}",
        f"/s/{SESSION}/*",
    ]
    assert rule["Actions"] == [{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}]


def test_reserving_again_changes_nothing(cloud: Cloud) -> None:
    alb = router(cloud)
    alb.reserve(SESSION)
    alb.reserve(SESSION)
    assert cloud.target_groups() == [f"{TG}{SESSION}"] and len(cloud.session_rules()) == 1


def test_a_priority_taken_between_read_and_write_is_chosen_again(cloud: Cloud) -> None:
    alb = router(cloud)
    other = cloud.elbv2.create_target_group(
        Name="someone-else",
        Protocol="HTTP",
        Port=80,
        VpcId=cloud.deployment.vpc_id,
        TargetType="ip",
    )["TargetGroups"][0]["TargetGroupArn"]
    taken: list[int] = []

    def competitor(params: dict[str, Any]) -> None:
        taken.append(params["Priority"])
        cloud.elbv2.create_rule(
            ListenerArn=params["ListenerArn"],
            Priority=params["Priority"],
            Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/other/*"]}}],
            Actions=[{"Type": "forward", "TargetGroupArn": other}],
        )

    on_create_rule(alb.client, competitor)
    alb.reserve(SESSION)
    priorities = {r["Priority"]: r["Actions"][0]["TargetGroupArn"] for r in cloud.session_rules()}
    assert priorities[str(taken[0])] == other  # the competitor kept its priority
    ours = [p for p, arn in priorities.items() if target_group_name(arn) == f"{TG}{SESSION}"]
    assert len(ours) == 1 and ours[0] != str(taken[0])


def test_the_router_counts_target_groups_and_refuses_when_every_alb_is_full(cloud: Cloud) -> None:
    alb = router(cloud, targets_per_alb=2)
    alb.reserve("a" * 16)
    alb.reserve("b" * 16)
    with pytest.raises(QuotaExceededError, match="This binder is at capacity: all 2 session"):
        alb.reserve("c" * 16)
    assert cloud.target_groups() == [TG + "a" * 16, TG + "b" * 16]
    alb.remove("a" * 16)
    alb.reserve("c" * 16)  # a slot freed by an ended session is used again


def test_aws_refusing_a_rule_for_its_quota_is_capacity_too(cloud: Cloud) -> None:
    alb = router(cloud)
    fail_calls(alb.client, "CreateRule", "TooManyTargetGroups")
    with pytest.raises(QuotaExceededError):
        alb.reserve(SESSION)
    assert cloud.target_groups() == []  # the target group made for it is gone again


def test_removal_deletes_the_rule_then_the_target_group_and_is_idempotent(cloud: Cloud) -> None:
    alb = router(cloud)
    alb.reserve(SESSION)
    url = alb.add(SESSION, "10.42.1.20:8888")
    assert url == f"{PUBLIC_URL}/s/{SESSION}/"
    calls = ApiCalls(alb.client)
    alb.remove(SESSION)
    deletes = [name for name in calls.names if name.startswith("Delete")]
    assert deletes == ["DeleteRule", "DeleteTargetGroup"]
    assert cloud.target_groups() == [] and cloud.session_rules() == []
    calls.clear()
    alb.remove(SESSION)
    assert calls.names == ["DescribeTargetGroups"]


def test_adding_a_session_that_was_never_reserved_reserves_it(cloud: Cloud) -> None:
    alb = router(cloud)
    alb.add(SESSION, "10.42.2.9:8888")
    assert len(cloud.session_rules()) == 1
    assert cloud.targets(SESSION) == ["10.42.2.9"]


def test_held_lists_this_deployments_session_target_groups_only(cloud: Cloud) -> None:
    alb = router(cloud)
    alb.reserve(SESSION)
    cloud.elbv2.create_target_group(
        Name="shop-frontend",
        Protocol="HTTP",
        Port=80,
        VpcId=cloud.deployment.vpc_id,
        TargetType="ip",
    )
    assert alb.held() == {SESSION: SESSION}
    alb.release(SESSION)
    assert alb.held() == {}
    assert cloud.target_groups() == ["shop-frontend"]


def test_names_are_read_from_arns() -> None:
    arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012"
    listener = f"{arn}:listener/app/sky/50dc6c495c0c9188/f2f7dc8efc522ab2"
    assert load_balancer_of(listener) == f"{arn}:loadbalancer/app/sky/50dc6c495c0c9188"
    group = f"{arn}:targetgroup/sb-abc/73e2d6bc24d8a067"
    assert target_group_name(group) == "sb-abc"


@pytest.mark.parametrize("prefix", ["", "-sb", "a-very-long-prefix-", "sb_"])
def test_a_prefix_that_would_break_target_group_names_is_refused(prefix: str) -> None:
    with pytest.raises(ValueError, match="Target group prefix"):
        AlbSettings(listener_arns=("x",), vpc_id="v", public_url=str, name_prefix=prefix)


def test_a_prefix_too_long_for_the_pools_session_ids_is_refused() -> None:
    # 16 + a 16-character id fits in 32; "p1-" + a 14-character id needs one more.
    AlbSettings(listener_arns=("x",), vpc_id="v", public_url=str, name_prefix="p" * 16)
    with pytest.raises(ValueError, match="too long for a pool of 2 load balancers"):
        AlbSettings(listener_arns=("x", "y"), vpc_id="v", public_url=str, name_prefix="p" * 16)
    AlbSettings(listener_arns=("x", "y"), vpc_id="v", public_url=str, name_prefix="p" * 15)


def test_the_route_handle_spares_the_look_ups(cloud: Cloud) -> None:
    alb = router(cloud)
    route = alb.reserve(SESSION)
    (group,) = cloud.elbv2.describe_target_groups(Names=[f"{TG}{SESSION}"])["TargetGroups"]
    assert route == group["TargetGroupArn"]
    assert alb.reserve(SESSION) == route  # found again, not made twice
    calls = ApiCalls(alb.client)
    alb.add(SESSION, "10.0.0.5:8888", route)
    assert calls.names == ["RegisterTargets"]
    calls = ApiCalls(alb.client)
    alb.remove(SESSION, route)
    assert "DescribeTargetGroups" not in calls.names
    assert cloud.elbv2.describe_rules(ListenerArn=alb.settings.listener_arns[0])["Rules"][0][
        "IsDefault"
    ]
    assert not [g for g in cloud.elbv2.describe_target_groups()["TargetGroups"]
                if g["TargetGroupName"].startswith(TG)]  # fmt: skip


def test_a_stale_route_handle_makes_the_route_again(cloud: Cloud) -> None:
    alb = router(cloud)
    route = alb.reserve(SESSION)
    alb.remove(SESSION, route)  # lost, e.g. swept as an orphan after a crash
    url = alb.add(SESSION, "10.0.0.5:8888", route)
    assert url.endswith(f"/s/{SESSION}/")
    (group,) = cloud.elbv2.describe_target_groups(Names=[f"{TG}{SESSION}"])["TargetGroups"]
    assert group["TargetGroupArn"] != route
    health = cloud.elbv2.describe_target_health(TargetGroupArn=group["TargetGroupArn"])
    assert [t["Target"]["Id"] for t in health["TargetHealthDescriptions"]] == ["10.0.0.5"]
    # The session still holds the old handle: removal finds the new group by name.
    alb.remove(SESSION, route)
    assert not cloud.elbv2.describe_target_groups()["TargetGroups"]
    rules = cloud.elbv2.describe_rules(ListenerArn=alb.settings.listener_arns[0])["Rules"]
    assert [r["IsDefault"] for r in rules] == [True]
