"""``fabric:cloud:AzureExtension``: a resource group and VNet in one location with a node.

Azure associates a route table through the subnet's own ``routeTable`` property, so
each tenant's route table is created with its subnet, in phase 1; its routes need
nothing from the full plan (the next hop is the node's private address). Azure routes
every subnet to the internet by default (a system route), so a tenant without
``egress.allow_all`` gets a ``0.0.0.0/0`` route to ``None`` instead, and a route to
``Internet`` for each allow-list destination.

Subnets of one VNet reach each other over Azure's system routes, never through the
node, and Azure's default ``AllowVnetInBound``/``AllowVnetOutBound`` admit it (the
``VirtualNetwork`` tag even takes in the prefixes of user-defined routes). So each
tenant's subnet gets an NSG of its own (stateful: replies need no rule), the tenant's
policy (:mod:`fabric.isolation`) translated:

* inbound: the own subnet, ICMP from the node (path MTU: the tenant MTU is smaller
  than the VNet's), the tenant's other own prefixes (forwarded by the node); then deny
  ``VirtualNetwork``. The internet stays denied by Azure's ``DenyAllInBound``.
* outbound: the own subnet, the other own prefixes; deny all tenant space and every
  cloud network (explicit prefixes, not the ``VirtualNetwork`` tag, which may hold a
  default route); each allow-list entry that applies to the subnet, with its protocol
  and ports (``allow_all``: everything); then deny everything.

Azure's DNS and metadata (168.63.129.16, 169.254.169.254) are not subject to NSGs.

The node's NIC (fixed private address, IP forwarding, the static public IP, the NSG)
is a resource of its own. Changed user-data replaces the VM (cloud-init configures it
once, and Azure cannot change ``customData`` in place; the old VM goes first, as a NIC
has one VM); the NIC, its addresses and the routes stay as they are.
"""

from __future__ import annotations

import pulumi
import pulumi_azure_native as azure
from pulumi_azure_native import compute, network

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
    port_text,
    prefix_slug,
    tags,
)
from fabric.render.cloudinit import ADMIN_USER
from fabric.topology import CloudPlan, CloudTenant

DEFAULT_SIZE = "Standard_B2s"
#: Debian's own Azure image: publisher, offer, SKU, version.
DEBIAN_IMAGE = ("Debian", "debian-12", "12-gen2", "latest")
#: NSG protocol names of the config's.
PROTOCOLS = {"tcp": "Tcp", "udp": "Udp", "icmp": "Icmp", "all": "*"}
#: The lowest priority an NSG rule may have: the catch-all denies, below every allow.
LAST_PRIORITY = 4096
#: Allow-list entries' priorities: 200, 201, ... in config order.
EGRESS_PRIORITY = 200


