"""Security properties, asserted over every resource the program declares."""

from __future__ import annotations

import fnmatch
import json

from tests.infra.deployment import Deployment, Resource, as_list

# Actions for which AWS defines no resource type (Service Authorization Reference): they can
# only be granted on "*". Everything else must name its resources.
UNSCOPED_ACTIONS = frozenset(
    {
        "ecr:GetAuthorizationToken",
        "ecs:DescribeTaskDefinition",
        "ecs:ListTasks",  # scoped by the ecs:cluster condition instead
        "application-autoscaling:DescribeScalableTargets",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
)
# Every action each function's role is granted: what its code calls (the IAM-checked moto
# suites in tests/aws show each one is needed, and is enough), and nothing more.
SHARED = {
    "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
    "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem", "dynamodb:Query",
    "ecr:DescribeImages", "codebuild:StartBuild",
    "ecs:RunTask", "ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition", "iam:PassRole",
    "ecs:StopTask", "ecs:DescribeTasks",
    # The session proxy's fleet: woken before a server starts, slept by the reaper.
    "application-autoscaling:DescribeScalableTargets",
    "application-autoscaling:RegisterScalableTarget",
    "ecs:DescribeServices", "ecs:UpdateService",
    "ssm:GetParameter", "logs:CreateLogStream", "logs:PutLogEvents",
}  # fmt: skip
GRANTED = {
    "launch": SHARED | {"logs:GetLogEvents"},
    "build": SHARED | {"logs:GetLogEvents"},  # the end of a failed build's log
    "reap": SHARED | {"ecs:ListTasks"},  # the orphan sweep
}
SESSION_EGRESS = {("tcp", 80), ("tcp", 443), ("tcp", 9418), ("tcp", 53), ("udp", 53)}


def test_policies_exist_and_roles_are_only_given_allow_statements(deployment: Deployment) -> None:
    statements = list(deployment.statements())
    # Trust policies of 7 roles and at least one statement per permission policy.
    assert len(statements) > 25
    for resource, statement in statements:
        if statement["Effect"] == "Allow":
            continue
        # The one Deny: the proxy's package bucket refuses every request not made over TLS.
        assert resource.type.endswith("s3/bucketPolicy:BucketPolicy"), resource.name
        assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_no_statement_grants_wildcard_actions(deployment: Deployment) -> None:
    for resource, statement in deployment.statements():
        for action in as_list(statement.get("Action", [])):
            if statement["Effect"] == "Allow":
                assert "*" not in action, f"{resource.name} grants {action}"
        assert "NotAction" not in statement, resource.name


def test_wildcard_resources_only_where_aws_requires_them(deployment: Deployment) -> None:
    for resource, statement in deployment.statements():
        if "Principal" in statement:
            continue  # a trust or bucket policy: who, not what a role may touch
        resources = as_list(statement["Resource"])
        if "*" in resources:
            actions = set(as_list(statement["Action"]))
            assert actions <= UNSCOPED_ACTIONS, (
                f"{resource.name}: {actions - UNSCOPED_ACTIONS} on *"
            )
        for arn in resources:
            # A partial wildcard is fine inside a name (task/<cluster>/*), never as the account.
            assert ":*:" not in arn and "::*" not in arn, f"{resource.name}: {arn}"


def test_roles_carry_no_managed_policies(deployment: Deployment) -> None:
    assert not deployment.of_type("iam/rolePolicyAttachment:RolePolicyAttachment")
    for role in deployment.of_type("iam/role:Role"):
        assert not role.inputs.get("managedPolicyArns"), role.name


def test_only_intended_services_assume_roles(deployment: Deployment) -> None:
    principals = {
        statement["Principal"]["Service"]
        for resource, statement in deployment.statements()
        if "Principal" in statement and resource.type.endswith("iam/role:Role")
    }
    assert principals == {
        "lambda.amazonaws.com",
        "codebuild.amazonaws.com",
        "ecs-tasks.amazonaws.com",
    }


def session_template(deployment: Deployment) -> Resource:
    return next(
        d
        for d in deployment.of_type("ecs/taskDefinition:TaskDefinition")
        if d.inputs["family"].endswith("-session")
    )


def test_session_task_definition_has_no_task_role(deployment: Deployment) -> None:
    definition = session_template(deployment)
    assert not definition.inputs.get("taskRoleArn")
    assert definition.inputs["executionRoleArn"]
    assert definition.inputs["networkMode"] == "awsvpc"
    (container,) = json.loads(definition.inputs["containerDefinitions"])
    assert container["user"] == "1000" and not container.get("privileged")
    assert container["portMappings"] == [{"containerPort": 8888, "protocol": "tcp"}]


def test_functions_never_pass_a_role_to_tasks_other_than_the_execution_role(
    deployment: Deployment,
) -> None:
    execution = deployment.named("iam/role:Role", "sb-dev-execution")
    arn = f"arn:aws:iam::123456789012:role/{execution.name}-1a2b3c4"
    for resource, statement in deployment.statements():
        if "iam:PassRole" in as_list(statement.get("Action", [])):
            assert as_list(statement["Resource"]) == [arn], resource.name
            assert statement["Condition"] == {
                "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
            }


def _ingress(deployment: Deployment, group: str) -> list[tuple[str, int, str]]:
    """(protocol, port, from: a security group or a CIDR) of every rule into `group`."""
    rules = deployment.of_type("vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    return [
        (
            r.inputs["ipProtocol"],
            r.inputs["fromPort"],
            r.inputs.get("referencedSecurityGroupId") or r.inputs["cidrIpv4"],
        )
        for r in rules
        if r.inputs["securityGroupId"] == group and r.inputs["fromPort"] == r.inputs["toPort"]
    ]


def test_sessions_admit_only_the_session_proxy_on_8888(deployment: Deployment) -> None:
    session_sg = deployment.variables("launch")["SKYBINDER_SECURITY_GROUPS"]
    service = deployment.one("ecs/service:Service").inputs
    (proxy_sg,) = service["networkConfiguration"]["securityGroups"]
    (balancer,) = deployment.of_type("lb/loadBalancer:LoadBalancer")
    assert session_sg != proxy_sg and session_sg not in balancer.inputs["securityGroups"]
    assert _ingress(deployment, session_sg) == [("tcp", 8888, proxy_sg)]
    rules = deployment.of_type("vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert len([r for r in rules if r.inputs["securityGroupId"] == session_sg]) == 1


def test_the_proxy_admits_only_the_load_balancer_and_reaches_sessions_and_aws(
    deployment: Deployment,
) -> None:
    service = deployment.one("ecs/service:Service").inputs
    (proxy_sg,) = service["networkConfiguration"]["securityGroups"]
    (balancer,) = deployment.of_type("lb/loadBalancer:LoadBalancer")
    (alb_sg,) = balancer.inputs["securityGroups"]
    assert _ingress(deployment, proxy_sg) == [("tcp", 8080, alb_sg)]
    egress = {
        (r.inputs["ipProtocol"], r.inputs["fromPort"], r.inputs.get("cidrIpv4", ""))
        for r in deployment.of_type("vpc/securityGroupEgressRule:SecurityGroupEgressRule")
        if r.inputs["securityGroupId"] == proxy_sg
    }
    session_sg = deployment.variables("launch")["SKYBINDER_SECURITY_GROUPS"]
    assert egress == {("tcp", 8888, ""), ("tcp", 443, "0.0.0.0/0")}
    to_sessions = [
        r.inputs
        for r in deployment.of_type("vpc/securityGroupEgressRule:SecurityGroupEgressRule")
        if r.inputs["securityGroupId"] == proxy_sg and r.inputs["fromPort"] == 8888
    ]
    assert [r["referencedSecurityGroupId"] for r in to_sessions] == [session_sg]
    # ... and the load balancer reaches nothing but the proxy.
    alb_out = {
        (r.inputs["fromPort"], r.inputs.get("referencedSecurityGroupId"))
        for r in deployment.of_type("vpc/securityGroupEgressRule:SecurityGroupEgressRule")
        if r.inputs["securityGroupId"] == alb_sg
    }
    assert alb_out == {(8080, proxy_sg)}


def test_session_egress_is_web_git_and_dns_only(deployment: Deployment) -> None:
    session_sg = deployment.function("reap").inputs["environment"]["variables"][
        "SKYBINDER_SECURITY_GROUPS"
    ]
    egress = [
        rule
        for rule in deployment.of_type("vpc/securityGroupEgressRule:SecurityGroupEgressRule")
        if rule.inputs["securityGroupId"] == session_sg
    ]
    ports = {(r.inputs["ipProtocol"], r.inputs["fromPort"]) for r in egress}
    assert ports == SESSION_EGRESS
    assert all(r.inputs["fromPort"] == r.inputs["toPort"] for r in egress)


def test_no_security_group_has_inline_rules_or_open_ingress(deployment: Deployment) -> None:
    for group in deployment.of_type("ec2/securityGroup:SecurityGroup"):
        # Inline rules would sit beside the rule resources and hide from the checks above.
        assert not group.inputs.get("ingress") and not group.inputs.get("egress"), group.name
    for rule in deployment.of_type("vpc/securityGroupIngressRule:SecurityGroupIngressRule"):
        assert rule.inputs.get("cidrIpv4") != "0.0.0.0/0", rule.name
        assert "cidrIpv6" not in rule.inputs, rule.name


def test_the_load_balancer_is_internal_and_reached_from_its_subnets(deployment: Deployment) -> None:
    balancers = deployment.of_type("lb/loadBalancer:LoadBalancer")
    for balancer in balancers:
        assert balancer.inputs["internal"] is True
        assert balancer.inputs["dropInvalidHeaderFields"] is True
    alb_sgs = {sg for balancer in balancers for sg in balancer.inputs["securityGroups"]}
    subnets = {s.id: s.inputs["cidrBlock"] for s in deployment.of_type("ec2/subnet:Subnet")}
    ingress = [
        rule.inputs
        for rule in deployment.of_type("vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if rule.inputs["securityGroupId"] in alb_sgs
    ]
    # CloudFront's VPC origin interfaces sit in the load balancers' own subnets.
    expected = {subnets[s] for balancer in balancers for s in balancer.inputs["subnets"]}
    assert {rule["cidrIpv4"] for rule in ingress} == expected
    assert all(
        (rule["ipProtocol"], rule["fromPort"], rule["toPort"]) == ("tcp", 80, 80)
        for rule in ingress
    )


def test_the_listener_forwards_everything_to_the_proxy_and_nothing_else(
    deployment: Deployment,
) -> None:
    (listener,) = deployment.of_type("lb/listener:Listener")
    (group,) = deployment.of_type("lb/targetGroup:TargetGroup")
    (action,) = listener.inputs["defaultActions"]
    assert action == {
        "type": "forward",
        "targetGroupArn": f"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/"
        f"{group.inputs['name']}/6d0ecf831eec9f09",
    }
    assert not deployment.of_type("lb/listenerRule:ListenerRule")


def test_every_log_group_has_a_retention(deployment: Deployment) -> None:
    groups = deployment.of_type("cloudwatch/logGroup:LogGroup")
    assert len(groups) == 6  # builds, sessions, the proxy, and one per function
    assert all(group.inputs["retentionInDays"] == 14 for group in groups)


def test_images_are_scanned_and_expire(deployment: Deployment) -> None:
    images = next(r for r in deployment.of_type("ecr/repository:Repository") if "images" in r.name)
    assert images.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
    assert images.inputs["imageTagMutability"] == "IMMUTABLE"
    policies = deployment.of_type("ecr/lifecyclePolicy:LifecyclePolicy")
    rules = {p.name: json.loads(p.inputs["policy"])["rules"] for p in policies}
    shared, per_commit = rules["sb-dev-images-expiry"]
    # Shared environment images live while they are launched; a commit's own image 90 days.
    assert shared["rulePriority"] < per_commit["rulePriority"]
    assert shared["selection"] == {
        "tagStatus": "tagged",
        "tagPatternList": ["skybinder-env--*"],
        "countType": "sinceImagePulled",
        "countUnit": "days",
        "countNumber": 90,
    }
    assert per_commit["selection"]["tagStatus"] == "any"  # AWS: an "any" rule comes last
    assert per_commit["selection"]["countType"] == "sinceImagePushed"
    assert per_commit["selection"]["countNumber"] == 90
    assert rules["sb-dev-cache-expiry"][0]["selection"]["tagStatus"] == "untagged"


def test_the_builder_can_push_only_to_its_repositories(deployment: Deployment) -> None:
    policy = deployment.named("iam/rolePolicy:RolePolicy", "sb-dev-builder-role-policy")
    statements = json.loads(policy.inputs["policy"])["Statement"]
    pushes = [s for s in statements if "ecr:PutImage" in s["Action"]]
    assert len(pushes) == 1
    assert sorted(r.rsplit("/", 1)[1] for r in pushes[0]["Resource"]) == [
        "sb-dev-cache-1a2b3c4",
        "sb-dev-images-1a2b3c4",
    ]


def test_functions_run_only_this_deployments_task_definitions(deployment: Deployment) -> None:
    template = session_template(deployment).inputs["family"]
    prefix = deployment.function("launch").inputs["environment"]["variables"][
        "SKYBINDER_TASK_FAMILY_PREFIX"
    ]
    arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/{}:{}"
    runs = [s for _, s in deployment.statements() if "ecs:RunTask" in as_list(s.get("Action", []))]
    assert runs
    for statement in runs:
        (pattern,) = as_list(statement["Resource"])
        assert fnmatch.fnmatchcase(arn.format(template, 1), pattern)
        assert fnmatch.fnmatchcase(arn.format(f"{prefix}r2d-9a1d4b6", 3), pattern)
        assert not fnmatch.fnmatchcase(arn.format("someone-elses-task", 1), pattern)
        # Nor the proxy's, whose tasks have a role: ECS runs them, never a function.
        assert not fnmatch.fnmatchcase(arn.format(template.replace("session", "proxy"), 1), pattern)
        assert "ecs:cluster" in statement["Condition"]["ArnEquals"]


def test_the_github_token_is_readable_only_where_configured(
    default: Deployment, options: Deployment
) -> None:
    def parameters(deployment: Deployment) -> set[str]:
        return {
            arn
            for _, statement in deployment.statements()
            if "ssm:GetParameter" in as_list(statement.get("Action", []))
            for arn in as_list(statement["Resource"])
        }

    base = "arn:aws:ssm:us-east-1:123456789012:parameter"
    unique = default.variables("launch")["SKYBINDER_SETTINGS_PARAMETER"].split("/")[1]
    own = {f"{base}/{unique}/public-url", f"{base}/{unique}/settings"}
    assert parameters(default) == own
    assert parameters(options) == {*own, f"{base}/skybinder/github-token"}
    for deployment in (default, options):
        assert not any(
            "secretsmanager:GetSecretValue" in as_list(s.get("Action", []))
            for _, s in deployment.statements()
        )


def _granted(deployment: Deployment, role: str) -> set[str]:
    function = deployment.function(role)
    role_id = next(
        r.id
        for r in deployment.of_type("iam/role:Role")
        if function.inputs["role"].endswith(f"/{r.name}-1a2b3c4")
    )
    policies = [
        json.loads(p.inputs["policy"])
        for p in deployment.of_type("iam/rolePolicy:RolePolicy")
        if p.inputs["role"] == role_id
    ]
    return {action for doc in policies for s in doc["Statement"] for action in as_list(s["Action"])}


def test_each_function_is_granted_what_it_calls_and_nothing_more(
    default: Deployment, options: Deployment
) -> None:
    for role, expected in GRANTED.items():
        assert _granted(default, role) == expected, role
    # Tracing adds X-Ray; a configured GitHub token (and its key) is the launch function's.
    xray = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
    assert _granted(options, "launch") == GRANTED["launch"] | xray | {"kms:Decrypt"}
    assert _granted(options, "build") == GRANTED["build"] | xray
    assert _granted(options, "reap") == GRANTED["reap"] | xray
