"""The VPC: subnets in two zones; security groups for the load balancer, the session proxy and
the sessions, each admitting only the one in front of it."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from skybinder.adapters.aws.names import PROXY_PORT, SESSION_PORT

# What a notebook may reach: web (pip, conda, data), git, DNS. Nothing else leaves a session.
SESSION_EGRESS = (("tcp", 80), ("tcp", 443), ("tcp", 9418), ("tcp", 53), ("udp", 53))
# The endpoints that keep image pulls and logs off the NAT gateway in the private mode.
INTERFACE_ENDPOINTS = ("ecr.api", "ecr.dkr", "logs")
# Gateway endpoints cost nothing: S3 (image layers, the proxy's package) and DynamoDB (the
# proxy's route look-ups).
GATEWAY_ENDPOINTS = ("s3", "dynamodb")
ZONES = 2


@dataclass
class NetworkArgs:
    cidr: str
    private: bool  # sessions in private subnets behind a NAT gateway, with VPC endpoints
    region: str


class Network(pulumi.ComponentResource):
    """Public subnets (sessions and the proxy with public IPs by default) and internal ones for
    the load balancer (and, in the private mode, sessions and the proxy behind a NAT gateway)."""

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("skybinder:infra:Network", name, None, opts)
        self._base, self._args = name, args
        child = pulumi.ResourceOptions(parent=self)
        zones = aws.get_availability_zones_output(
            state="available", opts=pulumi.InvokeOutputOptions(parent=self)
        )
        # Four equal blocks: public and internal subnets in each of the two zones.
        blocks = list(ipaddress.IPv4Network(args.cidr).subnets(prefixlen_diff=2))
        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.cidr,
            enable_dns_hostnames=True,  # Fargate awsvpc tasks and interface endpoints need both
            enable_dns_support=True,
            tags={"Name": name},
            opts=child,
        )
        # Attached to the VPC by its vpc_id: what depends on the attachment depends on it.
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=self.vpc.id, opts=child)
        self.internet_gateway = igw
        public_table = aws.ec2.RouteTable(f"{name}-public-routes", vpc_id=self.vpc.id, opts=child)
        aws.ec2.Route(
            f"{name}-public-default",
            route_table_id=public_table.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=igw.id,
            opts=child,
        )
        self.public_subnets = self._subnets("public", blocks[:ZONES], zones, public_table)
        internal_table = aws.ec2.RouteTable(
            f"{name}-internal-routes", vpc_id=self.vpc.id, opts=child
        )
        self.internal_subnets = self._subnets(
            "internal", blocks[ZONES : 2 * ZONES], zones, internal_table
        )
        if args.private:
            self._nat(internal_table)
            self._endpoints(internal_table)
        self.session_subnets = self.internal_subnets if args.private else self.public_subnets
        self.alb_sg, self.proxy_sg, self.session_sg = self._security_groups()
        self.register_outputs(
            {
                "vpc_id": self.vpc.id,
                "session_subnet_ids": [s.id for s in self.session_subnets],
                "alb_subnet_ids": [s.id for s in self.internal_subnets],
                "session_security_group_id": self.session_sg.id,
                "proxy_security_group_id": self.proxy_sg.id,
            }
        )

    @property
    def assign_public_ip(self) -> bool:
        return not self._args.private

    def _subnets(
        self,
        role: str,
        blocks: list[ipaddress.IPv4Network],
        zones: pulumi.Output[aws.GetAvailabilityZonesResult],
        table: aws.ec2.RouteTable,
    ) -> list[aws.ec2.Subnet]:
        subnets = []
        for index, block in enumerate(blocks):
            subnet = aws.ec2.Subnet(
                f"{self._base}-{role}-{index}",
                vpc_id=self.vpc.id,
                cidr_block=str(block),
                availability_zone=zones.names[index],
                map_public_ip_on_launch=False,  # only session tasks ask for one, explicitly
                tags={"Name": f"{self._base}-{role}-{index}"},
                opts=pulumi.ResourceOptions(parent=self),
            )
            aws.ec2.RouteTableAssociation(
                f"{self._base}-{role}-{index}-routes",
                subnet_id=subnet.id,
                route_table_id=table.id,
                opts=pulumi.ResourceOptions(parent=self),
            )
            subnets.append(subnet)
        return subnets

    def _nat(self, table: aws.ec2.RouteTable) -> None:
        """One NAT gateway (its hourly price is the private mode's fixed cost). Its address and
        the gateway itself need the internet gateway attached first, as AWS documents: without
        the dependency Pulumi may create them in parallel, and the first `pulumi up` fails."""
        child = pulumi.ResourceOptions(parent=self, depends_on=[self.internet_gateway])
        address = aws.ec2.Eip(f"{self._base}-nat-ip", domain="vpc", opts=child)
        nat = aws.ec2.NatGateway(
            f"{self._base}-nat",
            allocation_id=address.id,
            subnet_id=self.public_subnets[0].id,
            opts=child,
        )
        aws.ec2.Route(
            f"{self._base}-internal-default",
            route_table_id=table.id,
            destination_cidr_block="0.0.0.0/0",
            nat_gateway_id=nat.id,
            opts=child,
        )

    def _endpoints(self, table: aws.ec2.RouteTable) -> None:
        child = pulumi.ResourceOptions(parent=self)
        for service in GATEWAY_ENDPOINTS:
            aws.ec2.VpcEndpoint(
                f"{self._base}-{service}",
                vpc_id=self.vpc.id,
                service_name=f"com.amazonaws.{self._args.region}.{service}",
                vpc_endpoint_type="Gateway",
                route_table_ids=[table.id],
                opts=child,
            )
        endpoint_sg = aws.ec2.SecurityGroup(
            f"{self._base}-endpoints",
            vpc_id=self.vpc.id,
            description="HTTPS from inside the VPC to the AWS service endpoints",
            opts=child,
        )
        self._rule("in", "endpoints-https", endpoint_sg, "tcp", 443, cidr_ipv4=self._args.cidr)
        for service in INTERFACE_ENDPOINTS:
            aws.ec2.VpcEndpoint(
                f"{self._base}-{service.replace('.', '-')}",
                vpc_id=self.vpc.id,
                service_name=f"com.amazonaws.{self._args.region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=[s.id for s in self.internal_subnets],
                security_group_ids=[endpoint_sg.id],
                opts=child,
            )

    def _security_groups(
        self,
    ) -> tuple[aws.ec2.SecurityGroup, aws.ec2.SecurityGroup, aws.ec2.SecurityGroup]:
        """CloudFront -> load balancer -> proxy -> sessions: each admits only the one before."""
        alb = self._group("alb", "Internal load balancer: HTTP from CloudFront, to the proxy")
        proxy = self._group(
            "proxy", f"Session proxy: {PROXY_PORT} from the load balancer; to sessions and AWS"
        )
        session = self._group(
            "session", "Session tasks: 8888 from the session proxy only; web, git, DNS out"
        )
        # CloudFront's VPC origin reaches the ALB through interfaces it places in its subnets;
        # nothing else lives there but the ALB (and, in the private mode, sessions and the
        # proxy, which may reach it anyway, as anyone may through CloudFront).
        for index, subnet in enumerate(self.internal_subnets):
            self._rule(
                "in", f"alb-from-internal-{index}", alb, "tcp", 80, cidr_ipv4=subnet.cidr_block
            )
        self._between("alb-to-proxy", alb, "proxy-from-alb", proxy, PROXY_PORT)
        self._between("proxy-to-sessions", proxy, "session-from-proxy", session, SESSION_PORT)
        # The proxy's own needs: its image and package (ECR, S3), the table, its logs.
        self._rule("out", "proxy-out-https", proxy, "tcp", 443, cidr_ipv4="0.0.0.0/0")
        for protocol, port in SESSION_EGRESS:
            self._rule(
                "out",
                f"session-out-{protocol}-{port}",
                session,
                protocol,
                port,
                cidr_ipv4="0.0.0.0/0",
            )
        return alb, proxy, session

    def _group(self, role: str, description: str) -> aws.ec2.SecurityGroup:
        return aws.ec2.SecurityGroup(
            f"{self._base}-{role}",
            vpc_id=self.vpc.id,
            description=description,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _between(
        self,
        out_role: str,
        source: aws.ec2.SecurityGroup,
        in_role: str,
        target: aws.ec2.SecurityGroup,
        port: int,
    ) -> None:
        """`source` may open connections to `target` on `port`, and `target` accepts them."""
        self._rule("out", out_role, source, "tcp", port, referenced_security_group_id=target.id)
        self._rule("in", in_role, target, "tcp", port, referenced_security_group_id=source.id)

    def _rule(
        self,
        direction: str,
        role: str,
        group: aws.ec2.SecurityGroup,
        protocol: str,
        port: int,
        *,
        cidr_ipv4: pulumi.Input[str] | None = None,
        referenced_security_group_id: pulumi.Input[str] | None = None,
    ) -> None:
        """One rule for one port, from or to an address range or another security group."""
        kind = (
            aws.vpc.SecurityGroupIngressRule
            if direction == "in"
            else aws.vpc.SecurityGroupEgressRule
        )
        kind(
            f"{self._base}-{role}",
            security_group_id=group.id,
            ip_protocol=protocol,
            from_port=port,
            to_port=port,
            cidr_ipv4=cidr_ipv4,
            referenced_security_group_id=referenced_security_group_id,
            opts=pulumi.ResourceOptions(parent=self),
        )
