"""How requests and events reach the functions: API Gateway, CloudFront and EventBridge."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from moto.events.models import EventPattern

from tests.infra.deployment import Deployment, Resource

EVENTS = Path(__file__).resolve().parents[1] / "events"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER = "216adef6-5c7f-47e4-b989-5492eafa07d3"


def _paths(deployment: Deployment) -> dict[str, str]:
    """API Gateway resource id -> its full path."""
    resources = deployment.of_type("apigateway/resource:Resource")
    by_id = {r.id: r for r in resources}

    def path(resource: Resource) -> str:
        parent = by_id.get(resource.inputs["parentId"])
        return (path(parent) if parent else "") + "/" + resource.inputs["pathPart"]

    return {"root0123": "/", **{r.id: path(r) for r in resources}}


def test_every_route_streams_from_the_launch_function(deployment: Deployment) -> None:
    launch_arn = "arn:aws:lambda:us-east-1:123456789012:function:sb-dev-launch-1a2b3c4"
    integrations = deployment.of_type("apigateway/integration:Integration")
    assert len(integrations) == 6
    for integration in integrations:
        inputs = integration.inputs
        assert inputs["type"] == "AWS_PROXY"
        assert inputs["responseTransferMode"] == "STREAM"
        assert inputs["uri"] == (
            "arn:aws:apigateway:us-east-1:lambda:path/2021-11-15/functions/"
            f"{launch_arn}/response-streaming-invocations"
        )
        assert inputs["timeoutMilliseconds"] == 900_000


def test_admin_routes_require_iam_and_no_other_route_does(deployment: Deployment) -> None:
    paths = _paths(deployment)
    methods = {paths[m.inputs["resourceId"]]: m.inputs for m in deployment.of_type("Method")}
    assert set(methods) == {
        "/",
        "/{proxy+}",
        "/api",
        "/api/{proxy+}",
        "/api/admin",
        "/api/admin/{proxy+}",
    }
    for path, method in methods.items():
        expected = "AWS_IAM" if path.startswith("/api/admin") else "NONE"
        assert method["authorization"] == expected, path
        assert method["httpMethod"] == "ANY"


def test_the_api_is_throttled(deployment: Deployment) -> None:
    settings = deployment.one("apigateway/methodSettings:MethodSettings").inputs
    assert settings["methodPath"] == "*/*"
    assert settings["settings"]["throttlingRateLimit"] == 50
    assert settings["settings"]["throttlingBurstLimit"] == 100


def test_cloudfront_redirects_to_https_everywhere(deployment: Deployment) -> None:
    distribution = deployment.one("cloudfront/distribution:Distribution").inputs
    behaviors = [distribution["defaultCacheBehavior"], *distribution["orderedCacheBehaviors"]]
    assert all(b["viewerProtocolPolicy"] == "redirect-to-https" for b in behaviors)
    # Compression holds a response back until it is complete: /build and websockets stream.
    assert not any(b["compress"] for b in behaviors)


def test_cloudfront_never_caches_sessions(deployment: Deployment) -> None:
    distribution = deployment.one("cloudfront/distribution:Distribution").inputs
    (behavior,) = distribution["orderedCacheBehaviors"]
    (origin,) = [o for o in distribution["origins"] if "vpcOriginConfig" in o]
    # Every session, whatever its id, goes to the one load balancer, and so to the proxy.
    assert behavior["pathPattern"] == "/s/*"
    assert behavior["targetOriginId"] == origin["originId"]
    # Never cached; every header (Host, Authorization, Upgrade for WebSockets), every cookie
    # and query string travels to the proxy, and every method.
    assert behavior["cachePolicyId"] == CACHING_DISABLED
    assert behavior["originRequestPolicyId"] == ALL_VIEWER
    assert set(behavior["allowedMethods"]) == {
        "GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"
    }  # fmt: skip
    assert behavior["viewerProtocolPolicy"] == "redirect-to-https"
    # Room for the WebSocket pings that keep a kernel's connection open.
    assert origin["vpcOriginConfig"]["originReadTimeout"] >= 30
    assert distribution["defaultCacheBehavior"]["cachePolicyId"] == CACHING_DISABLED


def test_the_one_load_balancer_is_the_one_vpc_origin(deployment: Deployment) -> None:
    (balancer,) = deployment.of_type("lb/loadBalancer:LoadBalancer")
    (origin,) = deployment.of_type("cloudfront/vpcOrigin:VpcOrigin")
    assert origin.inputs["vpcOriginEndpointConfig"]["arn"] == (
        f"arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/"
        f"{balancer.name}-1a2b3c4/50dc6c495c0c9188"
    )
    assert origin.inputs["vpcOriginEndpointConfig"]["originProtocolPolicy"] == "http-only"


def test_the_default_domain_uses_cloudfronts_certificate(default: Deployment) -> None:
    distribution = default.one("cloudfront/distribution:Distribution").inputs
    assert distribution["viewerCertificate"] == {"cloudfrontDefaultCertificate": True}
    assert not default.of_type("acm/certificate:Certificate")
    assert default.outputs["binder_url"] == "https://d111111abcdef8.cloudfront.net"


def test_a_custom_domain_gets_a_certificate_and_records(options: Deployment) -> None:
    distribution = options.one("cloudfront/distribution:Distribution").inputs
    assert distribution["aliases"] == ["binder.example.org"]
    certificate = distribution["viewerCertificate"]
    assert certificate["sslSupportMethod"] == "sni-only"
    assert certificate["minimumProtocolVersion"] == "TLSv1.2_2021"
    assert options.one("acm/certificate:Certificate").inputs["domainName"] == "binder.example.org"
    aliases = [r for r in options.of_type("route53/record:Record") if r.inputs.get("aliases")]
    assert sorted(r.inputs["type"] for r in aliases) == ["A", "AAAA"]
    assert options.outputs["binder_url"] == "https://binder.example.org"


def test_the_public_url_is_published_for_the_functions(deployment: Deployment) -> None:
    name = deployment.variables("launch")["SKYBINDER_PUBLIC_URL_PARAMETER"]
    parameter = deployment.parameter(name).inputs
    assert parameter["value"] == deployment.outputs["binder_url"]
    for role in ("launch", "build", "reap"):
        variables = deployment.function(role).inputs["environment"]["variables"]
        assert variables["SKYBINDER_PUBLIC_URL_PARAMETER"] == parameter["name"]
        # Known before the distribution exists only when it is the operator's own domain.
        custom = bool(deployment.of_type("acm/certificate:Certificate"))
        assert variables["SKYBINDER_PUBLIC_URL"] == (parameter["value"] if custom else "")


# -- EventBridge ---------------------------------------------------------------------------


def _samples(source: str) -> list[dict[str, object]]:
    found = [json.loads(path.read_text(encoding="utf-8")) for path in sorted(EVENTS.glob("*.json"))]
    samples = [
        event for event in found if isinstance(event, dict) and event.get("source") == source
    ]
    assert samples, f"no sample {source} events"
    return samples


def _rule(deployment: Deployment, role: str) -> EventPattern:
    rule = deployment.named("cloudwatch/eventRule:EventRule", f"sb-dev-{role}")
    return EventPattern.load(rule.inputs["eventPattern"])


def _with_detail(event: dict[str, object], key: str, value: str) -> dict[str, object]:
    changed = copy.deepcopy(event)
    changed["detail"][key] = value  # type: ignore[index]
    return changed


@pytest.mark.parametrize(
    "event", _samples("aws.codebuild"), ids=lambda e: e["detail"]["build-status"]
)
def test_build_events_of_this_project_and_only_those_reach_the_build_function(
    deployment: Deployment, event: dict[str, object]
) -> None:
    pattern = _rule(deployment, "builds")
    ours = deployment.outputs["build_project_name"]
    assert pattern.matches_event(_with_detail(event, "project-name", ours))
    assert not pattern.matches_event(_with_detail(event, "project-name", "someone-elses-builds"))
    assert not _rule(deployment, "tasks").matches_event(_with_detail(event, "project-name", ours))


@pytest.mark.parametrize("event", _samples("aws.ecs"), ids=lambda e: e["detail"]["lastStatus"])
def test_task_events_of_this_cluster_and_only_those_reach_the_reap_function(
    deployment: Deployment, event: dict[str, object]
) -> None:
    pattern = _rule(deployment, "tasks")
    cluster = f"arn:aws:ecs:us-east-1:123456789012:cluster/{deployment.outputs['cluster_name']}"
    other = "arn:aws:ecs:us-east-1:123456789012:cluster/another-teams-cluster"
    assert pattern.matches_event(_with_detail(event, "clusterArn", cluster))
    assert not pattern.matches_event(_with_detail(event, "clusterArn", other))
    assert not _rule(deployment, "builds").matches_event(_with_detail(event, "clusterArn", cluster))
    # The session proxy's own tasks run in the same cluster: their news is not the reaper's.
    service = _with_detail(event, "clusterArn", cluster)
    assert not pattern.matches_event(_with_detail(service, "group", "service:sb-dev-proxy"))


def test_rules_invoke_their_functions(deployment: Deployment) -> None:
    targets = {
        t.inputs["rule"]: t.inputs["arn"] for t in deployment.of_type("eventTarget:EventTarget")
    }
    function = "arn:aws:lambda:us-east-1:123456789012:function:sb-dev-{}-1a2b3c4"
    assert targets == {
        "sb-dev-builds-1a2b3c4": function.format("build"),
        "sb-dev-tasks-1a2b3c4": function.format("reap"),
        "sb-dev-every-minute-1a2b3c4": function.format("reap"),
    }
    schedule = deployment.named("cloudwatch/eventRule:EventRule", "sb-dev-every-minute")
    assert schedule.inputs["scheduleExpression"] == "rate(1 minute)"
    permissions = {
        p.inputs["sourceArn"]
        for p in deployment.of_type("lambda/permission:Permission")
        if p.inputs["principal"] == "events.amazonaws.com"
    }
    assert len(permissions) == 3
