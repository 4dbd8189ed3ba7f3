"""Pulumi mocks that answer like AWS would and record every resource with its parent.

Physical names are made as Pulumi's autonaming makes them (the logical name, a hyphen, seven
characters), and ARNs have the shapes AWS gives them: the IAM checks of tests/aws evaluate
the rendered policies against the ARNs each call targets, so the shapes must be AWS's.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pulumi
from pulumi.runtime.mocks import MockMonitor

ACCOUNT = "123456789012"
REGION = "us-east-1"
ZONE_ID = "Z0123456789ABCDEFGHIJ"


class RecordingMonitor(MockMonitor):
    """The stock mock monitor, also noting which resource each one was registered under."""

    def __init__(self, mocks: AwsMocks):
        super().__init__(mocks)
        self.parents: dict[str, str] = {}
        self.dependencies: dict[str, list[str]] = {}

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        self.parents[response.urn] = request.parent
        self.dependencies[response.urn] = list(request.dependencies)
        return response


class AwsMocks(pulumi.runtime.Mocks):
    """Returns each resource's inputs plus the identifiers AWS would have assigned."""

    def __init__(self) -> None:
        self.resources: list[dict[str, Any]] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        outputs = dict(args.inputs)
        physical = outputs.get("name") or f"{args.name}-1a2b3c4"
        outputs.setdefault("name", physical)
        outputs.update(_identifiers(args.typ, args.name, physical, outputs))
        self.resources.append({"type": args.typ, "name": args.name, "inputs": args.inputs})
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        token = args.token
        if token == "aws:index/getRegion:getRegion":
            return {"id": REGION, "name": REGION, "region": REGION}
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "id": ACCOUNT,
                "accountId": ACCOUNT,
                "arn": f"arn:aws:iam::{ACCOUNT}:user/op",
                "userId": "AIDA0000",
            }
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            names = [f"{REGION}{letter}" for letter in "abc"]
            return {"id": REGION, "names": names, "zoneIds": [f"use1-az{i}" for i in (1, 2, 3)]}
        if token == "aws:route53/getZone:getZone":
            return {"id": ZONE_ID, "zoneId": ZONE_ID, "name": args.args.get("name")}
        raise NotImplementedError(f"no mock for the invoke {token}")


def _identifiers(typ: str, name: str, physical: str, inputs: dict[str, Any]) -> dict[str, Any]:
    base = f"{REGION}:{ACCOUNT}"
    table = {**_compute(physical, inputs), **_edge(name, physical, inputs)}
    service = typ.split(":")[1].split("/")[0]
    return {"arn": f"arn:aws:{service}:{base}:{physical}", "id": f"{name}-id", **table.get(typ, {})}


def _compute(physical: str, inputs: dict[str, Any]) -> dict[str, dict[str, Any]]:
    base = f"{REGION}:{ACCOUNT}"
    lb = f"app/{physical}/50dc6c495c0c9188"
    secret = hashlib.sha256(physical.encode()).hexdigest()
    return {
        "random:index/randomPassword:RandomPassword": {
            "result": secret[: int(inputs.get("length", 32))],
        },
        "aws:dynamodb/table:Table": {"arn": f"arn:aws:dynamodb:{base}:table/{physical}"},
        "aws:codebuild/project:Project": {"arn": f"arn:aws:codebuild:{base}:project/{physical}"},
        "aws:ssm/parameter:Parameter": {"arn": f"arn:aws:ssm:{base}:parameter{physical}"},
        "aws:sns/topic:Topic": {"arn": f"arn:aws:sns:{base}:{physical}"},
        "aws:ecr/repository:Repository": {
            "arn": f"arn:aws:ecr:{base}:repository/{physical}",
            "repositoryUrl": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{physical}",
        },
        "aws:lb/loadBalancer:LoadBalancer": {
            "arn": f"arn:aws:elasticloadbalancing:{base}:loadbalancer/{lb}",
            "arnSuffix": lb,
            "dnsName": f"internal-{physical}.{REGION}.elb.amazonaws.com",
        },
        "aws:lb/targetGroup:TargetGroup": {
            "arn": f"arn:aws:elasticloadbalancing:{base}:targetgroup/{physical}/6d0ecf831eec9f09",
            "arnSuffix": f"targetgroup/{physical}/6d0ecf831eec9f09",
        },
        "aws:lb/listener:Listener": {
            "arn": f"arn:aws:elasticloadbalancing:{base}:listener/{lb}/f2f7dc8efc522ab2",
        },
        "aws:ecs/cluster:Cluster": {"arn": f"arn:aws:ecs:{base}:cluster/{physical}"},
        "aws:ecs/service:Service": {
            "arn": f"arn:aws:ecs:{base}:service/"
            f"{str(inputs.get('cluster', '')).rsplit('/', 1)[-1]}/{physical}",
        },
        "aws:appautoscaling/target:Target": {
            "arn": f"arn:aws:application-autoscaling:{base}:scalable-target/"
            f"{hashlib.sha256(physical.encode()).hexdigest()[:36]}",
        },
        "aws:s3/bucket:Bucket": {"arn": f"arn:aws:s3:::{physical}", "bucket": physical},
        "aws:ecs/taskDefinition:TaskDefinition": {
            "arn": f"arn:aws:ecs:{base}:task-definition/{inputs.get('family', physical)}:1",
        },
        "aws:lambda/function:Function": {
            "arn": f"arn:aws:lambda:{base}:function:{physical}",
            "invokeArn": f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/"
            f"arn:aws:lambda:{base}:function:{physical}/invocations",
        },
        "aws:lambda/layerVersion:LayerVersion": {
            "arn": f"arn:aws:lambda:{base}:layer:{inputs.get('layerName', physical)}:1",
        },
        "aws:cloudwatch/logGroup:LogGroup": {"arn": f"arn:aws:logs:{base}:log-group:{physical}"},
        "aws:iam/role:Role": {"arn": f"arn:aws:iam::{ACCOUNT}:role/{physical}"},
    }


def _edge(name: str, physical: str, inputs: dict[str, Any]) -> dict[str, dict[str, Any]]:
    base = f"{REGION}:{ACCOUNT}"
    return {
        "aws:apigateway/restApi:RestApi": {
            "rootResourceId": "root0123",
            "executionArn": f"arn:aws:execute-api:{base}:abc123defg",
        },
        "aws:apigateway/stage:Stage": {
            "invokeUrl": f"https://abc123defg.execute-api.{REGION}.amazonaws.com/"
            f"{inputs.get('stageName')}",
        },
        "aws:cloudfront/distribution:Distribution": {
            "domainName": "d111111abcdef8.cloudfront.net",
            "hostedZoneId": "Z2FDTNDATAQYW2",
            "arn": f"arn:aws:cloudfront::{ACCOUNT}:distribution/EDFDVBD6EXAMPLE",
        },
        "aws:acm/certificate:Certificate": {
            "arn": f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/1234",
            "domainValidationOptions": [
                {
                    "domainName": inputs.get("domainName"),
                    "resourceRecordName": "_x.example.org.",
                    "resourceRecordType": "CNAME",
                    "resourceRecordValue": "_y.acm-validations.aws.",
                }
            ],
        },
        "aws:acm/certificateValidation:CertificateValidation": {
            "certificateArn": inputs.get("certificateArn"),
        },
        "aws:route53/record:Record": {"fqdn": str(inputs.get("name", name)).rstrip(".")},
    }
