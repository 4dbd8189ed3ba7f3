"""The regional REST API in front of the launch function (the FastAPI app, streaming)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import lambdas
from infra.config import Settings
from infra.packaging import RUNTIME, Artifact
from infra.runtime import Runtime

STAGE = "binder"
STREAM_TIMEOUT_MS = 900_000  # 15 minutes: the longest a streamed response may last
ADAPTER_ENVIRONMENT = {
    # run.sh starts Python itself, outside Lambda's bootstrap, which is what adds layers to
    # sys.path: the dependencies layer (/opt/python) must be named here.
    "PYTHONPATH": "/opt/python",
    "AWS_LAMBDA_EXEC_WRAPPER": "/opt/bootstrap",
    "AWS_LWA_INVOKE_MODE": "response_stream",
    "AWS_LWA_PORT": "8080",
    "AWS_LWA_READINESS_CHECK_PATH": "/health",
}


@dataclass
class ApiArgs:
    settings: Settings
    runtime: Runtime
    dependencies: Artifact
    launch_code: Artifact
    settings_parameter: pulumi.Resource  # read by the function at its first start


class Api(pulumi.ComponentResource):
    """`{proxy+}` streams from the launch function; `/api/admin/*` needs IAM (SigV4)."""

    def __init__(self, name: str, args: ApiArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("skybinder:infra:Api", name, None, opts)
        settings = args.settings
        child = pulumi.ResourceOptions(parent=self)
        self.dependencies = self._layer(name, settings, args.dependencies)
        self.launch = lambdas.create(
            f"{name}-launch",
            lambdas.FunctionSpec(
                role="launch",
                handler="run.sh",
                code=args.launch_code,
                layers=[self.dependencies.arn, settings.layer_arn],
                statements=args.runtime.launch_statements(),
                environment=args.runtime.environment(github_token=True),
                extra_environment=ADAPTER_ENVIRONMENT,
                timeout=900,
                memory=1024,
                after=[args.settings_parameter],
            ),
            settings,
            args.runtime.account,
            self,
        )
        self.rest_api = aws.apigateway.RestApi(
            f"{name}-rest",
            description="skybinder: the BinderHub API",
            endpoint_configuration={"types": "REGIONAL"},
            binary_media_types=["*/*"],  # the adapter base64-encodes binary bodies
            opts=child,
        )
        methods = self._routes(name)
        self.stage = self._deploy(name, settings, methods)
        aws.lambda_.Permission(
            f"{name}-invoke",
            action="lambda:InvokeFunction",
            function=self.launch.name,
            principal="apigateway.amazonaws.com",
            source_arn=pulumi.Output.concat(self.rest_api.execution_arn, "/*/*"),
            opts=child,
        )
        self.url = self.stage.invoke_url
        self.domain = pulumi.Output.concat(
            self.rest_api.id, ".execute-api.", settings.region, ".amazonaws.com"
        )
        self.register_outputs({"url": self.url, "launch_function": self.launch.name})

    def _layer(self, name: str, settings: Settings, code: Artifact) -> aws.lambda_.LayerVersion:
        """skybinder's dependencies, shared by the three functions."""
        return aws.lambda_.LayerVersion(
            f"{name}-dependencies",
            layer_name=f"{settings.unique}-dependencies",
            code=pulumi.FileArchive(str(code.path)),
            source_code_hash=code.sha256,
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[settings.lambda_architecture],
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _routes(self, name: str) -> list[aws.apigateway.Integration]:
        """Every path proxies to the app; the admin subtree additionally requires IAM."""
        api = self.rest_api
        root = api.root_resource_id
        proxy = self._resource(f"{name}-proxy", root, "{proxy+}")
        api_part = self._resource(f"{name}-api", root, "api")
        api_proxy = self._resource(f"{name}-api-proxy", api_part.id, "{proxy+}")
        admin = self._resource(f"{name}-admin", api_part.id, "admin")
        admin_proxy = self._resource(f"{name}-admin-proxy", admin.id, "{proxy+}")
        routes = [
            ("root", root, "NONE"),
            ("proxy", proxy.id, "NONE"),
            ("api", api_part.id, "NONE"),
            ("api-proxy", api_proxy.id, "NONE"),
            ("admin", admin.id, "AWS_IAM"),
            ("admin-proxy", admin_proxy.id, "AWS_IAM"),
        ]
        self._fingerprint = [(role, auth) for role, _, auth in routes]
        return [self._method(f"{name}-{role}", resource, auth) for role, resource, auth in routes]

    def _resource(
        self, name: str, parent_id: pulumi.Input[str], part: str
    ) -> aws.apigateway.Resource:
        return aws.apigateway.Resource(
            name,
            rest_api=self.rest_api.id,
            parent_id=parent_id,
            path_part=part,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _method(
        self, name: str, resource_id: pulumi.Input[str], authorization: str
    ) -> aws.apigateway.Integration:
        method = aws.apigateway.Method(
            f"{name}-any",
            rest_api=self.rest_api.id,
            resource_id=resource_id,
            http_method="ANY",
            authorization=authorization,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return aws.apigateway.Integration(
            f"{name}-integration",
            rest_api=self.rest_api.id,
            resource_id=resource_id,
            http_method=method.http_method,
            type="AWS_PROXY",
            integration_http_method="POST",
            uri=streaming_uri(self.launch.arn),
            response_transfer_mode="STREAM",
            timeout_milliseconds=STREAM_TIMEOUT_MS,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _deploy(
        self, name: str, settings: Settings, integrations: list[aws.apigateway.Integration]
    ) -> aws.apigateway.Stage:
        child = pulumi.ResourceOptions(parent=self, depends_on=integrations)
        # A new deployment whenever the routes or their integration settings change.
        fingerprint = hashlib.sha256(
            json.dumps([STAGE, STREAM_TIMEOUT_MS, "STREAM", self._fingerprint]).encode()
        ).hexdigest()
        deployment = aws.apigateway.Deployment(
            f"{name}-deployment",
            rest_api=self.rest_api.id,
            triggers={"routes": fingerprint},
            opts=child,
        )
        stage = aws.apigateway.Stage(
            f"{name}-stage",
            rest_api=self.rest_api.id,
            deployment=deployment.id,
            stage_name=STAGE,
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.apigateway.MethodSettings(
            f"{name}-throttling",
            rest_api=self.rest_api.id,
            stage_name=stage.stage_name,
            method_path="*/*",
            settings={
                "throttling_rate_limit": settings.api_rate_limit,
                "throttling_burst_limit": settings.api_burst_limit,
                "metrics_enabled": True,
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        return stage


def streaming_uri(function_arn: pulumi.Input[str]) -> pulumi.Output[str]:
    """The integration URI that makes API Gateway call InvokeWithResponseStream."""
    return pulumi.Output.from_input(function_arn).apply(
        lambda arn: (
            f"arn:aws:apigateway:{arn.split(':')[3]}:lambda:path/2021-11-15/functions/"
            f"{arn}/response-streaming-invocations"
        )
    )
