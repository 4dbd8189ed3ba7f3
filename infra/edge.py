"""CloudFront: HTTPS for everything, `/s/*` to the internal load balancer (the session proxy),
the rest to the API."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.config import Domain
from infra.providers import virginia
from skybinder.adapters.aws.names import ORIGIN_SECRET_HEADER

# AWS managed policies (their ids are the same in every account).
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER = "216adef6-5c7f-47e4-b989-5492eafa07d3"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
ALL_METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
CACHED_METHODS = ["GET", "HEAD"]
API_ORIGIN = "api"
SESSION_ORIGIN = "sessions"
SESSION_PATH = "/s/*"
Origin = aws.cloudfront.DistributionOriginArgsDict
Behavior = aws.cloudfront.DistributionOrderedCacheBehaviorArgsDict
Certificate = aws.cloudfront.DistributionViewerCertificateArgsDict


@dataclass
class EdgeArgs:
    prefix: str
    unique: str  # VPC origin names are unique per account, across regions and stacks
    region: str
    api_domain: pulumi.Input[str]
    api_stage: str
    # Sent to the API with every request, so that the app can refuse requests that did not
    # come through CloudFront (and whose client address headers anyone could have written).
    origin_secret: pulumi.Input[str]
    load_balancer_arn: pulumi.Input[str]
    load_balancer_dns_name: pulumi.Input[str]
    price_class: str
    public_url_parameter: str
    domain: Domain | None = None


class Edge(pulumi.ComponentResource):
    """The public face: redirects HTTP to HTTPS, caches nothing dynamic, never caches sessions."""

    def __init__(self, name: str, args: EdgeArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("skybinder:infra:Edge", name, None, opts)
        self._base = name
        child = pulumi.ResourceOptions(parent=self)
        sessions = self._session_origin(args)
        certificate, aliases = self._certificate(args.domain)
        self.distribution = aws.cloudfront.Distribution(
            f"{name}-cdn",
            enabled=True,
            comment=f"skybinder {args.prefix}",
            http_version="http2and3",
            is_ipv6_enabled=True,
            price_class=args.price_class,
            aliases=aliases,
            origins=[_api_origin(args), sessions],
            default_cache_behavior=_api_behavior(),
            ordered_cache_behaviors=[_session_behavior(SESSION_PATH, SESSION_ORIGIN)],
            restrictions={"geo_restriction": {"restriction_type": "none"}},
            viewer_certificate=certificate,
            opts=child,
        )
        host = args.domain.name if args.domain else self.distribution.domain_name
        self.url = pulumi.Output.concat("https://", host)
        if args.domain:
            self._alias(args.domain)
        # The launch function reads its public URL here at run time: no dependency cycle.
        aws.ssm.Parameter(
            f"{name}-public-url",
            name=args.public_url_parameter,
            type="String",
            value=self.url,
            opts=child,
        )
        self.register_outputs({"url": self.url})

    def _session_origin(self, args: EdgeArgs) -> Origin:
        """The internal load balancer, reached through a VPC origin (it has no public address).
        The viewer's Host travels on (the behavior forwards every header): the session proxy
        passes it unchanged, so Jupyter sees the address users reached it by."""
        vpc_origin = aws.cloudfront.VpcOrigin(
            f"{self._base}-vpc-origin",
            vpc_origin_endpoint_config={
                "name": f"{args.unique}-{args.region}-sessions",
                "arn": args.load_balancer_arn,
                "http_port": 80,
                "https_port": 443,
                "origin_protocol_policy": "http-only",  # inside the VPC, to an internal ALB
                "origin_ssl_protocols": {"items": ["TLSv1.2"], "quantity": 1},
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        return {
            "origin_id": SESSION_ORIGIN,
            "domain_name": args.load_balancer_dns_name,
            "vpc_origin_config": {
                "vpc_origin_id": vpc_origin.id,
                # Room for the websocket pings that keep sessions open (default 30 s).
                "origin_read_timeout": 60,
                "origin_keepalive_timeout": 60,
            },
        }

    def _certificate(self, domain: Domain | None) -> tuple[Certificate, list[str]]:
        if domain is None:
            return {"cloudfront_default_certificate": True}, []
        # CloudFront only takes certificates from us-east-1, whatever the stack's region.
        provider = virginia(f"{self._base}-us-east-1", self)
        zone = aws.route53.get_zone_output(
            name=domain.zone, private_zone=False, opts=pulumi.InvokeOutputOptions(parent=self)
        )
        self._zone_id = zone.zone_id
        cert = aws.acm.Certificate(
            f"{self._base}-certificate",
            domain_name=domain.name,
            validation_method="DNS",
            opts=pulumi.ResourceOptions(parent=self, provider=provider),
        )
        option = cert.domain_validation_options[0]
        record = aws.route53.Record(
            f"{self._base}-certificate-validation",
            zone_id=zone.zone_id,
            name=option.resource_record_name,
            type=option.resource_record_type,
            records=[option.resource_record_value],
            ttl=300,
            allow_overwrite=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        validated = aws.acm.CertificateValidation(
            f"{self._base}-certificate-validated",
            certificate_arn=cert.arn,
            validation_record_fqdns=[record.fqdn],
            opts=pulumi.ResourceOptions(parent=self, provider=provider),
        )
        viewer: Certificate = {
            "acm_certificate_arn": validated.certificate_arn,
            "ssl_support_method": "sni-only",
            "minimum_protocol_version": "TLSv1.2_2021",
        }
        return viewer, [domain.name]

    def _alias(self, domain: Domain) -> None:
        for record_type in ("A", "AAAA"):
            aws.route53.Record(
                f"{self._base}-alias-{record_type.lower()}",
                zone_id=self._zone_id,
                name=domain.name,
                type=record_type,
                aliases=[
                    {
                        "name": self.distribution.domain_name,
                        "zone_id": self.distribution.hosted_zone_id,
                        "evaluate_target_health": False,
                    }
                ],
                opts=pulumi.ResourceOptions(parent=self),
            )


def _api_origin(args: EdgeArgs) -> Origin:
    return {
        "origin_id": API_ORIGIN,
        "domain_name": args.api_domain,
        "origin_path": f"/{args.api_stage}",
        # CloudFront replaces a header of this name that a viewer sends.
        "custom_headers": [{"name": ORIGIN_SECRET_HEADER, "value": args.origin_secret}],
        "custom_origin_config": {
            "http_port": 80,
            "https_port": 443,
            "origin_protocol_policy": "https-only",
            "origin_ssl_protocols": ["TLSv1.2"],
            "origin_read_timeout": 60,  # between bytes; /build sends a keepalive every 25 s
            "origin_keepalive_timeout": 60,
        },
    }


def _api_behavior() -> aws.cloudfront.DistributionDefaultCacheBehaviorArgsDict:
    """The app: nothing cached; every header but Host (API Gateway routes on its own Host),
    plus CloudFront's own, CloudFront-Viewer-Address among them: the client's address."""
    return {
        "target_origin_id": API_ORIGIN,
        "viewer_protocol_policy": "redirect-to-https",
        "allowed_methods": ALL_METHODS,
        "cached_methods": CACHED_METHODS,
        "cache_policy_id": CACHING_DISABLED,
        "origin_request_policy_id": ALL_VIEWER_EXCEPT_HOST,
        "compress": False,  # compressing would hold back the /build event stream
    }


def _session_behavior(pattern: str, origin_id: str) -> Behavior:
    """A session: never cached; every header (Host, Authorization, the WebSocket upgrade),
    cookie and query string goes to the proxy, every method too."""
    return {
        "path_pattern": pattern,
        "target_origin_id": origin_id,
        "viewer_protocol_policy": "redirect-to-https",
        "allowed_methods": ALL_METHODS,
        "cached_methods": CACHED_METHODS,
        "cache_policy_id": CACHING_DISABLED,
        "origin_request_policy_id": ALL_VIEWER,
        "compress": False,
    }
