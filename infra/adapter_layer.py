"""The AWS Lambda Web Adapter layer the launch function runs under: its version is pinned here.

AWS publishes the adapter as a public layer from one account, under the same name and version
number in every commercial region (the `aws` partition), one layer per architecture:

    arn:aws:lambda:<region>:753240598075:layer:LambdaAdapterLayerX86:<VERSION>
    arn:aws:lambda:<region>:753240598075:layer:LambdaAdapterLayerArm64:<VERSION>

To bump it (docs/deploy.md, "Upgrading the Lambda Web Adapter"): read the release notes at
https://github.com/aws/aws-lambda-web-adapter/releases, set VERSION to the layer version they
list, run `python3 dev.py test tests/infra`, and `pulumi up`. An operator who needs another
layer (a region AWS has not published it to yet, a fork) sets `lambdaAdapterLayerArn` instead.
"""

from __future__ import annotations

import re

VERSION = 30
PUBLISHER = "753240598075"
LAYER_NAMES = {"x86_64": "LambdaAdapterLayerX86", "arm64": "LambdaAdapterLayerArm64"}
# Regions of the `aws` partition: two letters, a direction, a number (eu-west-1, ap-south-2).
# China (cn-*), GovCloud (us-gov-*) and the isolated partitions are not published to, and the
# rest of the deployment writes `arn:aws:` ARNs, so they are refused up front.
COMMERCIAL_REGION = re.compile(r"(?!cn-|us-gov-|us-iso)[a-z]{2}-[a-z]+-[0-9]{1,2}")
ARN_SHAPE = re.compile(
    r"arn:aws:lambda:[a-z]{2}-[a-z]+-[0-9]{1,2}:[0-9]{12}:layer:[A-Za-z0-9_-]{1,140}:[0-9]+"
)


class AdapterLayerError(ValueError):
    """No published adapter layer fits the region or architecture; the message says what to set."""


def layer_arn(region: str, architecture: str) -> str:
    """The published layer's ARN for a function in `region` on `architecture`."""
    if architecture not in LAYER_NAMES:
        raise AdapterLayerError(
            f"The Lambda Web Adapter layer is published for {', '.join(sorted(LAYER_NAMES))}, "
            f"not {architecture!r}."
        )
    if not COMMERCIAL_REGION.fullmatch(region):
        raise AdapterLayerError(
            f"skybinder deploys to the commercial AWS regions only, and {region!r} is not one: "
            "its ARNs and the Lambda Web Adapter layer differ there."
        )
    return f"arn:aws:lambda:{region}:{PUBLISHER}:layer:{LAYER_NAMES[architecture]}:{VERSION}"