class AzureExtension(CloudExtension):
    TYPE = "fabric:cloud:AzureExtension"

    def __init__(self, inv: model.Inventory, planned: CloudPlan, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(inv, planned, opts)
        self.location = planned.spec.region
        self._opts = pulumi.ResourceOptions(parent=self)
        self._subnets: list[network.Subnet] = []
        self.resource_group = azure.resources.ResourceGroup(
            self.name("rg"), location=self.location, tags=tags(planned), opts=self._opts
        )
        self.vnet = network.VirtualNetwork(
            self.name("vnet"),
            resource_group_name=self.resource_group.name,
            location=self.location,
            address_space=network.AddressSpaceArgs(address_prefixes=[str(planned.network)]),
            tags=tags(planned),
            opts=self._opts,
        )
        internet = network.RouteArgs(name="internet", address_prefix=ANYWHERE, next_hop_type="Internet")
        self.node_subnet = self._subnet(
            "node-subnet", str(planned.node_subnet), self._route_table("node-routes", [internet])
        )
        self.tenant_subnets: dict[str, network.Subnet] = {}
        self.tenant_nsgs: dict[str, network.NetworkSecurityGroup] = {}
        for t in planned.tenants:
            routes = [
                network.RouteArgs(
                    name=f"fabric-{prefix_slug(p)}",
                    address_prefix=str(p),
                    next_hop_type="VirtualAppliance",
                    next_hop_ip_address=self.node_address,
                )
                for p in t.routes
            ]
            routes.append(
                network.RouteArgs(
                    name="default", address_prefix=ANYWHERE, next_hop_type="Internet" if t.internet else "None"
                )
            )
            if not t.internet:
                routes += [
                    network.RouteArgs(name=f"internet-{prefix_slug(d)}", address_prefix=d, next_hop_type="Internet")
                    for d in egress_destinations(t)
                ]
            table = self._route_table(f"tenant-{t.tenant.name}-routes", routes)
            nsg = network.NetworkSecurityGroup(
                self.tenant(t, "nsg"),
                resource_group_name=self.resource_group.name,
                location=self.location,
                security_rules=tenant_rules(self, t),
                tags=tags(planned),
                opts=self._opts,
            )
            self.tenant_nsgs[t.tenant.name] = nsg
            self.tenant_subnets[t.tenant.name] = self._subnet(
                f"tenant-{t.tenant.name}-subnet", str(t.subnet), table, nsg
            )
        self.ip = network.PublicIPAddress(
            self.name("ip"),
            resource_group_name=self.resource_group.name,
            location=self.location,
            sku=network.PublicIPAddressSkuArgs(name="Standard", tier="Regional"),
            public_ip_allocation_method="Static",
            public_ip_address_version="IPv4",
            tags=tags(planned),
            opts=self._opts,
        )
        # Allocated when the address is created; "" (no endpoint yet) only while previewing.
        self.public_ip = self.ip.ip_address.apply(lambda address: address or "")

    def _route_table(self, what: str, routes: list[network.RouteArgs]) -> network.RouteTable:
        return network.RouteTable(
            self.name(what),
            resource_group_name=self.resource_group.name,
            location=self.location,
            routes=routes,
            tags=tags(self.planned),
            opts=self._opts,
        )

    def _subnet(
        self, what: str, cidr: str, table: network.RouteTable, nsg: network.NetworkSecurityGroup | None = None
    ) -> network.Subnet:
        """One subnet at a time: Azure refuses concurrent changes to one VNet's subnets
        (``AnotherOperationInProgress``), so each waits for the one before."""
        subnet = network.Subnet(
            self.name(what),
            resource_group_name=self.resource_group.name,
            virtual_network_name=self.vnet.name,
            address_prefix=cidr,
            route_table=network.RouteTableArgs(id=table.id),
            network_security_group=None if nsg is None else network.NetworkSecurityGroupArgs(id=nsg.id),
            opts=pulumi.ResourceOptions.merge(self._opts, pulumi.ResourceOptions(depends_on=self._subnets[-1:])),
        )
        self._subnets.append(subnet)
        return subnet

    def _attach(self, wireguard_sources: pulumi.Output[list[str]]) -> None:
        planned = self.planned
        self.security_group = network.NetworkSecurityGroup(
            self.name("node-nsg"),
            resource_group_name=self.resource_group.name,
            location=self.location,
            security_rules=wireguard_sources.apply(self._rules),
            tags=tags(planned),
            opts=self._opts,
        )
        self.interface = network.NetworkInterface(
            self.name("node-nic"),
            resource_group_name=self.resource_group.name,
            location=self.location,
            enable_ip_forwarding=True,  # the node routes for the tenants' subnets
            network_security_group=network.NetworkSecurityGroupArgs(id=self.security_group.id),
            ip_configurations=[
                network.NetworkInterfaceIPConfigurationArgs(
                    name="primary",
                    primary=True,
                    subnet=network.SubnetArgs(id=self.node_subnet.id),
                    private_ip_allocation_method="Static",
                    private_ip_address=self.node_address,
                    public_ip_address=network.PublicIPAddressArgs(id=self.ip.id),
                )
            ],
            tags=tags(planned),
            opts=self._opts,
        )
        self.vm = compute.VirtualMachine(
            self.node_name,
            resource_group_name=self.resource_group.name,
            location=self.location,
            hardware_profile=compute.HardwareProfileArgs(vm_size=planned.spec.size or DEFAULT_SIZE),
            os_profile=compute.OSProfileArgs(
                computer_name=self.node_name,
                admin_username=ADMIN_USER,
                custom_data=self.user_data,
                linux_configuration=compute.LinuxConfigurationArgs(
                    disable_password_authentication=True,
                    ssh=compute.SshConfigurationArgs(
                        public_keys=[
                            compute.SshPublicKeyArgs(
                                path=f"/home/{ADMIN_USER}/.ssh/authorized_keys", key_data=planned.spec.ssh_public_key
                            )
                        ]
                    ),
                ),
            ),
            storage_profile=compute.StorageProfileArgs(
                image_reference=_image(planned.spec.image),
                os_disk=compute.OSDiskArgs(
                    create_option="FromImage",
                    delete_option="Delete",
                    managed_disk=compute.ManagedDiskParametersArgs(storage_account_type="StandardSSD_LRS"),
                ),
            ),
            network_profile=compute.NetworkProfileArgs(
                network_interfaces=[
                    compute.NetworkInterfaceReferenceArgs(id=self.interface.id, primary=True, delete_option="Detach")
                ]
            ),
            tags=tags(planned),
            opts=pulumi.ResourceOptions.merge(
                self._opts,
                pulumi.ResourceOptions(replace_on_changes=["osProfile.customData"], delete_before_replace=True),
            ),
        )

    def _rules(self, wireguard_sources: list[str]) -> list[network.SecurityRuleArgs]:
        """Inbound allows, then an explicit deny of everything else: Azure's own
        ``AllowVnetInBound`` covers the ``VirtualNetwork`` tag, which takes in the prefixes of
        user-defined routes, and this network routes ``0.0.0.0/0``."""
        planned = self.planned
        rules = []

        def allow(name: str, priority: int, protocol: str, sources: list[str], port: str, description: str) -> None:
            rules.append(
                network.SecurityRuleArgs(
                    name=name,
                    priority=priority,
                    direction="Inbound",
                    access="Allow",
                    protocol=protocol,
                    source_address_prefixes=sources,
                    source_port_range="*",
                    destination_address_prefix="*",
                    destination_port_range=port,
                    description=description,
                )
            )

        if wireguard_sources:
            allow("wireguard", 100, "Udp", wireguard_sources, str(planned.mesh_port), "WireGuard from mesh endpoints")
        if planned.spec.admin_prefixes:
            allow("ssh", 110, "Tcp", [str(p) for p in planned.spec.admin_prefixes], "22", "SSH from admin prefixes")
        if planned.tenants:
            allow("tenants", 120, "*", [str(t.subnet) for t in planned.tenants], "*", "forwarded tenant traffic")
        rules.append(
            _rule("deny-inbound", LAST_PRIORITY, "Inbound", "Deny", "*", "*",
                  description="nothing else: not even what Azure's defaults call the virtual network")
        )  # fmt: skip
        return rules


def _rule(
    name: str,
    priority: int,
    direction: str,
    access: str,
    protocol: str,
    peer: str | list[str],
    ports: list[str] | None = None,
    description: str = "",
) -> network.SecurityRuleArgs:
    """``peer``: the source of an inbound rule, the destination of an outbound one (a
    service tag or ``*`` alone, else prefixes); the subnet is the other end."""
    single, many = (peer, None) if isinstance(peer, str) else (None, peer)
    inbound = direction == "Inbound"
    return network.SecurityRuleArgs(
        name=name,
        priority=priority,
        direction=direction,
        access=access,
        protocol=protocol,
        source_address_prefix=single if inbound else "*",
        source_address_prefixes=many if inbound else None,
        source_port_range="*",
        destination_address_prefix="*" if inbound else single,
        destination_address_prefixes=None if inbound else many,
        destination_port_range=None if ports else "*",
        destination_port_ranges=ports or None,
        description=description,
    )


def tenant_rules(extension: CloudExtension, t: CloudTenant) -> list[network.SecurityRuleArgs]:
    """The tenant subnet's NSG rules (see the module's docstring)."""
    subnet, *prefixes = own_prefixes(t)
    own = [subnet]

    def egress(i: int, r: EgressRule) -> network.SecurityRuleArgs:
        ports = [port_text(*p) for p in r.ports]
        default = t.tenant.policy.egress_default == "accept"
        what = "allow_all" if default else f"{r.destination} {r.protocol} {','.join(ports) or 'any'}"
        return _rule(
            f"out-{r.slug}", EGRESS_PRIORITY + i, "Outbound", "Allow", PROTOCOLS[r.protocol], [r.destination], ports,
            f"tenant {t.tenant.name} egress: {what}",
        )  # fmt: skip

    name = t.tenant.name
    return [
        _rule("in-own-subnet", 100, "Inbound", "Allow", "*", own, description=f"tenant {name}'s own subnet"),
        _rule("in-node-icmp", 110, "Inbound", "Allow", "Icmp", [host_prefix(extension.node_address)],
             description="ICMP from the node (path MTU)"),
        _rule("in-tenant-prefixes", 120, "Inbound", "Allow", "*", prefixes,
             description=f"tenant {name}'s prefixes, through the node"),
        _rule("in-deny-vnet", LAST_PRIORITY, "Inbound", "Deny", "*", "VirtualNetwork",
             description="no other subnet: other tenants never reach this one"),
        _rule("out-own-subnet", 100, "Outbound", "Allow", "*", own, description=f"tenant {name}'s own subnet"),
        _rule("out-tenant-prefixes", 110, "Outbound", "Allow", "*", prefixes,
             description=f"tenant {name}'s prefixes, through the node"),
        _rule("out-deny-tenants", 120, "Outbound", "Deny", "*", list(denied_prefixes(t)),
             description="no cloud network, no other tenant"),
        *(egress(i, r) for i, r in enumerate(egress_rules(t))),
        _rule("out-deny-all", LAST_PRIORITY, "Outbound", "Deny", "*", "*", description="nothing off the allow list"),
    ]  # fmt: skip


def _image(image: str | None) -> compute.ImageReferenceArgs:
    """``spec.image`` as a URN (``publisher:offer:sku:version``) or an image resource id; default Debian 12."""
    if image is None:
        image = ":".join(DEBIAN_IMAGE)
    parts = image.split(":")
    if len(parts) == 4:
        publisher, offer, sku, version = parts
        return compute.ImageReferenceArgs(publisher=publisher, offer=offer, sku=sku, version=version)
    return compute.ImageReferenceArgs(id=image)
