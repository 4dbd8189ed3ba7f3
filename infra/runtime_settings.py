"""The functions' settings parameter: what grows with the configuration, and the origin secret.

One SecureString parameter, read by each function once per cold start, instead of variables:
Lambda allows 4 KB of environment variables in all, and listener ARNs, prices and banned specs
grow with the configuration. The origin secret is made here too (CloudFront sends it to the API
with every request; the launch function refuses requests without it).
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from infra.runtime import Runtime

SECRET_LENGTH = 48  # letters and digits: ~285 bits


class RuntimeSettings(pulumi.ComponentResource):
    """The parameter `Runtime.settings_parameter` names, holding `Runtime.parameter_value`."""

    def __init__(self, name: str, runtime: Runtime, opts: pulumi.ResourceOptions | None = None):
        super().__init__("skybinder:infra:RuntimeSettings", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.origin_secret: pulumi.Output[str] = pulumi.Output.secret(
            random.RandomPassword(
                f"{name}-origin-secret", length=SECRET_LENGTH, special=False, opts=child
            ).result
        )
        self.parameter = aws.ssm.Parameter(
            f"{name}-settings",
            name=runtime.settings_parameter,
            type="SecureString",  # the origin secret is in it
            # Standard (4 KB) while it fits; Advanced (8 KB) when a long list needs it.
            tier="Intelligent-Tiering",
            value=runtime.parameter_value(self.origin_secret),
            opts=child,
        )
        self.register_outputs({"parameter": self.parameter.name})
