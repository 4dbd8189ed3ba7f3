"""The Pulumi program: read the config, compose the components, export what operators need."""

from __future__ import annotations

import sys
from pathlib import Path

# Pulumi runs this directory as a script; make `infra` importable as the package it is.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pulumi
import pulumi_aws as aws

from infra import config, packaging
from infra.api import STAGE, Api, ApiArgs
from infra.balancer import Balancer, BalancerArgs
from infra.builder import Builder, BuilderArgs
from infra.edge import Edge, EdgeArgs
from infra.network import Network, NetworkArgs
from infra.observability import Observability, ObservabilityArgs
from infra.proxy import PACKAGE_ARCHITECTURE, Proxy, ProxyArgs
from infra.registry import ECR_PUBLIC, Registry, RegistryArgs
from infra.runtime import Runtime
from infra.runtime_settings import RuntimeSettings
from infra.schedules import Schedules, SchedulesArgs
from infra.sessions import Sessions, SessionsArgs
from infra.state import State, StateArgs

stack = pulumi.get_stack()
qualified = f"{pulumi.get_organization() or ''}/{pulumi.get_project()}/{stack}"
settings = config.load(pulumi.Config(), stack, aws.get_region().region, qualified)
account = aws.get_caller_identity_output().account_id
name = settings.prefix

network = Network(name, NetworkArgs(settings.vpc_cidr, settings.private, settings.region))
registry = Registry(
    name,
    RegistryArgs(settings.image_expiry_days, settings.stack_hash, settings.docker_hub_secret),
)
state = State(name, StateArgs())
builder = Builder(
    name,
    BuilderArgs(
        account=account,
        region=settings.region,
        images_arn=registry.images.arn,
        images_url=registry.images.repository_url,
        cache_arn=registry.cache.arn,
        cache_url=registry.cache.repository_url,
        compute_type=settings.builder_compute_type,
        image=settings.builder_image,
        timeout_minutes=settings.builder_timeout,
        concurrency=settings.builder_concurrency,
        log_retention_days=settings.log_retention_days,
        soci_version=settings.soci_version,
        soci_sha256=settings.soci_sha256,
        mirrors=registry.mirrors,
    ),
)
sessions = Sessions(
    name,
    SessionsArgs(
        unique=settings.unique,
        region=settings.region,
        account=account,
        images_arn=registry.images.arn,
        images_url=registry.images.repository_url,
        cpu=settings.session_cpu,
        memory=settings.session_memory,
        container_insights=settings.container_insights,
        log_retention_days=settings.log_retention_days,
    ),
)
balancer = Balancer(
    name,
    BalancerArgs(
        unique=settings.unique,
        vpc_id=network.vpc.id,
        subnet_ids=[subnet.id for subnet in network.internal_subnets],
        security_group_id=network.alb_sg.id,
    ),
)
proxy = Proxy(
    f"{name}-proxy",
    ProxyArgs(
        unique=settings.unique,
        region=settings.region,
        account=account,
        cluster_arn=sessions.cluster.arn,
        cluster_name=sessions.cluster.name,
        table_name=state.table.name,
        table_arn=state.table.arn,
        subnet_ids=[subnet.id for subnet in network.session_subnets],
        security_group_id=network.proxy_sg.id,
        assign_public_ip=network.assign_public_ip,
        target_group_arn=balancer.target_group.arn,
        listener=balancer.listener,
        load_balancer_suffix=balancer.load_balancer.arn_suffix,
        request_label=balancer.request_label,
        registry=registry.images.repository_url.apply(lambda url: url.split("/", 1)[0]),
        ecr_public_mirror=registry.mirrors[ECR_PUBLIC],
        package=packaging.proxy_package(PACKAGE_ARCHITECTURE),
        log_retention_days=settings.log_retention_days,
        spot=settings.proxy_spot,
    ),
)
runtime = Runtime(
    settings=settings,
    account=account,
    table_name=state.table.name,
    table_arn=state.table.arn,
    cluster_name=sessions.cluster.name,
    cluster_arn=sessions.cluster.arn,
    project_name=builder.project.name,
    project_arn=builder.project.arn,
    build_log_group=builder.log_group.name,
    build_log_group_arn=builder.log_group.arn,
    images_url=registry.images.repository_url,
    images_arn=registry.images.arn,
    task_definition_arn=sessions.task_definition.arn,
    task_family=sessions.family_prefix,
    execution_role_arn=sessions.execution_role.arn,
    subnet_ids=[subnet.id for subnet in network.session_subnets],
    session_security_group_id=network.session_sg.id,
    assign_public_ip=network.assign_public_ip,
    proxy_service=proxy.resource_id,
    proxy_service_arn=proxy.service.arn,
    proxy_scalable_target_arn=proxy.scalable_target.arn,
)
runtime_settings = RuntimeSettings(name, runtime)
dependencies = packaging.dependencies_layer(settings.lambda_architecture, tracing=settings.tracing)
api = Api(
    name,
    ApiArgs(
        settings,
        runtime,
        dependencies,
        packaging.function_archive("launch"),
        runtime_settings.parameter,
    ),
)
schedules = Schedules(
    name,
    SchedulesArgs(
        settings=settings,
        runtime=runtime,
        layers=[api.dependencies.arn],
        build_code=packaging.function_archive("build"),
        reap_code=packaging.function_archive("reap"),
        settings_parameter=runtime_settings.parameter,
    ),
)
edge = Edge(
    name,
    EdgeArgs(
        prefix=settings.prefix,
        unique=settings.unique,
        region=settings.region,
        api_domain=api.domain,
        api_stage=STAGE,
        origin_secret=runtime_settings.origin_secret,
        load_balancer_arn=balancer.load_balancer.arn,
        load_balancer_dns_name=balancer.load_balancer.dns_name,
        price_class=settings.price_class,
        public_url_parameter=runtime.public_url_parameter,
        domain=settings.domain,
    ),
)
observability = Observability(
    name,
    ObservabilityArgs(
        unique=settings.unique,
        region=settings.region,
        function_names=[api.launch.name, schedules.build.name, schedules.reap.name],
        alarm_email=settings.alarm_email,
    ),
)

pulumi.export("binder_url", edge.url)
pulumi.export(
    "badge_markdown",
    edge.url.apply(
        lambda url: f"[![Binder]({url}/badge_logo.svg)]({url}/v2/gh/<user>/<repo>/HEAD)"
    ),
)
pulumi.export("api_url", api.url)
pulumi.export("admin_endpoint", pulumi.Output.concat(api.url, "/api/admin"))
pulumi.export("table_name", state.table.name)
pulumi.export("cluster_name", sessions.cluster.name)
pulumi.export("proxy_service", proxy.service.name)
pulumi.export("repository_url", registry.images.repository_url)
pulumi.export("build_project_name", builder.project.name)
pulumi.export(
    "dashboard_url",
    pulumi.Output.concat(
        "https://console.aws.amazon.com/cloudwatch/home?region=",
        settings.region,
        "#dashboards:name=",
        observability.dashboard.dashboard_name,
    ),
)
