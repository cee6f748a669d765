"""``fabric:cloud:AwsExtension``: a VPC in one region with a node that joins the mesh.

The node's network interface is a resource of its own (fixed private address, source/
destination check off so it can forward, security group), and the Elastic IP and the
tenants' routes point at that interface, not at the instance. Changed user-data
replaces the instance (cloud-init configures it once, at first boot); the interface,
its address, the public IP and every route stay, and the new instance takes the
interface over (the old one goes first: an interface has one instance).

Subnets of one VPC reach each other over the VPC's local route, never through the
node, so each tenant's subnet gets a network ACL of its own. Network ACLs are stateless:
each direction is listed, and replies to the tenant's egress come back to the ephemeral
ports (1024-65535, AWS's advice, every client OS's range inside). Entries are checked
in rule-number order (100, 110, ...), first match wins:

* outbound, the tenant's policy (:mod:`fabric.isolation`) translated: its own prefixes
  (the subnet first; the fabric's through the node); deny all tenant space and every
  cloud network (other tenants' subnets, the node's); then each allow-list entry that
  applies to the subnet, with its protocol and ports (``allow_all``: everything);
* inbound: the same own prefixes; ICMP from the node (path MTU: the tenant MTU is smaller
  than the VPC's, so the node answers "fragmentation needed"); the same denies; then the
  replies from each allowed destination (TCP and UDP to the ephemeral ports, ICMP for
  ``icmp`` and ``all``).

The VPC's DNS, DHCP, metadata and time services are never filtered by network ACLs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import pulumi
import pulumi_aws as aws

from fabric import model
from fabric.components.cloud.common import (
    ANYWHERE,
    CloudExtension,
    EgressRule,
    denied_prefixes,
    egress_destinations,
    egress_rules,
    host_prefix,
    own_prefixes,
    tags,
)
from fabric.topology import CloudPlan, CloudTenant

#: Debian's own account, which publishes the official Debian AMIs.
DEBIAN_OWNER = "136693071363"
DEBIAN_AMI_NAME = "debian-12-amd64-*"
DEFAULT_SIZE = "t3.small"
#: Where replies to a workload's own connections arrive (stateless ACLs must admit them).
EPHEMERAL_PORTS = (1024, 65535)
#: AWS's default quota of entries per network ACL and direction (it can be raised to 40).
ACL_ENTRY_QUOTA = 20


@dataclass(frozen=True)
class AclEntry:
    """One network ACL entry before it gets its rule number (its place in the list)."""

    action: str
    #: ``-1`` (every protocol), ``tcp``, ``udp`` or ``icmp``.
    protocol: str
    cidr: str
    ports: tuple[int, int] = (0, 0)


def _allow(protocol: str, cidr: str, ports: tuple[int, int] = (0, 65535)) -> AclEntry:
    return AclEntry("allow", protocol, cidr, ports if protocol in ("tcp", "udp") else (0, 0))


def _egress_out(rule: EgressRule) -> list[AclEntry]:
    if rule.protocol in ("all", "icmp"):
        return [_allow("-1" if rule.protocol == "all" else "icmp", rule.destination)]
    return [_allow(rule.protocol, rule.destination, r) for r in rule.ports or ((0, 65535),)]


def _egress_replies(rule: EgressRule) -> list[AclEntry]:
    protocols = ("tcp", "udp", "icmp") if rule.protocol == "all" else (rule.protocol,)
    return [_allow(p, rule.destination, EPHEMERAL_PORTS) for p in protocols]


def acl_entries(extension: CloudExtension, t: CloudTenant) -> tuple[list[AclEntry], list[AclEntry]]:
    """(outbound, inbound) entries of the tenant subnet's network ACL, in rule order."""
    own, denied = own_prefixes(t), denied_prefixes(t)
    rules = egress_rules(t)
    outbound = [
        *(_allow("-1", p) for p in own),
        *(AclEntry("deny", "-1", p) for p in denied),
        *(e for rule in rules for e in _egress_out(rule)),
    ]
    inbound = [
        *(_allow("-1", p) for p in own),
        _allow("icmp", host_prefix(extension.node_address)),
        *(AclEntry("deny", "-1", p) for p in denied),
        *dict.fromkeys(e for rule in rules for e in _egress_replies(rule)),
    ]
    return outbound, inbound


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
        self.tenant_acls = {t.tenant.name: self._acl(t) for t in planned.tenants}
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

    def _acl(self, t: CloudTenant) -> aws.ec2.NetworkAcl:
        """The tenant subnet's network ACL (see the module's docstring), associated with it."""
        outbound, inbound = acl_entries(self, t)
        for direction, entries in (("outbound", outbound), ("inbound", inbound)):
            if len(entries) > ACL_ENTRY_QUOTA:
                pulumi.log.warn(
                    f"tenant {t.tenant.name}: its network ACL in {self.site} has {len(entries)} {direction} entries, "
                    f"over AWS's default quota of {ACL_ENTRY_QUOTA} (raise 'Rules per network ACL' to at most 40, "
                    "or merge allow-list entries)",
                    resource=self,
                )
        what = f"tenant-{t.tenant.name}-acl"
        return aws.ec2.NetworkAcl(
            self.name(what),
            vpc_id=self.vpc.id,
            subnet_ids=[self.tenant_subnets[t.tenant.name].id],
            egress=_acl_rules(aws.ec2.NetworkAclEgressArgs, outbound),
            ingress=_acl_rules(aws.ec2.NetworkAclIngressArgs, inbound),
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
            opts=pulumi.ResourceOptions.merge(
                self._opts,
                pulumi.ResourceOptions(
                    delete_before_replace=True,
                    # A newly published Debian AMI must not replace a running node; a
                    # configured ``image`` does, when it changes.
                    ignore_changes=[] if planned.spec.image else ["ami"],
                ),
            ),
        )
        for t in planned.tenants:
            routes = [
                aws.ec2.RouteTableRouteArgs(cidr_block=str(p), network_interface_id=self.interface.id) for p in t.routes
            ]
            routes += [
                aws.ec2.RouteTableRouteArgs(cidr_block=d, gateway_id=self.gateway.id) for d in egress_destinations(t)
            ]
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


_Args = TypeVar("_Args", aws.ec2.NetworkAclEgressArgs, aws.ec2.NetworkAclIngressArgs)


def _acl_rules(cls: type[_Args], entries: list[AclEntry]) -> list[_Args]:
    """Entries as the ACL takes them: rule numbers 100, 110, ... in list order; ICMP of every type."""
    return [
        cls(
            rule_no=100 + 10 * i,
            action=e.action,
            protocol=e.protocol,
            cidr_block=e.cidr,
            from_port=e.ports[0],
            to_port=e.ports[1],
            icmp_type=-1 if e.protocol == "icmp" else None,
            icmp_code=-1 if e.protocol == "icmp" else None,
        )
        for i, e in enumerate(entries)
    ]
