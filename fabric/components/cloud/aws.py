"""``fabric:cloud:AwsExtension``: a VPC in one region with a node that joins the mesh.

The node's network interface is a resource of its own (fixed private address, source/
destination check off so it can forward, security group), and the Elastic IP and the
tenants' routes point at that interface, not at the instance. Changed user-data
replaces the instance (cloud-init configures it once, at first boot); the interface,
its address, the public IP and every route stay, and the new instance takes the
interface over (the old one goes first: an interface has one instance).
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from fabric import model
from fabric.components.cloud.common import CloudExtension, tags
from fabric.topology import CloudPlan

#: Debian's own account, which publishes the official Debian AMIs.
DEBIAN_OWNER = "136693071363"
DEBIAN_AMI_NAME = "debian-12-amd64-*"
DEFAULT_SIZE = "t3.small"
ANYWHERE = "0.0.0.0/0"


class AwsExtension(CloudExtension):
    TYPE = "fabric:cloud:AwsExtension"

    def __init__(self, inv: model.Inventory, planned: CloudPlan, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(inv, planned, opts)
        spec = planned.spec
        self.zone = spec.zone or f"{spec.region}a"
        self.provider = aws.Provider(
            self.name("provider"), region=spec.region, opts=pulumi.ResourceOptions(parent=self)
        )
        self._opts = pulumi.ResourceOptions(parent=self, provider=self.provider)
        self.vpc = aws.ec2.Vpc(
            self.name("vpc"),
            cidr_block=str(planned.network),
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags=self._tags("vpc"),
            opts=self._opts,
        )
        self.node_subnet = self._subnet("node-subnet", str(planned.node_subnet))
        self.tenant_subnets = {
            t.tenant.name: self._subnet(f"tenant-{t.tenant.name}-subnet", str(t.subnet)) for t in planned.tenants
        }
        self.gateway = aws.ec2.InternetGateway(
            self.name("igw"), vpc_id=self.vpc.id, tags=self._tags("igw"), opts=self._opts
        )
        self._route_table(
            "node-routes",
            self.node_subnet,
            [aws.ec2.RouteTableRouteArgs(cidr_block=ANYWHERE, gateway_id=self.gateway.id)],
        )
        self.eip = aws.ec2.Eip(self.name("ip"), domain="vpc", tags=self._tags("ip"), opts=self._opts)
        self.public_ip = self.eip.public_ip

    def _tags(self, what: str) -> dict[str, str]:
        return {"Name": self.name(what), **tags(self.planned)}

    def _subnet(self, what: str, cidr: str) -> aws.ec2.Subnet:
        return aws.ec2.Subnet(
            self.name(what),
            vpc_id=self.vpc.id,
            cidr_block=cidr,
            availability_zone=self.zone,
            map_public_ip_on_launch=False,
            tags=self._tags(what),
            opts=self._opts,
        )

    def _route_table(self, what: str, subnet: aws.ec2.Subnet, routes: list[aws.ec2.RouteTableRouteArgs]) -> None:
        table = aws.ec2.RouteTable(
            self.name(what), vpc_id=self.vpc.id, routes=routes, tags=self._tags(what), opts=self._opts
        )
        aws.ec2.RouteTableAssociation(
            self.name(f"{what}-assoc"), subnet_id=subnet.id, route_table_id=table.id, opts=self._opts
        )

    def _attach(self, wireguard_sources: pulumi.Output[list[str]]) -> None:
        planned = self.planned
        self.security_group = aws.ec2.SecurityGroup(
            self.name("node-sg"),
            vpc_id=self.vpc.id,
            description=f"fabric node {self.node_name}: WireGuard from mesh endpoints, forwarded tenant traffic",
            ingress=wireguard_sources.apply(self._ingress),
            egress=[
                aws.ec2.SecurityGroupEgressArgs(
                    protocol="-1",
                    from_port=0,
                    to_port=0,
                    cidr_blocks=[ANYWHERE],
                    description="packages, peers, forwarding",
                )
            ],
            tags=self._tags("node-sg"),
            opts=self._opts,
        )
        self.interface = aws.ec2.NetworkInterface(
            self.name("node-eni"),
            subnet_id=self.node_subnet.id,
            private_ips=[self.node_address],
            source_dest_check=False,  # the node routes for the tenants' subnets
            security_groups=[self.security_group.id],
            description=f"fabric node {self.node_name}",
            tags=self._tags("node-eni"),
            opts=self._opts,
        )
        aws.ec2.EipAssociation(
            self.name("ip-assoc"),
            allocation_id=self.eip.allocation_id,
            network_interface_id=self.interface.id,
            opts=self._opts,
        )
        self.instance = aws.ec2.Instance(
            self.node_name,
            ami=planned.spec.image or self._debian_ami(),
            instance_type=planned.spec.size or DEFAULT_SIZE,
            network_interfaces=[
                aws.ec2.InstanceNetworkInterfaceArgs(device_index=0, network_interface_id=self.interface.id)
            ],
            user_data_base64=self.user_data,
            user_data_replace_on_change=True,
            metadata_options=aws.ec2.InstanceMetadataOptionsArgs(http_tokens="required"),
            root_block_device=aws.ec2.InstanceRootBlockDeviceArgs(encrypted=True),
            tags={"Name": self.node_name, **tags(planned)},
            volume_tags=tags(planned),
            opts=pulumi.ResourceOptions.merge(self._opts, pulumi.ResourceOptions(delete_before_replace=True)),
        )
        for t in planned.tenants:
            routes = [
                aws.ec2.RouteTableRouteArgs(cidr_block=str(p), network_interface_id=self.interface.id) for p in t.routes
            ]
            if t.internet:
                routes.append(aws.ec2.RouteTableRouteArgs(cidr_block=ANYWHERE, gateway_id=self.gateway.id))
            self._route_table(f"tenant-{t.tenant.name}-routes", self.tenant_subnets[t.tenant.name], routes)

    def _ingress(self, wireguard_sources: list[str]) -> list[aws.ec2.SecurityGroupIngressArgs]:
        port = self.planned.mesh_port
        rules = []
        if wireguard_sources:
            rules.append(
                aws.ec2.SecurityGroupIngressArgs(
                    protocol="udp",
                    from_port=port,
                    to_port=port,
                    cidr_blocks=wireguard_sources,
                    description="WireGuard from mesh endpoints",
                )
            )
        if self.planned.spec.admin_prefixes:
            admins = [str(p) for p in self.planned.spec.admin_prefixes]
            rules.append(
                aws.ec2.SecurityGroupIngressArgs(
                    protocol="tcp", from_port=22, to_port=22, cidr_blocks=admins, description="SSH from admin prefixes"
                )
            )
        if self.planned.tenants:
            subnets = [str(t.subnet) for t in self.planned.tenants]
            rules.append(
                aws.ec2.SecurityGroupIngressArgs(
                    protocol="-1", from_port=0, to_port=0, cidr_blocks=subnets, description="forwarded tenant traffic"
                )
            )
        return rules

    def _debian_ami(self) -> pulumi.Output[str]:
        """The newest official Debian 12 AMI of the region (amd64, as the default size is)."""
        ami = aws.ec2.get_ami_output(
            owners=[DEBIAN_OWNER],
            most_recent=True,
            filters=[
                aws.ec2.GetAmiFilterArgs(name="name", values=[DEBIAN_AMI_NAME]),
                aws.ec2.GetAmiFilterArgs(name="architecture", values=["x86_64"]),
            ],
            opts=pulumi.InvokeOutputOptions(parent=self, provider=self.provider),
        )
        return ami.id
