"""The cloud extensions (AWS, Azure, GCP) under Pulumi's mocks, through the whole program.

The cloud APIs cannot be reached here (no network, no credentials), so Pulumi's mocks
stand in for them: they answer like the clouds would (public IPs from 203.0.113.0/24,
resource ids in each cloud's format, an AMI id from the ``getAmi`` call) and record
every resource the program registers, with its inputs and options as the engine would
receive them (secrets still marked as secrets). The program is ``__main__.py`` with
the example dc1 stack's config plus ``fabric:clouds`` (all three enabled) and tenants
spanning them (``tests.conftest.burst_raw``: acme, allow-listed to 192.0.2.0/24 tcp 443
and 198.51.100.53/32 udp 53, into aws and gcp; globex, whose egress is ``allow_all``,
into azure and aws). The ``crossed`` run puts both tenants into every cloud, for the
tenant filters: their rules are checked exactly, and evaluated like the clouds evaluate
them (first match, priorities, defaults, routes) for which flows pass.
"""

from __future__ import annotations

import base64
import dataclasses
import difflib
import gzip
import hashlib
import itertools
import json
import runpy
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pytest
from netaddr import IPAddress, IPNetwork
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.proto import resource_pb2

from fabric import deferred
from fabric.loader import MEMBERS_OUTPUT, members_from_export
from fabric.render.vyos import render_router
from fabric.topology import Plan
from tests.conftest import ALL_CLOUDS, ROOT, burst_raw, fake_peer_backend

#: The type the WireGuard key resources have (providers/keys.py).
KEY_TYPE = "pulumi-python:dynamic/fabric:WireguardKey"

PUBLIC_IPS = {"aws": "203.0.113.10", "azure": "203.0.113.20", "gcp": "203.0.113.30"}
DEBIAN_AMI = "ami-0c2d3e4f5a6b7c8d9"
SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
#: This stack's members with a public endpoint: its routers and its hypervisors (mesh members too).
LOCAL_ENDPOINTS = {"dc1-r1": "5.254.54.2", "dc1-r2": "5.254.54.3", "dc1-hv1": "5.254.54.10", "dc1-hv2": "5.254.54.11"}
DC2_MEMBERS: list[dict[str, Any]] = [
    {"name": "dc2-r1", "site": "dc2", "site_id": 2, "node_id": 1, "endpoint": "5.254.43.162", "port": 51820,
     "public_key": deferred.public_key("real dc2-r1").sample, "mesh_address": "172.27.2.1",
     "roles": ["route-reflector", "gateway"]},
    {"name": "dc2-r2", "site": "dc2", "site_id": 2, "node_id": 2, "endpoint": "5.254.43.163", "port": 51820,
     "public_key": deferred.public_key("real dc2-r2").sample, "mesh_address": "172.27.2.2", "roles": ["gateway"]},
]  # fmt: skip
#: Every public WireGuard endpoint a cloud node may hear from, by member name.
ENDPOINTS: dict[str, str] = {
    **LOCAL_ENDPOINTS,
    **{m["name"]: m["endpoint"] for m in DC2_MEMBERS},
    **{f"{s}-n1": ip for s, ip in PUBLIC_IPS.items()},
}
#: Where each tenant's cloud subnets reach the internet (Pulumi.yaml: acme's allow list, globex allow_all).
EGRESS_DESTINATIONS = {"acme": ["192.0.2.0/24", "198.51.100.53/32"], "globex": ["0.0.0.0/0"]}
#: The tenants spanning each cloud (burst_raw), their ids and the cloud sites' ids (Pulumi.yaml).
SPANNING = {"aws": {"acme", "globex"}, "azure": {"globex"}, "gcp": {"acme"}}
TENANT_IDS = {"acme": 10, "globex": 20}
CLOUD_SITE_IDS = {"aws": 3, "azure": 4, "gcp": 5}


#: The example tenants' further segments' blocks (``tenants[].segments`` in Pulumi.yaml): acme's
#: ``data`` is slot 16 x 10 + 1 of ``tenant_segments``; its ``services`` segment is its services block.
SEGMENT_BLOCKS = {"acme": ["100.112.161.0/24"], "globex": []}


def tenant_prefixes(tenant: str) -> set[str]:
    return set(tenant_prefix_list(tenant))


def cloud_subnet(site: str, tenant: str) -> str:
    return f"10.{240 + CLOUD_SITE_IDS[site]}.{TENANT_IDS[tenant]}.0/24"


def node_address(site: str) -> str:
    return f"10.{240 + CLOUD_SITE_IDS[site]}.0.10"


def tenant_prefix_list(tenant: str) -> list[str]:
    """The tenant's prefixes in plan order: network, access, services, its further segments'."""
    t = TENANT_IDS[tenant]
    return [f"100.65.{t}.0/24", f"100.64.{t}.0/24", f"100.80.{t}.0/24", *SEGMENT_BLOCKS[tenant]]


#: ``address_plan.cloud_networks`` and ``tenant_base``: what no tenant filter admits beyond its own.
CLOUD_POOL = "10.240.0.0/12"
TENANT_SPACE = "100.64.0.0/10"
#: The isolation policy's fixed denies, in its order.
DENIED = [TENANT_SPACE, CLOUD_POOL]


def own_prefixes(site: str, tenant: str, clouds: Iterable[str]) -> list[str]:
    """The tenant policy's own prefixes as a cloud's filter lists them: that cloud's subnet, then
    the fabric prefixes, then its subnets in the other clouds it spans (by site id)."""
    others = sorted((c for c in clouds if c != site), key=lambda c: CLOUD_SITE_IDS[c])
    return [cloud_subnet(site, tenant), *tenant_prefix_list(tenant), *(cloud_subnet(c, tenant) for c in others)]


@dataclass
class Registered:
    """One resource as the engine received it."""

    typ: str
    name: str
    urn: str
    id: str
    parent: str
    provider: str
    inputs: dict[str, Any]
    replace_on_changes: list[str]
    delete_before_replace: bool
    dependencies: list[str]

    def plain(self, key: str) -> Any:
        """An input with any secret marking removed (see :meth:`secret`)."""
        return _unwrap(self.inputs.get(key))

    def secret(self, key: str) -> bool:
        return rpc.is_rpc_secret(self.inputs.get(key))


def _unwrap(value: Any) -> Any:
    if rpc.is_rpc_secret(value):
        return _unwrap(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


def _id(prefix: str, name: str) -> str:
    return f"{prefix}{hashlib.sha256(name.encode()).hexdigest()[:17]}"


def _azure_name(name: str) -> str:
    """The physical name Pulumi gives an Azure resource: its name and a random suffix."""
    return f"{name}{hashlib.sha256(name.encode()).hexdigest()[:8]}"


class CloudMocks(pulumi.runtime.Mocks):
    """Answers as the clouds would; keys get per-name stand-ins; dc2 exports its routers."""

    def __init__(self) -> None:
        self.calls: list[pulumi.runtime.MockCallArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        name, typ = args.name, args.typ
        outputs = dict(args.inputs)
        site = name.split("-")[0]
        rid = f"{name}-id"
        if typ == KEY_TYPE:
            outputs.update(public_key=deferred.public_key(f"mock {name}").sample, private_key=f"mock-private-{name}")
        elif typ == "pulumi:pulumi:StackReference":
            outputs = {"name": name, "outputs": {MEMBERS_OUTPUT: DC2_MEMBERS}}
        elif typ == "aws:ec2/eip:Eip":
            rid = _id("eipalloc-", name)
            outputs.update(publicIp=PUBLIC_IPS[site], allocationId=rid)
        elif typ.startswith("aws:ec2/"):
            prefixes = {"vpc": "vpc-", "subnet": "subnet-", "internetGateway": "igw-", "routeTable": "rtb-",
                        "securityGroup": "sg-", "networkInterface": "eni-", "instance": "i-",
                        "routeTableAssociation": "rtbassoc-", "eipAssociation": "eipassoc-", "networkAcl": "acl-"}  # fmt: skip
            rid = _id(prefixes[typ.split("/")[1].split(":")[0]], name)
            if typ == "aws:ec2/instance:Instance":
                outputs.update(privateIp=node_address(site), publicIp=PUBLIC_IPS[site])
        elif typ.startswith("azure-native:"):
            _, module, kind = typ.split(":")
            group = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{_azure_name(f'{site}-rg')}"
            plural = f"{kind[0].lower()}{kind[1:]}s"
            rid = (
                group
                if kind == "ResourceGroup"
                else f"{group}/providers/Microsoft.{module.title()}/{plural}/{_azure_name(name)}"
            )
            outputs.setdefault("name", _azure_name(name))
            if kind == "PublicIPAddress":
                outputs.update(ipAddress=PUBLIC_IPS[site])
        elif typ.startswith("gcp:compute/"):
            kind = typ.split("/")[1].split(":")[0]
            scope = {"network": "global", "firewall": "global", "route": "global", "instance": "zones/europe-west3-b"}
            plural = "addresses" if kind == "address" else f"{kind}s"
            rid = f"projects/fabric-test/{scope.get(kind, 'regions/europe-west3')}/{plural}/{name}"
            outputs.update(selfLink=f"https://www.googleapis.com/compute/v1/{rid}")
            if kind == "address":
                outputs.update(address=PUBLIC_IPS[site])
        return rid, outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        self.calls.append(args)
        if args.token == "aws:ec2/getAmi:getAmi":
            return {"id": DEBIAN_AMI, "imageId": DEBIAN_AMI, "name": "debian-12-amd64-20250610-2136", "architecture": "x86_64",
                    "ownerId": "136693071363"}, []  # fmt: skip
        return {}, []


class RecordingMonitor(MockMonitor):
    """The mock engine, also keeping what each registration asked for (parent, provider, options)."""

    def __init__(self, mocks: CloudMocks) -> None:
        super().__init__(mocks)
        self.registered: list[Registered] = []

    def RegisterResource(self, request: Any) -> resource_pb2.RegisterResourceResponse:
        response: resource_pb2.RegisterResourceResponse = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        self.registered.append(
            Registered(
                typ=request.type,
                name=request.name,
                urn=response.urn,
                id=response.id,
                parent=request.parent,
                provider=request.provider,
                inputs=rpc.deserialize_properties(request.object),
                replace_on_changes=list(request.replaceOnChanges),
                delete_before_replace=request.deleteBeforeReplace,
                dependencies=list(request.dependencies),
            )
        )
        return response


@dataclass
class Run:
    """One run of the program: what was registered and exported, and the plan it built."""

    resources: list[Registered]
    exports: dict[str, Any]
    plan: Plan
    user_data_secret: dict[str, bool]
    calls: list[pulumi.runtime.MockCallArgs]

    def by_name(self, name: str) -> Registered:
        (found,) = [r for r in self.resources if r.name == name]
        return found

    def of_type(self, typ: str) -> list[Registered]:
        return [r for r in self.resources if r.typ == typ]

    def extension(self, site: str) -> Registered:
        (found,) = [r for r in self.resources if r.typ.startswith("fabric:cloud:") and r.name == site]
        return found

    def children(self, site: str) -> list[Registered]:
        return [r for r in self.resources if r.parent == self.extension(site).urn]


def pulumi_config(raw: dict[str, Any]) -> dict[str, str]:
    """A stack's config as Pulumi hands it to the program (JSON values, secrets decrypted)."""
    values = {**raw, "vyos_api_key": "example-key"}
    return {f"fabric:{k}": v if isinstance(v, str) else json.dumps(v, default=str) for k, v in values.items()}


def run_program(monkeypatch: pytest.MonkeyPatch, config: dict[str, str]) -> Run:
    mocks = CloudMocks()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project="fabric", stack="dc1", preview=False, monitor=monitor)
    pulumi.runtime.set_all_config(config, ["fabric:vyos_api_key"])
    exported = fake_peer_backend(monkeypatch, DC2_MEMBERS)
    result: dict[str, Any] = {}

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def program() -> pulumi.Output[None]:
        dc = runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")["datacenter"]
        secret = {site: pulumi.Output.from_input(c.user_data.is_secret()) for site, c in dc.clouds.items()}
        return pulumi.Output.all(pulumi.Output.from_input(exported), dc.plan, pulumi.Output.from_input(secret)).apply(
            lambda args: result.update(exports=args[0], plan=args[1], secret=args[2])
        )

    program()
    return Run(monitor.registered, result["exports"], result["plan"], result["secret"], mocks.calls)


@pytest.fixture(scope="module")
def burst() -> Iterator[Run]:
    with pytest.MonkeyPatch.context() as mp:
        yield run_program(mp, pulumi_config(burst_raw()))


def packed_user_data(run: Run, site: str) -> str:
    """The node's user-data as sent: gzip + base64 on every cloud."""
    node = run.by_name(f"{site}-n1")
    if site == "aws":
        return str(node.plain("userDataBase64"))
    if site == "azure":
        return str(node.plain("osProfile")["customData"])
    return str(node.plain("metadata")["user-data"])


def user_data(run: Run, site: str) -> str:
    """The cloud-config as cloud-init reads it (the clouds and cloud-init undo base64, then gzip)."""
    return gzip.decompress(base64.b64decode(packed_user_data(run, site))).decode()


#: cloud-init's own code (Debian's python3 module) turning user-data bytes into the cloud-config.
CLOUD_INIT_UNPACK = (
    "import sys; from cloudinit import user_data; "
    "msg = user_data.convert_string(open(sys.argv[1], 'rb').read()); "
    "sys.stdout.write(msg.get_payload(decode=True).decode())"
)


EXPECTED_TREES = {
    "aws": {
        ("pulumi:providers:aws", "aws-provider"),
        (KEY_TYPE, "aws-n1-wg-key"),
        ("aws:ec2/vpc:Vpc", "aws-vpc"),
        ("aws:ec2/subnet:Subnet", "aws-node-subnet"),
        ("aws:ec2/subnet:Subnet", "aws-tenant-acme-subnet"),
        ("aws:ec2/subnet:Subnet", "aws-tenant-globex-subnet"),
        ("aws:ec2/networkAcl:NetworkAcl", "aws-tenant-acme-acl"),
        ("aws:ec2/networkAcl:NetworkAcl", "aws-tenant-globex-acl"),
        ("aws:ec2/internetGateway:InternetGateway", "aws-igw"),
        ("aws:ec2/routeTable:RouteTable", "aws-node-routes"),
        ("aws:ec2/routeTableAssociation:RouteTableAssociation", "aws-node-routes-assoc"),
        ("aws:ec2/eip:Eip", "aws-ip"),
        ("aws:ec2/securityGroup:SecurityGroup", "aws-node-sg"),
        ("aws:ec2/networkInterface:NetworkInterface", "aws-node-eni"),
        ("aws:ec2/eipAssociation:EipAssociation", "aws-ip-assoc"),
        ("aws:ec2/instance:Instance", "aws-n1"),
        ("aws:ec2/routeTable:RouteTable", "aws-tenant-acme-routes"),
        ("aws:ec2/routeTableAssociation:RouteTableAssociation", "aws-tenant-acme-routes-assoc"),
        ("aws:ec2/routeTable:RouteTable", "aws-tenant-globex-routes"),
        ("aws:ec2/routeTableAssociation:RouteTableAssociation", "aws-tenant-globex-routes-assoc"),
    },
    "azure": {
        (KEY_TYPE, "azure-n1-wg-key"),
        ("azure-native:resources:ResourceGroup", "azure-rg"),
        ("azure-native:network:VirtualNetwork", "azure-vnet"),
        ("azure-native:network:RouteTable", "azure-node-routes"),
        ("azure-native:network:Subnet", "azure-node-subnet"),
        ("azure-native:network:RouteTable", "azure-tenant-globex-routes"),
        ("azure-native:network:NetworkSecurityGroup", "azure-tenant-globex-nsg"),
        ("azure-native:network:Subnet", "azure-tenant-globex-subnet"),
        ("azure-native:network:PublicIPAddress", "azure-ip"),
        ("azure-native:network:NetworkSecurityGroup", "azure-node-nsg"),
        ("azure-native:network:NetworkInterface", "azure-node-nic"),
        ("azure-native:compute:VirtualMachine", "azure-n1"),
    },
    "gcp": {
        ("pulumi:providers:gcp", "gcp-provider"),
        (KEY_TYPE, "gcp-n1-wg-key"),
        ("gcp:compute/network:Network", "gcp-network"),
        ("gcp:compute/subnetwork:Subnetwork", "gcp-node-subnet"),
        ("gcp:compute/subnetwork:Subnetwork", "gcp-tenant-acme-subnet"),
        ("gcp:compute/route:Route", "gcp-internet"),
        ("gcp:compute/route:Route", "gcp-tenant-acme-internet-192-0-2-0-24"),  # acme's allow list
        ("gcp:compute/route:Route", "gcp-tenant-acme-internet-198-51-100-53-32"),
        ("gcp:compute/firewall:Firewall", "gcp-tenant-acme-in"),  # acme's tag
        ("gcp:compute/firewall:Firewall", "gcp-tenant-acme-in-node-icmp"),
        ("gcp:compute/firewall:Firewall", "gcp-tenant-acme-out"),
        ("gcp:compute/firewall:Firewall", "gcp-tenant-acme-out-deny-tenants"),
        ("gcp:compute/firewall:Firewall", "gcp-tenant-acme-out-192-0-2-0-24"),
        ("gcp:compute/firewall:Firewall", "gcp-tenant-acme-out-198-51-100-53-32"),
        ("gcp:compute/firewall:Firewall", "gcp-tenant-acme-out-deny"),
        ("gcp:compute/address:Address", "gcp-ip"),
        ("gcp:compute/firewall:Firewall", "gcp-allow-wireguard"),
        ("gcp:compute/firewall:Firewall", "gcp-allow-tenants"),  # no SSH: no admin prefixes
        ("gcp:compute/instance:Instance", "gcp-n1"),
        ("gcp:compute/route:Route", "gcp-tenant-acme-100-65-10-0-24"),  # one route per prefix of acme
        ("gcp:compute/route:Route", "gcp-tenant-acme-100-64-10-0-24"),
        ("gcp:compute/route:Route", "gcp-tenant-acme-100-80-10-0-24"),
        ("gcp:compute/route:Route", "gcp-tenant-acme-100-112-161-0-24"),
    },
}
CLOUD_TYPES = ("aws:", "azure-native:", "gcp:", "pulumi:providers:")


def test_each_cloud_builds_exactly_its_resource_tree(burst: Run) -> None:
    datacenter = burst.by_name("dc1")
    for site, cls in (("aws", "AwsExtension"), ("azure", "AzureExtension"), ("gcp", "GcpExtension")):
        extension = burst.extension(site)
        assert extension.typ == f"fabric:cloud:{cls}" and extension.parent == datacenter.urn
        assert {(r.typ, r.name) for r in burst.children(site)} == EXPECTED_TREES[site]
        assert len(burst.children(site)) == len(EXPECTED_TREES[site])  # no duplicates
    # Every cloud resource anywhere is a direct child of its site's extension: nothing leaks out.
    for r in burst.resources:
        if r.typ.startswith(CLOUD_TYPES):
            assert r.parent == burst.extension(r.name.split("-")[0]).urn, r.name


def test_cloud_resources_go_through_the_extensions_region(burst: Run) -> None:
    assert burst.by_name("aws-provider").plain("region") == "eu-central-1"
    assert burst.by_name("gcp-provider").plain("region") == "europe-west3"
    assert burst.by_name("gcp-provider").plain("zone") == "europe-west3-b"
    for site in ("aws", "gcp"):
        provider = burst.by_name(f"{site}-provider")
        for r in burst.children(site):
            if r.typ.startswith(f"{site}:"):
                assert r.provider == f"{provider.urn}::{site}-provider-id", r.name
    for name in ("aws-node-subnet", "aws-tenant-acme-subnet", "aws-tenant-globex-subnet"):
        assert burst.by_name(name).plain("availabilityZone") == "eu-central-1a"
    # Azure has no regional provider here: every resource that has a location has the extension's.
    for r in burst.children("azure"):
        if r.typ.startswith("azure-native:") and r.typ != "azure-native:network:Subnet":
            assert r.plain("location") == "westeurope", r.name
    (ami,) = [c for c in burst.calls if c.token == "aws:ec2/getAmi:getAmi"]
    assert ami.provider.endswith("::aws-provider::aws-provider-id")


def test_azure_subnets_are_created_one_after_another(monkeypatch: pytest.MonkeyPatch) -> None:
    """Azure refuses concurrent subnet changes in one VNet: each subnet waits for the one before."""
    raw = burst_raw()
    for t in raw["tenants"]:
        if t["name"] in ("acme", "initech"):
            t["sites"].append("azure")
    run = run_program(monkeypatch, pulumi_config(raw))
    subnets = {s.name: s for s in run.of_type("azure-native:network:Subnet")}
    chain = [
        "azure-node-subnet",
        "azure-tenant-acme-subnet",
        "azure-tenant-globex-subnet",
        "azure-tenant-initech-subnet",
    ]
    assert set(subnets) == set(chain)
    for before, after in itertools.pairwise(chain):
        assert subnets[before].urn in subnets[after].dependencies, after


def test_networks_and_subnets_come_from_the_address_plan(burst: Run) -> None:
    assert burst.by_name("aws-vpc").plain("cidrBlock") == "10.243.0.0/16"
    assert burst.by_name("azure-vnet").plain("addressSpace") == {"addressPrefixes": ["10.244.0.0/16"]}
    network = burst.by_name("gcp-network")
    assert network.plain("autoCreateSubnetworks") is False and network.plain("deleteDefaultRoutesOnCreate") is True
    cidr = {"aws": "cidrBlock", "azure": "addressPrefix", "gcp": "ipCidrRange"}
    for site, tenants in SPANNING.items():
        assert burst.by_name(f"{site}-node-subnet").plain(cidr[site]) == f"10.{240 + CLOUD_SITE_IDS[site]}.0.0/24"
        for t in tenants:
            assert burst.by_name(f"{site}-tenant-{t}-subnet").plain(cidr[site]) == cloud_subnet(site, t)
    assert burst.by_name("aws-ip").plain("domain") == "vpc"
    ip = burst.by_name("azure-ip")
    assert (
        ip.plain("sku") == {"name": "Standard", "tier": "Regional"} and ip.plain("publicIPAllocationMethod") == "Static"
    )
    assert burst.by_name("gcp-ip").plain("addressType") == "EXTERNAL"
    assert {site: c["public_ip"] for site, c in burst.exports["clouds"].items()} == PUBLIC_IPS


def wireguard_sources(site: str) -> list[str]:
    """Every mesh endpoint but the node's own: both stacks' routers and the other clouds' IPs."""
    return sorted(f"{ip}/32" for name, ip in ENDPOINTS.items() if name != f"{site}-n1")


def test_aws_security_group_admits_wireguard_only_from_mesh_endpoints(burst: Run) -> None:
    sg = burst.by_name("aws-node-sg")
    rules = {(r["protocol"], r["fromPort"], r["toPort"]): sorted(r["cidrBlocks"]) for r in sg.plain("ingress")}
    assert rules == {
        ("udp", 51820, 51820): wireguard_sources("aws"),
        ("tcp", 22, 22): ["192.0.2.0/28"],  # admin_prefixes
        ("-1", 0, 0): [cloud_subnet("aws", "acme"), cloud_subnet("aws", "globex")],
    }
    assert len(sg.plain("ingress")) == 3
    assert burst.by_name("aws-node-eni").plain("securityGroups") == [sg.id]


def test_azure_nsg_admits_wireguard_only_from_mesh_endpoints(burst: Run) -> None:
    rules = burst.by_name("azure-node-nsg").plain("securityRules")
    # Everything else is denied explicitly, last: Azure's AllowVnetInBound would admit too much.
    deny = rules.pop()
    assert (deny["name"], deny["priority"], deny["access"], deny["sourceAddressPrefix"]) == (
        "deny-inbound",
        4096,
        "Deny",
        "*",
    )
    assert all(r["direction"] == "Inbound" and r["access"] == "Allow" for r in [*rules, deny][:-1])
    assert {
        (r["name"], r["protocol"], r["destinationPortRange"]): sorted(r["sourceAddressPrefixes"]) for r in rules
    } == {
        ("wireguard", "Udp", "51820"): wireguard_sources("azure"),
        ("tenants", "*", "*"): [cloud_subnet("azure", "globex")],
    }  # no SSH rule: azure has no admin_prefixes


def test_gcp_firewalls_admit_wireguard_only_from_mesh_endpoints(burst: Run) -> None:
    firewalls = {r.name: r for r in burst.of_type("gcp:compute/firewall:Firewall") if "gcp-n1" in r.plain("targetTags")}
    assert set(firewalls) == {"gcp-allow-wireguard", "gcp-allow-tenants"}  # no SSH: no admin_prefixes
    for f in firewalls.values():
        assert f.plain("direction") == "INGRESS" and f.plain("targetTags") == ["gcp-n1"]
        assert f.plain("network") == burst.by_name("gcp-network").id
        assert f.plain("priority") is None  # GCP's default, 1000
    assert firewalls["gcp-allow-wireguard"].plain("allows") == [{"protocol": "udp", "ports": ["51820"]}]
    assert sorted(firewalls["gcp-allow-wireguard"].plain("sourceRanges")) == wireguard_sources("gcp")
    assert firewalls["gcp-allow-tenants"].plain("allows") == [{"protocol": "all"}]
    assert firewalls["gcp-allow-tenants"].plain("sourceRanges") == [cloud_subnet("gcp", "acme")]


def test_ssh_mesh_port_sizes_and_images_follow_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """Admin prefixes open SSH to exactly them; another mesh port moves the WireGuard rule; sizes,
    zones and images override the defaults; an allow_all tenant in GCP gets the internet route."""
    admins = ["198.51.100.0/29", "192.0.2.128/27"]
    clouds = json.loads(json.dumps(ALL_CLOUDS))
    clouds["aws"] |= {
        "admin_prefixes": admins,
        "size": "m6i.large",
        "image": "ami-0123456789abcdef0",
        "zone": "eu-central-1b",
    }
    clouds["azure"] |= {
        "admin_prefixes": admins,
        "size": "Standard_D2s_v5",
        "image": "Canonical:ubuntu-24_04-lts:server:latest",
    }
    clouds["gcp"] |= {"admin_prefixes": admins, "size": "e2-medium", "image": "projects/acme-images/global/images/node"}
    raw = burst_raw(clouds)
    raw["mesh"] = {"port": 51999}
    next(t for t in raw["tenants"] if t["name"] == "globex")["sites"].append("gcp")
    run = run_program(monkeypatch, pulumi_config(raw))

    sg = {r["protocol"]: r for r in run.by_name("aws-node-sg").plain("ingress")}
    assert (sg["tcp"]["fromPort"], sg["tcp"]["toPort"], sorted(sg["tcp"]["cidrBlocks"])) == (22, 22, sorted(admins))
    assert (sg["udp"]["fromPort"], sg["udp"]["toPort"]) == (51999, 51999)
    nsg = {r["name"]: r for r in run.by_name("azure-node-nsg").plain("securityRules")}
    assert (nsg["ssh"]["protocol"], nsg["ssh"]["destinationPortRange"]) == ("Tcp", "22")
    assert nsg["ssh"]["sourceAddressPrefixes"] == admins
    assert nsg["wireguard"]["destinationPortRange"] == "51999"
    ssh = run.by_name("gcp-allow-ssh")
    assert ssh.plain("allows") == [{"protocol": "tcp", "ports": ["22"]}] and ssh.plain("sourceRanges") == admins
    assert ssh.plain("targetTags") == ["gcp-n1"]
    assert run.by_name("gcp-allow-wireguard").plain("allows") == [{"protocol": "udp", "ports": ["51999"]}]

    aws = run.by_name("aws-n1")
    assert (aws.plain("instanceType"), aws.plain("ami")) == ("m6i.large", "ami-0123456789abcdef0")
    assert not [c for c in run.calls if c.token == "aws:ec2/getAmi:getAmi"]  # an image given: no lookup
    assert run.by_name("aws-node-subnet").plain("availabilityZone") == "eu-central-1b"
    azure = run.by_name("azure-n1")
    assert azure.plain("hardwareProfile") == {"vmSize": "Standard_D2s_v5"}
    assert azure.plain("storageProfile")["imageReference"] == {
        "publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server", "version": "latest"
    }  # fmt: skip
    gce = run.by_name("gcp-n1")
    assert gce.plain("machineType") == "e2-medium"
    assert gce.plain("bootDisk")["initializeParams"]["image"] == "projects/acme-images/global/images/node"
    assert run.by_name("gcp-internet").plain("tags") == ["gcp-n1", "gcp-tenant-globex"]
    globex = [r for r in run.of_type("gcp:compute/route:Route") if r.plain("tags") == ["gcp-tenant-globex"]]
    assert {r.plain("destRange") for r in globex} == tenant_prefixes("globex")


def test_tenant_names_never_collide_with_the_nodes_resources(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tenants may be called ``node`` or ``n1``: their resources and GCP tags stay apart from the node's."""
    raw = burst_raw()
    renamed = {"acme": "node", "globex": "n1"}
    for t in raw["tenants"]:
        t["name"] = renamed.get(t["name"], t["name"])
        if t["name"] == "n1":
            t["sites"].append("gcp")
    for vm in raw["datacenter"]["vms"]:
        vm["tenant"] = renamed.get(vm["tenant"], vm["tenant"])
    run = run_program(monkeypatch, pulumi_config(raw))
    names = [r.name for r in run.resources]
    assert len(names) == len(set(names))
    assert {"aws-node-subnet", "aws-tenant-node-subnet", "aws-tenant-n1-subnet", "gcp-tenant-node-subnet"} <= set(names)
    # Only the node carries the tag the firewalls admit WireGuard and forwarded traffic to;
    # each tenant's rules apply to its own tag only.
    tenant_tags = run.exports["clouds"]["gcp"]["tenant_tags"]
    assert tenant_tags == {"node": "gcp-tenant-node", "n1": "gcp-tenant-n1"}
    assert run.exports["clouds"]["gcp"]["node_tag"] == "gcp-n1"
    assert "gcp-n1" not in tenant_tags.values()
    targets = {f.name: f.plain("targetTags") for f in run.of_type("gcp:compute/firewall:Firewall")}
    assert {n for n, tags in targets.items() if tags == ["gcp-n1"]} == {"gcp-allow-wireguard", "gcp-allow-tenants"}
    allow_list = {"node": ("out-192-0-2-0-24", "out-198-51-100-53-32", "out-deny"), "n1": ()}  # n1 is allow_all
    for tenant, tag in tenant_tags.items():
        rules = ("in", "in-node-icmp", "out", "out-deny-tenants", *allow_list[tenant])
        assert {n for n, tags in targets.items() if tags == [tag]} == {f"gcp-tenant-{tenant}-{w}" for w in rules}
    assert all(len(tags) == 1 for tags in targets.values())


def test_no_firewall_admits_anything_from_anywhere(burst: Run) -> None:
    """The WireGuard port is the only thing open to the internet, and only to the mesh's endpoints;
    no tenant filter admits anything from anywhere, but for AWS's stateless replies to allow_all."""
    anywhere = {"0.0.0.0/0", "*", "Internet", "Any"}
    nsg_rules = [
        r for nsg in burst.of_type("azure-native:network:NetworkSecurityGroup") for r in nsg.plain("securityRules")
    ]
    sources = [
        *(c for r in burst.by_name("aws-node-sg").plain("ingress") for c in r["cidrBlocks"]),
        *(c for r in nsg_rules if r["direction"] == "Inbound" and r["access"] == "Allow"
          for c in r.get("sourceAddressPrefixes") or [r["sourceAddressPrefix"]]),
        *(c for f in burst.of_type("gcp:compute/firewall:Firewall") if f.plain("direction") == "INGRESS"
          for c in f.plain("sourceRanges")),
    ]  # fmt: skip
    assert sources and not anywhere & set(sources)
    from_anywhere = [
        (acl.name, e["protocol"], e["fromPort"], e["toPort"])
        for acl in burst.of_type("aws:ec2/networkAcl:NetworkAcl")
        for e in acl.plain("ingress")
        if e["cidrBlock"] == "0.0.0.0/0" and e["action"] == "allow"
    ]
    assert from_anywhere == [
        ("aws-tenant-globex-acl", "tcp", 1024, 65535),
        ("aws-tenant-globex-acl", "udp", 1024, 65535),
        ("aws-tenant-globex-acl", "icmp", 0, 0),
    ]


def test_user_data_is_a_secret_holding_the_nodes_key_and_valid_cloud_config(burst: Run, tmp_path: Path) -> None:
    secret_input = {"aws": "userDataBase64", "azure": "osProfile", "gcp": "metadata"}
    for site, key in secret_input.items():
        node = burst.by_name(f"{site}-n1")
        assert node.secret(key), f"{site}: user-data must reach the engine as a secret"
        assert burst.user_data_secret[site]
        blob = tmp_path / f"{site}.bin"
        blob.write_bytes(base64.b64decode(packed_user_data(burst, site)))  # what the cloud hands the VM
        unpacked = subprocess.run(
            ["/usr/bin/python3", "-c", CLOUD_INIT_UNPACK, str(blob)], capture_output=True, text=True, check=False
        )
        assert unpacked.returncode == 0, unpacked.stderr
        text = unpacked.stdout
        assert text == user_data(burst, site)
        assert text.startswith("#cloud-config\n") and f"hostname: {site}-n1\n" in text
        assert f"PrivateKey = mock-private-{site}-n1-wg-key\n" in text and "<secret:" not in text
        path = tmp_path / f"{site}.yaml"
        path.write_text(text)
        checked = subprocess.run(["cloud-init", "schema", "-c", str(path)], capture_output=True, text=True, check=False)
        assert checked.returncode == 0 and "Valid cloud-config" in checked.stdout, checked.stdout + checked.stderr
    # GCP's metadata says how to read it; AWS takes 16 KiB at most after its own base64 decoding.
    assert burst.by_name("gcp-n1").plain("metadata")["user-data-encoding"] == "base64"
    assert len(base64.b64decode(packed_user_data(burst, "aws"))) < 16 * 1024


def test_cloud_init_schema_check_rejects_a_bad_document(tmp_path: Path) -> None:
    """The check above is not vacuous: cloud-init's own schema fails a wrong document."""
    path = tmp_path / "bad.yaml"
    path.write_text("#cloud-config\npackages: 5\nwrite_files: [{path: /etc/x, permission: '0600'}]\n")
    checked = subprocess.run(["cloud-init", "schema", "-c", str(path)], capture_output=True, text=True, check=False)
    assert checked.returncode != 0 and "packages" in checked.stdout + checked.stderr


def test_private_keys_appear_nowhere_in_plain_text(burst: Run) -> None:
    for r in burst.resources:
        for key, value in r.inputs.items():
            if not r.secret(key):
                assert "mock-private" not in json.dumps(_unwrap(value), default=str), f"{r.name}.{key}"
    assert "mock-private" not in json.dumps(burst.exports["clouds"]) + json.dumps(burst.exports["mesh_members"])


def test_changed_user_data_replaces_the_node_and_nothing_else(burst: Run) -> None:
    """cloud-init runs once: new user-data means a new node (the old one first: it holds the addresses)."""
    aws, azure, gcp = (burst.by_name(f"{s}-n1") for s in ("aws", "azure", "gcp"))
    assert aws.plain("userDataReplaceOnChange") is True and aws.delete_before_replace
    assert azure.replace_on_changes == ["osProfile.customData"] and azure.delete_before_replace
    assert gcp.replace_on_changes == ["metadata"] and gcp.delete_before_replace
    others = [r for r in burst.resources if r.typ.startswith(CLOUD_TYPES) and not r.name.endswith("-n1")]
    assert others and not any(r.replace_on_changes or r.delete_before_replace for r in others)


def test_nodes_sit_at_the_planned_address_and_forward(burst: Run) -> None:
    eni = burst.by_name("aws-node-eni")
    assert eni.plain("privateIps") == [node_address("aws")] and eni.plain("sourceDestCheck") is False
    assert eni.plain("subnetId") == burst.by_name("aws-node-subnet").id
    association = burst.by_name("aws-ip-assoc")
    assert association.plain("allocationId") == burst.by_name("aws-ip").id
    assert association.plain("networkInterfaceId") == eni.id
    instance = burst.by_name("aws-n1")
    assert instance.plain("networkInterfaces") == [{"deviceIndex": 0, "networkInterfaceId": eni.id}]
    assert instance.plain("instanceType") == "t3.small" and instance.plain("ami") == DEBIAN_AMI
    (ami,) = [c for c in burst.calls if c.token == "aws:ec2/getAmi:getAmi"]
    assert ami.args["owners"] == ["136693071363"] and ami.args["mostRecent"] is True
    assert {"name": "name", "values": ["debian-12-amd64-*"]} in ami.args["filters"]

    nic = burst.by_name("azure-node-nic")
    assert nic.plain("enableIPForwarding") is True
    (config,) = nic.plain("ipConfigurations")
    assert config["privateIPAddress"] == node_address("azure") and config["privateIPAllocationMethod"] == "Static"
    assert config["subnet"]["id"] == burst.by_name("azure-node-subnet").id
    assert config["publicIPAddress"] == {"id": burst.by_name("azure-ip").id}
    assert nic.plain("networkSecurityGroup") == {"id": burst.by_name("azure-node-nsg").id}
    vm = burst.by_name("azure-n1")
    assert vm.plain("hardwareProfile") == {"vmSize": "Standard_B2s"}
    assert vm.plain("storageProfile")["imageReference"] == {
        "publisher": "Debian", "offer": "debian-12", "sku": "12-gen2", "version": "latest"
    }  # fmt: skip
    assert vm.plain("networkProfile")["networkInterfaces"][0]["id"] == nic.id
    ssh = vm.plain("osProfile")["linuxConfiguration"]
    assert ssh["disablePasswordAuthentication"] is True
    assert ssh["ssh"]["publicKeys"][0]["keyData"] == ALL_CLOUDS["azure"]["ssh_public_key"]

    gce = burst.by_name("gcp-n1")
    (interface,) = gce.plain("networkInterfaces")
    assert interface["networkIp"] == node_address("gcp")
    assert interface["subnetwork"] == burst.by_name("gcp-node-subnet").id
    assert interface["accessConfigs"] == [{"natIp": PUBLIC_IPS["gcp"], "networkTier": "PREMIUM"}]
    assert gce.plain("canIpForward") is True and gce.plain("tags") == ["gcp-n1"]
    assert gce.plain("machineType") == "e2-small" and gce.plain("zone") == "europe-west3-b"
    # Google's Debian images have no cloud-init: the default is Canonical's Ubuntu LTS, which has.
    assert gce.plain("bootDisk")["initializeParams"]["image"] == "ubuntu-os-cloud/ubuntu-2404-lts-amd64"


def test_routes_cover_exactly_the_tenants_spanning_each_cloud(burst: Run) -> None:
    eni, igw = burst.by_name("aws-node-eni").id, burst.by_name("aws-igw").id
    tables = {r.name: r for r in burst.of_type("aws:ec2/routeTable:RouteTable")}
    assert set(tables) == {"aws-node-routes"} | {f"aws-tenant-{t}-routes" for t in SPANNING["aws"]}
    assert tables["aws-node-routes"].plain("routes") == [{"cidrBlock": "0.0.0.0/0", "gatewayId": igw}]
    for t in SPANNING["aws"]:
        routes = tables[f"aws-tenant-{t}-routes"].plain("routes")
        assert {r["cidrBlock"] for r in routes if r.get("networkInterfaceId") == eni} == tenant_prefixes(t)
        internet = [r for r in routes if r.get("gatewayId") == igw]
        # globex: egress.allow_all; acme: its allow list's destinations.
        assert internet == [{"cidrBlock": d, "gatewayId": igw} for d in EGRESS_DESTINATIONS[t]]
        assert len(routes) == len(tenant_prefixes(t)) + len(internet)
    associations = {
        (a.plain("subnetId"), a.plain("routeTableId"))
        for a in burst.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation")
    }
    assert associations == {
        (burst.by_name(f"aws-{what}-subnet").id, tables[f"aws-{what}-routes"].id)
        for what in ("node", *(f"tenant-{t}" for t in SPANNING["aws"]))
    }

    azure = {r.name: r for r in burst.of_type("azure-native:network:RouteTable")}
    assert set(azure) == {"azure-node-routes", "azure-tenant-globex-routes"}
    assert azure["azure-node-routes"].plain("routes") == [
        {"name": "internet", "addressPrefix": "0.0.0.0/0", "nextHopType": "Internet"}
    ]
    globex = azure["azure-tenant-globex-routes"].plain("routes")
    appliance = [r for r in globex if r["nextHopType"] == "VirtualAppliance"]
    assert {r["addressPrefix"] for r in appliance} == tenant_prefixes("globex")
    assert all(r["nextHopIpAddress"] == node_address("azure") for r in appliance)
    assert [r for r in globex if r["nextHopType"] != "VirtualAppliance"] == [
        {"name": "default", "addressPrefix": "0.0.0.0/0", "nextHopType": "Internet"}  # globex: egress.allow_all
    ]
    for what in ("node", "tenant-globex"):
        assert burst.by_name(f"azure-{what}-subnet").plain("routeTable") == {"id": azure[f"azure-{what}-routes"].id}

    routes = {r.name: r for r in burst.of_type("gcp:compute/route:Route")}
    internet = routes.pop("gcp-internet")
    assert internet.plain("tags") == ["gcp-n1"]  # acme's egress is allow-listed: no default route for it
    assert internet.plain("nextHopGateway") == "default-internet-gateway" and internet.plain("destRange") == "0.0.0.0/0"
    for destination in EGRESS_DESTINATIONS["acme"]:  # but one per allow-list destination
        route = routes.pop(f"gcp-tenant-acme-internet-{destination.replace('.', '-').replace('/', '-')}")
        assert (route.plain("destRange"), route.plain("nextHopGateway"), route.plain("tags")) == (
            destination, "default-internet-gateway", ["gcp-tenant-acme"]
        )  # fmt: skip
    assert {r.plain("destRange") for r in routes.values()} == tenant_prefixes("acme")
    assert all(
        r.plain("tags") == ["gcp-tenant-acme"] and r.plain("nextHopIp") == node_address("gcp") for r in routes.values()
    )
    assert burst.exports["clouds"]["gcp"]["tenant_tags"] == {"acme": "gcp-tenant-acme"}


def test_a_tenant_that_spans_no_cloud_gets_no_cloud_route(burst: Run) -> None:
    routed = json.dumps([r.inputs for r in burst.resources if r.typ.startswith(CLOUD_TYPES)])
    for tenant_id in (30, 40):  # initech and umbrella stay in the datacenters
        assert f".{tenant_id}.0/24" not in routed


# ----------------------------------------------------------------------------- tenant filters


@pytest.fixture(scope="module")
def crossed() -> Iterator[Run]:
    """acme (allow-listed) and globex (allow_all) both in every cloud."""
    raw = burst_raw()
    for t in raw["tenants"]:
        if t["name"] in ("acme", "globex"):
            t["sites"] = [*t["sites"], *(s for s in ALL_CLOUDS if s not in t["sites"])]
    with pytest.MonkeyPatch.context() as mp:
        yield run_program(mp, pulumi_config(raw))


BOTH = ("acme", "globex")


def test_aws_network_acls_are_exact_per_tenant(crossed: Run) -> None:
    """Stateless, the tenant policy in order: its own prefixes, deny tenant space and the cloud
    networks, then the allow list outbound and its replies (ephemeral ports) inbound; ICMP from
    the node before the denies."""

    def entries(first: int, *rows: tuple[Any, ...]) -> list[dict[str, Any]]:
        out = []
        for i, (action, protocol, cidr, *ports) in enumerate(rows):
            low, high = ports[0] if ports else (0, 0)
            icmp = {"icmpType": -1, "icmpCode": -1} if protocol == "icmp" else {}
            out.append({"ruleNo": first + 10 * i, "action": action, "protocol": protocol, "cidrBlock": cidr,
                        "fromPort": low, "toPort": high, **icmp})  # fmt: skip
        return out

    replies = (1024, 65535)
    expected: dict[str, tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]] = {
        "acme": (
            # The db replica entry is for a VM (its source), not for these subnets: not here.
            [("allow", "tcp", "192.0.2.0/24", (443, 443)), ("allow", "udp", "198.51.100.53/32", (53, 53)),
             ("allow", "tcp", "198.51.100.53/32", (53, 53))],
            [("allow", "tcp", "192.0.2.0/24", replies), ("allow", "udp", "198.51.100.53/32", replies),
             ("allow", "tcp", "198.51.100.53/32", replies)],
        ),
        "globex": (
            [("allow", "-1", "0.0.0.0/0")],
            [("allow", "tcp", "0.0.0.0/0", replies), ("allow", "udp", "0.0.0.0/0", replies),
             ("allow", "icmp", "0.0.0.0/0")],
        ),
    }  # fmt: skip
    acls = {a.name: a for a in crossed.of_type("aws:ec2/networkAcl:NetworkAcl")}
    assert set(acls) == {f"aws-tenant-{t}-acl" for t in BOTH}  # the node's subnet keeps the VPC's default ACL
    for t in BOTH:
        acl = acls[f"aws-tenant-{t}-acl"]
        own = [("allow", "-1", p) for p in own_prefixes("aws", t, ALL_CLOUDS)]
        denies = [("deny", "-1", p) for p in DENIED]
        out, replies_in = expected[t]
        assert acl.plain("egress") == entries(100, *own, *denies, *out)
        icmp = ("allow", "icmp", f"{node_address('aws')}/32")
        assert acl.plain("ingress") == entries(100, *own, icmp, *denies, *replies_in)
        assert acl.plain("subnetIds") == [crossed.by_name(f"aws-tenant-{t}-subnet").id]
        assert acl.plain("vpcId") == crossed.by_name("aws-vpc").id


def test_azure_tenant_nsgs_are_exact_per_tenant(crossed: Run) -> None:
    """Own subnet, ICMP from the node, the tenant's prefixes, deny VirtualNetwork inbound; outbound
    the same, deny the cloud networks and tenant space, the allow list, deny everything."""

    def rule(
        name: str,
        priority: int,
        access: str,
        protocol: str,
        peer: str | list[str],
        ports: list[str] | None = None,
        inbound: bool = False,
    ) -> dict[str, Any]:
        here, there = ("source", "destination") if inbound else ("destination", "source")
        return {
            "name": name, "priority": priority, "direction": "Inbound" if inbound else "Outbound", "access": access,
            "protocol": protocol, "sourcePortRange": "*", f"{there}AddressPrefix": "*",
            **({f"{here}AddressPrefix": peer} if isinstance(peer, str) else {f"{here}AddressPrefixes": peer}),
            **({"destinationPortRanges": ports} if ports else {"destinationPortRange": "*"}),
        }  # fmt: skip

    allow_list = {
        "acme": [
            rule("out-192-0-2-0-24-tcp", 200, "Allow", "Tcp", ["192.0.2.0/24"], ["443"]),
            rule("out-198-51-100-53-32-udp", 201, "Allow", "Udp", ["198.51.100.53/32"], ["53"]),
            rule("out-198-51-100-53-32-tcp", 202, "Allow", "Tcp", ["198.51.100.53/32"], ["53"]),
        ],
        "globex": [rule("out-0-0-0-0-0-all", 200, "Allow", "*", ["0.0.0.0/0"])],
    }
    nsgs = {n.name: n for n in crossed.of_type("azure-native:network:NetworkSecurityGroup")}
    assert set(nsgs) == {"azure-node-nsg"} | {f"azure-tenant-{t}-nsg" for t in BOTH}
    for t in BOTH:
        subnet, *prefixes = own_prefixes("azure", t, ALL_CLOUDS)
        own = [subnet]
        rules = [
            {k: v for k, v in r.items() if k != "description"}
            for r in nsgs[f"azure-tenant-{t}-nsg"].plain("securityRules")
        ]
        assert rules == [
            rule("in-own-subnet", 100, "Allow", "*", own, inbound=True),
            rule("in-node-icmp", 110, "Allow", "Icmp", [f"{node_address('azure')}/32"], inbound=True),
            rule("in-tenant-prefixes", 120, "Allow", "*", prefixes, inbound=True),
            rule("in-deny-vnet", 4096, "Deny", "*", "VirtualNetwork", inbound=True),
            rule("out-own-subnet", 100, "Allow", "*", own),
            rule("out-tenant-prefixes", 110, "Allow", "*", prefixes),
            rule("out-deny-tenants", 120, "Deny", "*", DENIED),
            *allow_list[t],
            rule("out-deny-all", 4096, "Deny", "*", "*"),
        ]  # fmt: skip
        made = crossed.by_name(f"azure-tenant-{t}-subnet")
        assert made.plain("networkSecurityGroup") == {"id": nsgs[f"azure-tenant-{t}-nsg"].id}
    assert crossed.by_name("azure-node-subnet").plain("networkSecurityGroup") is None  # the node's NIC has its own


def test_gcp_tenant_firewalls_are_exact_per_tenant(crossed: Run) -> None:
    """Per tenant tag: ingress from its own subnet and prefixes (and ICMP from the node) only;
    egress to them, never to the cloud networks or tenant space, then the allow list, then nothing."""
    every = [{"protocol": "all"}]
    fabric_side: dict[str, tuple[str, int, str, list[dict[str, Any]]]] = {
        "in": ("INGRESS", 1000, "allows", every),
        "in-node-icmp": ("INGRESS", 1000, "allows", [{"protocol": "icmp"}]),
        "out": ("EGRESS", 1000, "allows", every),
        "out-deny-tenants": ("EGRESS", 1100, "denies", every),
    }
    expected = {
        "acme": {
            **fabric_side,
            "out-192-0-2-0-24": ("EGRESS", 1200, "allows", [{"protocol": "tcp", "ports": ["443"]}]),
            "out-198-51-100-53-32": (
                "EGRESS",
                1200,
                "allows",
                [{"protocol": "udp", "ports": ["53"]}, {"protocol": "tcp", "ports": ["53"]}],
            ),
            "out-deny": ("EGRESS", 65000, "denies", every),
        },
        "globex": fabric_side,  # allow_all: GCP's implied allow-egress rule does the rest
    }
    for t in BOTH:
        own = own_prefixes("gcp", t, ALL_CLOUDS)
        ranges = {
            "in": own, "in-node-icmp": [f"{node_address('gcp')}/32"], "out": own,
            "out-deny-tenants": DENIED, "out-192-0-2-0-24": ["192.0.2.0/24"],
            "out-198-51-100-53-32": ["198.51.100.53/32"], "out-deny": ["0.0.0.0/0"],
        }  # fmt: skip
        mine = {
            f.name.removeprefix(f"gcp-tenant-{t}-"): f
            for f in crossed.of_type("gcp:compute/firewall:Firewall")
            if f.plain("targetTags") == [f"gcp-tenant-{t}"]
        }
        assert set(mine) == set(expected[t])
        for what, (direction, priority, action, protocols) in expected[t].items():
            f = mine[what]
            side = "sourceRanges" if direction == "INGRESS" else "destinationRanges"
            other = "destinationRanges" if direction == "INGRESS" else "sourceRanges"
            assert (f.plain("direction"), f.plain("priority"), f.plain(action)) == (direction, priority, protocols), (
                what
            )
            assert f.plain(side) == ranges[what] and f.plain(other) is None, what
            assert f.plain("network") == crossed.by_name("gcp-network").id


def test_routes_send_each_tenants_egress_destinations_to_the_internet(crossed: Run) -> None:
    eni, igw = crossed.by_name("aws-node-eni").id, crossed.by_name("aws-igw").id
    for t in BOTH:
        assert crossed.by_name(f"aws-tenant-{t}-routes").plain("routes") == [
            *({"cidrBlock": p, "networkInterfaceId": eni} for p in tenant_prefix_list(t)),
            *({"cidrBlock": d, "gatewayId": igw} for d in EGRESS_DESTINATIONS[t]),
        ]

    def appliance(t: str) -> list[dict[str, str]]:
        return [
            {"name": f"fabric-{p.replace('.', '-').replace('/', '-')}", "addressPrefix": p,
             "nextHopType": "VirtualAppliance", "nextHopIpAddress": node_address("azure")}
            for p in tenant_prefix_list(t)
        ]  # fmt: skip

    assert crossed.by_name("azure-tenant-acme-routes").plain("routes") == [
        *appliance("acme"),
        {"name": "default", "addressPrefix": "0.0.0.0/0", "nextHopType": "None"},
        {"name": "internet-192-0-2-0-24", "addressPrefix": "192.0.2.0/24", "nextHopType": "Internet"},
        {"name": "internet-198-51-100-53-32", "addressPrefix": "198.51.100.53/32", "nextHopType": "Internet"},
    ]
    assert crossed.by_name("azure-tenant-globex-routes").plain("routes") == [
        *appliance("globex"),
        {"name": "default", "addressPrefix": "0.0.0.0/0", "nextHopType": "Internet"},
    ]

    gateway = {
        (tuple(r.plain("tags")), r.plain("destRange"))
        for r in crossed.of_type("gcp:compute/route:Route")
        if r.plain("nextHopGateway") == "default-internet-gateway"
    }
    assert gateway == {
        (("gcp-n1", "gcp-tenant-globex"), "0.0.0.0/0"),
        (("gcp-tenant-acme",), "192.0.2.0/24"),
        (("gcp-tenant-acme",), "198.51.100.53/32"),
    }


def test_a_network_acl_past_awss_default_quota_is_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    """20 entries per direction unless the account's quota is raised: said at preview, not at apply."""
    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *args, **kwargs: warnings.append(message))
    raw = burst_raw()
    acme = next(t for t in raw["tenants"] if t["name"] == "acme")
    acme["egress"]["allow"] = [{"destination": f"192.0.2.{i}/32", "protocol": "tcp", "ports": [443]} for i in range(13)]
    acme["dns"] = {}  # its forwarder is off this allow list
    run = run_program(monkeypatch, pulumi_config(raw))
    # 6 own prefixes (its subnets in 2 clouds, 4 fabric blocks: network, access, services, segment
    # data), 2 denies; inbound also ICMP from the node.
    assert len(run.by_name("aws-tenant-acme-acl").plain("egress")) == 21  # 8 + 13: one too many
    assert len(run.by_name("aws-tenant-acme-acl").plain("ingress")) == 22  # 9 + the 13 destinations' replies
    assert [w for w in warnings if "network ACL" in w] == [
        "tenant acme: its network ACL in aws has 21 outbound entries, over AWS's default quota of 20 "
        "(raise 'Rules per network ACL' to at most 40, or merge allow-list entries)",
        "tenant acme: its network ACL in aws has 22 inbound entries, over AWS's default quota of 20 "
        "(raise 'Rules per network ACL' to at most 40, or merge allow-list entries)",
    ]


def test_allow_list_entries_merge_per_destination_and_protocol(monkeypatch: pytest.MonkeyPatch) -> None:
    """Entries sharing a destination share its route; ports of one protocol join (contiguous ones
    into a range); a rule without ports opens every port; icmp and all carry none."""
    raw = burst_raw()
    acme = next(t for t in raw["tenants"] if t["name"] == "acme")
    acme["sites"].append("azure")
    acme["dns"] = {}  # its forwarder is off this allow list
    acme["egress"]["allow"] = [
        {"destination": "192.0.2.0/24", "protocol": "tcp", "ports": [443]},
        {"destination": "192.0.2.0/24", "protocol": "tcp", "ports": [80, 81, 8443]},
        {"destination": "192.0.2.0/24", "protocol": "icmp"},
        {"destination": "203.0.113.0/24", "protocol": "udp"},
        {"destination": "203.0.113.0/24", "protocol": "udp", "ports": [123]},
    ]
    run = run_program(monkeypatch, pulumi_config(raw))
    igw = run.by_name("aws-igw").id
    assert [r["cidrBlock"] for r in run.by_name("aws-tenant-acme-routes").plain("routes") if r.get("gatewayId") == igw] == [
        "192.0.2.0/24", "203.0.113.0/24"
    ]  # fmt: skip
    out = [
        (e["protocol"], e["cidrBlock"], e["fromPort"], e["toPort"])
        for e in run.by_name("aws-tenant-acme-acl").plain("egress")
    ]
    # Past the policy's own prefixes and its denies, the last of which is the cloud networks'.
    fixed = [cidr for _, cidr, _, _ in out].index(CLOUD_POOL) + 1
    assert out[fixed:] == [
        ("tcp", "192.0.2.0/24", 80, 81), ("tcp", "192.0.2.0/24", 443, 443), ("tcp", "192.0.2.0/24", 8443, 8443),
        ("icmp", "192.0.2.0/24", 0, 0), ("udp", "203.0.113.0/24", 0, 65535),
    ]  # fmt: skip
    replies = [
        (e["protocol"], e["cidrBlock"], e["fromPort"], e["toPort"])
        for e in run.by_name("aws-tenant-acme-acl").plain("ingress")
    ]
    assert replies[[cidr for _, cidr, _, _ in replies].index(CLOUD_POOL) + 1 :] == [
        ("tcp", "192.0.2.0/24", 1024, 65535), ("icmp", "192.0.2.0/24", 0, 0), ("udp", "203.0.113.0/24", 1024, 65535),
    ]  # fmt: skip
    nsg = {
        r["name"]: r
        for r in run.by_name("azure-tenant-acme-nsg").plain("securityRules")
        if r["priority"] >= 200 and r["direction"] == "Outbound"
    }
    assert {n: (r["priority"], r["protocol"], r.get("destinationPortRanges", r.get("destinationPortRange"))) for n, r in nsg.items()} == {
        "out-192-0-2-0-24-tcp": (200, "Tcp", ["80-81", "443", "8443"]),
        "out-192-0-2-0-24-icmp": (201, "Icmp", "*"),
        "out-203-0-113-0-24-udp": (202, "Udp", "*"),
        "out-deny-all": (4096, "*", "*"),
    }  # fmt: skip
    assert run.by_name("gcp-tenant-acme-out-192-0-2-0-24").plain("allows") == [
        {"protocol": "tcp", "ports": ["80-81", "443", "8443"]}, {"protocol": "icmp"}
    ]  # fmt: skip
    assert run.by_name("gcp-tenant-acme-out-203-0-113-0-24").plain("allows") == [{"protocol": "udp"}]
    gateway = {
        r.plain("destRange") for r in run.of_type("gcp:compute/route:Route") if r.plain("tags") == ["gcp-tenant-acme"]
    }
    assert gateway == tenant_prefixes("acme") | {"192.0.2.0/24", "203.0.113.0/24"}


# The clouds' own evaluation of those filters and routes, to check what they mean: which
# flows between two workloads (``.5``/``.6`` of a tenant's subnet), the node, the tenants'
# fabric prefixes (arriving through the node) and the internet pass.


def _within(address: str, prefix: str) -> bool:
    return IPAddress(address) in IPNetwork(prefix)


def _host(prefix: str, n: int) -> str:
    return str(IPNetwork(prefix).network + n)


@dataclass(frozen=True)
class Flow:
    """A connection's first packet: ``port`` is the destination port (tcp, udp)."""

    src: str
    dst: str
    protocol: str
    port: int = 0


def _longest(routes: list[tuple[str, str]], dst: str) -> str | None:
    """The target of the most specific route to ``dst`` (earlier routes win ties), or None."""
    matching = [
        (IPNetwork(prefix).prefixlen, -i, target) for i, (prefix, target) in enumerate(routes) if _within(dst, prefix)
    ]
    return max(matching)[2] if matching else None


def _tenant_of(site: str, address: str) -> str | None:
    return next((t for t in BOTH if _within(address, cloud_subnet(site, t))), None)


def _ports_match(ports: list[str] | None, flow: Flow) -> bool:
    """Azure/GCP port lists (``443``, ``80-81``; None or ``*``: every port)."""
    if flow.protocol not in ("tcp", "udp") or not ports or ports == ["*"]:
        return True
    return any(int(p.split("-")[0]) <= flow.port <= int(p.split("-")[-1]) for p in ports)


def aws_passes(run: Run, flow: Flow) -> bool:
    """VPC routing (local, then the tenant's table) and the stateless ACLs: outbound at the
    source's subnet, inbound at the destination's, none inside one subnet."""

    def admits(entries: list[dict[str, Any]], peer: str) -> bool:
        for e in sorted(entries, key=lambda e: e["ruleNo"]):
            if _within(peer, e["cidrBlock"]) and e["protocol"] in ("-1", flow.protocol):
                if e["protocol"] in ("tcp", "udp") and not e["fromPort"] <= flow.port <= e["toPort"]:
                    continue
                return bool(e["action"] == "allow")
        return False

    src, dst = _tenant_of("aws", flow.src), _tenant_of("aws", flow.dst)
    if src is not None and src == dst:
        return True
    if src is not None:
        table = run.by_name(f"aws-tenant-{src}-routes").plain("routes")
        if _longest([("10.243.0.0/16", "local"), *((r["cidrBlock"], "table") for r in table)], flow.dst) is None:
            return False
        if not admits(run.by_name(f"aws-tenant-{src}-acl").plain("egress"), flow.dst):
            return False
    return dst is None or admits(run.by_name(f"aws-tenant-{dst}-acl").plain("ingress"), flow.src)


#: Azure's default NSG rules: (priority, access, the far end).
AZURE_DEFAULTS = {
    "Inbound": [(65000, "Allow", "VirtualNetwork"), (65001, "Allow", "AzureLoadBalancer"), (65500, "Deny", "*")],
    "Outbound": [(65000, "Allow", "VirtualNetwork"), (65001, "Allow", "Internet"), (65500, "Deny", "*")],
}


def azure_passes(run: Run, flow: Flow, vnet_tag_is_everything: bool) -> bool:
    """The source subnet's routes (user-defined over system routes) and both subnets' NSGs,
    stateful, evaluated by priority over Azure's defaults. ``VirtualNetwork`` is either the
    VNet or, as Azure allows ("this tag might also contain default routes"), everything."""
    vnet = "10.244.0.0/16"

    def matches(value: str, address: str) -> bool:
        if value == "VirtualNetwork":
            return vnet_tag_is_everything or _within(address, vnet)
        if value == "Internet":
            return not _within(address, vnet)
        if value == "AzureLoadBalancer":
            return address == "168.63.129.16"
        return value == "*" or _within(address, value)

    def admits(tenant: str, direction: str, peer: str) -> bool:
        side = "source" if direction == "Inbound" else "destination"
        rules = [
            (r["priority"], r["access"], r.get(f"{side}AddressPrefixes") or [r[f"{side}AddressPrefix"]], r["protocol"],
             r.get("destinationPortRanges") or [r["destinationPortRange"]])
            for r in run.by_name(f"azure-tenant-{tenant}-nsg").plain("securityRules")
            if r["direction"] == direction
        ] + [(priority, access, [far], "*", ["*"]) for priority, access, far in AZURE_DEFAULTS[direction]]  # fmt: skip
        for _, access, prefixes, protocol, ports in sorted(rules, key=lambda r: r[0]):
            peer_matches = any(matches(p, peer) for p in prefixes)
            if peer_matches and protocol in ("*", flow.protocol.title()) and _ports_match(ports, flow):
                return bool(access == "Allow")
        return False

    src, dst = _tenant_of("azure", flow.src), _tenant_of("azure", flow.dst)
    if src is not None:
        table = run.by_name(f"azure-tenant-{src}-routes").plain("routes")
        system = [(vnet, "VnetLocal"), ("0.0.0.0/0", "Internet")]
        if _longest([*((r["addressPrefix"], r["nextHopType"]) for r in table), *system], flow.dst) in (None, "None"):
            return False
        if not admits(src, "Outbound", flow.dst):
            return False
    return dst is None or admits(dst, "Inbound", flow.src)


def gcp_passes(run: Run, flow: Flow) -> bool:
    """Routes (subnet routes, then custom routes for the instance's tags) and the firewall
    rules of the instances' tags: by priority, a deny before an allow of the same priority;
    without a match egress is allowed and ingress denied."""
    node = node_address("gcp")

    def tags(address: str) -> list[str]:
        tenant = _tenant_of("gcp", address)
        return [f"gcp-tenant-{tenant}"] if tenant else ["gcp-n1"] if address == node else []

    def decides(direction: str, target: str, peer: str) -> bool | None:
        side = "sourceRanges" if direction == "INGRESS" else "destinationRanges"
        rules = [
            f for f in run.of_type("gcp:compute/firewall:Firewall")
            if f.plain("direction") == direction and set(f.plain("targetTags")) & set(tags(target))
            and any(_within(peer, r) for r in f.plain(side))
        ]  # fmt: skip
        for f in sorted(rules, key=lambda f: (f.plain("priority") or 1000, f.plain("denies") is None)):
            entries = f.plain("allows") or f.plain("denies")
            if any(e["protocol"] in ("all", flow.protocol) and _ports_match(e.get("ports"), flow) for e in entries):
                return f.plain("denies") is None
        return None

    if _tenant_of("gcp", flow.src) is not None:
        subnets = [(s.plain("ipCidrRange"), "subnet") for s in run.of_type("gcp:compute/subnetwork:Subnetwork")]
        custom = [
            (r.plain("destRange"), r.name) for r in run.of_type("gcp:compute/route:Route")
            if set(r.plain("tags")) & set(tags(flow.src))
        ]  # fmt: skip
        if _longest([*subnets, *custom], flow.dst) is None or decides("EGRESS", flow.src, flow.dst) is False:
            return False
    return not tags(flow.dst) or bool(decides("INGRESS", flow.dst, flow.src))


#: (what, source, destination, protocol, port, passes) with ``a``/``a2``/``g`` acme's and
#: globex's workloads, ``node`` the node, ``fa``/``fg`` addresses of the tenants' fabric prefixes.
FLOWS = [
    ("acme to acme in its subnet", "a", "a2", "tcp", 22, True),
    ("acme to globex", "a", "g", "tcp", 22, False),
    ("globex to acme", "g", "a", "tcp", 22, False),
    ("globex pings acme", "g", "a", "icmp", 0, False),
    ("acme to its fabric prefixes", "a", "fa", "tcp", 22, True),
    ("acme to globex's fabric prefixes", "a", "fg", "tcp", 22, False),
    ("acme's fabric to acme", "fa", "a", "tcp", 22, True),
    ("globex's fabric to acme", "fg", "a", "tcp", 22, False),
    ("the node's ICMP (path MTU) to acme", "node", "a", "icmp", 0, True),
    ("the node's SSH to acme", "node", "a", "tcp", 22, False),
    ("globex to the node itself", "g", "node", "tcp", 22, False),
    ("acme to its subnet in another cloud", "a", "elsewhere", "tcp", 22, False),
    ("acme: https to its licence servers", "a", "192.0.2.10", "tcp", 443, True),
    ("acme: http to them, off the list", "a", "192.0.2.10", "tcp", 80, False),
    ("acme: udp 443 to them, off the list", "a", "192.0.2.10", "udp", 443, False),
    ("acme: DNS to its resolver", "a", "198.51.100.53", "udp", 53, True),
    ("acme: DNS over TCP to its resolver", "a", "198.51.100.53", "tcp", 53, True),
    ("acme: TCP 54 to its resolver, off the list", "a", "198.51.100.53", "tcp", 54, False),
    ("acme: anywhere else", "a", "8.8.8.8", "tcp", 443, False),
    ("globex (allow_all): https anywhere", "g", "8.8.8.8", "tcp", 443, True),
    ("globex (allow_all): DNS anywhere", "g", "8.8.8.8", "udp", 53, True),
    ("the internet to globex's SSH", "8.8.8.8", "g", "tcp", 22, False),
]
#: AWS's ACLs are stateless: replies are flows of their own, to the workload's ephemeral port.
AWS_REPLIES = [
    ("licence server replies to acme", "192.0.2.10", "a", "tcp", 40000, True),
    ("resolver replies to acme", "198.51.100.53", "a", "udp", 40000, True),
    ("a licence server to acme's SSH", "192.0.2.10", "a", "tcp", 22, False),
    ("the internet to acme's ephemeral ports", "8.8.8.8", "a", "tcp", 40000, False),
    ("the internet replies to globex", "8.8.8.8", "g", "tcp", 40000, True),
]


def _flows(site: str, table: list[tuple[str, str, str, str, int, bool]]) -> list[tuple[str, Flow, bool]]:
    named = {
        "a": _host(cloud_subnet(site, "acme"), 5), "a2": _host(cloud_subnet(site, "acme"), 6),
        "g": _host(cloud_subnet(site, "globex"), 5), "node": node_address(site),
        "fa": "100.65.10.5", "fg": "100.65.20.5",
        "elsewhere": _host(cloud_subnet("gcp" if site == "aws" else "aws", "acme"), 5),
    }  # fmt: skip
    return [
        (what, Flow(named.get(src, src), named.get(dst, dst), protocol, port), passes)
        for what, src, dst, protocol, port, passes in table
    ]


def test_tenants_never_reach_each_other_and_egress_follows_the_allow_list(crossed: Run) -> None:
    wrong = []
    for what, flow, passes in _flows("aws", FLOWS + AWS_REPLIES):
        if aws_passes(crossed, flow) != passes:
            wrong.append(f"aws: {what}")
    for what, flow, passes in _flows("azure", FLOWS):
        for everything in (False, True):
            if azure_passes(crossed, flow, everything) != passes:
                wrong.append(f"azure (VirtualNetwork tag {'everything' if everything else 'the VNet'}): {what}")
    for what, flow, passes in _flows("gcp", FLOWS):
        if gcp_passes(crossed, flow) != passes:
            wrong.append(f"gcp: {what}")
    assert not wrong, "flows the clouds would decide otherwise:\n" + "\n".join(wrong)


def test_the_evaluation_sees_the_gaps_the_filters_close(crossed: Run) -> None:
    """Without the tenant filters the clouds would let tenants meet (and GCP would keep the fabric out)."""
    bare = Run(
        [r for r in crossed.resources if not r.name.startswith(("gcp-tenant-acme-in", "gcp-tenant-acme-out"))],
        crossed.exports, crossed.plan, crossed.user_data_secret, crossed.calls,
    )  # fmt: skip
    (_, to_acme, _), (_, from_fabric, _) = _flows("gcp", [FLOWS[2], FLOWS[6]])
    assert gcp_passes(crossed, from_fabric) and not gcp_passes(bare, from_fabric)  # implied deny ingress
    assert not gcp_passes(bare, to_acme)  # ... which kept tenants apart, but the fabric out as well

    open_acl = [
        {"ruleNo": 100, "action": "allow", "protocol": "-1", "cidrBlock": "0.0.0.0/0", "fromPort": 0, "toPort": 0}
    ]
    defaults = Run(
        [
            dataclasses.replace(r, inputs={**r.inputs, "egress": open_acl, "ingress": open_acl})
            if r.typ == "aws:ec2/networkAcl:NetworkAcl" else r
            for r in crossed.resources
        ],
        crossed.exports, crossed.plan, crossed.user_data_secret, crossed.calls,
    )  # fmt: skip
    (_, acme_to_globex, _), (_, off_list, _) = _flows("aws", [FLOWS[1], FLOWS[14]])
    assert not aws_passes(crossed, acme_to_globex) and aws_passes(defaults, acme_to_globex)
    assert not aws_passes(crossed, off_list) and aws_passes(defaults, off_list)


TAGS = {"ManagedBy": "fabric", "fabric-stack": "dc1"}
#: GCP resources that take no labels: their description names the owner instead.
GCP_UNLABELLED = ("Network", "Subnetwork", "Firewall", "Route")


def test_names_and_tags(burst: Run) -> None:
    for site in SPANNING:
        for r in burst.children(site):
            assert r.name.startswith(f"{site}-"), r.name
        node = {"fabric-site": site, "fabric-node": f"{site}-n1"}
        for r in burst.children(site):
            if r.typ.startswith("aws:") and r.typ.split(":")[-1] not in ("RouteTableAssociation", "EipAssociation"):
                assert r.plain("tags") == {"Name": r.name, **TAGS, **node}, r.name
            if r.typ.startswith("azure-native:") and r.typ != "azure-native:network:Subnet":
                assert r.plain("tags") == {**TAGS, **node}, r.name
            if r.typ in ("gcp:compute/address:Address", "gcp:compute/instance:Instance"):
                assert r.plain("labels") == {"managed-by": "fabric", "fabric-stack": "dc1", **node}, r.name
            if r.typ.startswith("gcp:compute/") and r.typ.split(":")[-1] in GCP_UNLABELLED:
                assert r.plain("description") == f"fabric: site {site}, node {site}-n1, stack dc1", r.name
    assert burst.by_name("aws-n1").plain("volumeTags") == {**TAGS, "fabric-site": "aws", "fabric-node": "aws-n1"}


def test_cloud_nodes_are_exported_with_what_the_peer_stacks_need(burst: Run) -> None:
    members = {m["name"]: m for m in burst.exports[MEMBERS_OUTPUT]}
    assert list(members) == ["dc1-r1", "dc1-r2", "dc1-hv1", "dc1-hv2", "aws-n1", "azure-n1", "gcp-n1"]
    for site, ip in PUBLIC_IPS.items():
        node = members[f"{site}-n1"]
        assert node == {
            "name": f"{site}-n1", "site": site, "site_id": CLOUD_SITE_IDS[site], "node_id": 1, "endpoint": ip,
            "port": 51820, "public_key": deferred.public_key(f"mock {site}-n1-wg-key").sample,
            "mesh_address": f"172.27.{CLOUD_SITE_IDS[site]}.1", "roles": ["cloud-node"],
        }  # fmt: skip
        # What dc2 rebuilds from the export is the member dc1 planned with, its values filled in.
        rebuilt = members_from_export("dc1", [node])[0]
        name = rebuilt.name
        assert (
            dataclasses.replace(rebuilt, public_key=deferred.public_key(name), endpoint=deferred.endpoint(name))
            in burst.plan.members
        )
    # Every router peers with every cloud node at its static IP (filled in by the provider).
    for router in burst.plan.routers:
        peers_by_name = {p.name: p for p in router.wireguard_peers}
        assert {peers_by_name[f"{s}-n1"].endpoint for s in PUBLIC_IPS} == {
            deferred.endpoint(f"{s}-n1") for s in PUBLIC_IPS
        }
    summary = burst.exports["clouds"]["aws"]
    assert summary["node"] == "aws-n1" and summary["mesh_address"] == "172.27.3.1"
    assert summary["node_address"] == node_address("aws")


def _line_changes(before: str, after: str) -> tuple[list[str], list[str]]:
    """(removed, added) lines from ``before`` to ``after``."""
    diff = list(difflib.ndiff(before.splitlines(), after.splitlines()))
    return [d[2:] for d in diff if d.startswith("- ")], [d[2:] for d in diff if d.startswith("+ ")]


def test_turning_a_burst_off_removes_exactly_its_resources(monkeypatch: pytest.MonkeyPatch, burst: Run) -> None:
    clouds = json.loads(json.dumps(ALL_CLOUDS))
    clouds["gcp"]["enabled"] = False
    off = run_program(monkeypatch, pulumi_config(burst_raw(clouds)))

    def tree(run: Run) -> set[tuple[str, str]]:
        return {(r.typ, r.name) for r in run.resources if r.typ != "pulumi:pulumi:Stack"}  # the root exists once

    gone = {(r.typ, r.name) for r in [burst.extension("gcp"), *burst.children("gcp")]}
    assert tree(off) == tree(burst) - gone
    assert not any(r.name.startswith("gcp") for r in off.resources)

    # The other clouds' resources are unchanged, but for the node's peer list and the firewall's sources.
    changed = set()
    for site in ("aws", "azure"):
        for before in burst.children(site):
            after = off.by_name(before.name)
            if _unwrap(after.inputs) != _unwrap(before.inputs):
                changed.add(before.name)
        removed, added = _line_changes(user_data(burst, site), user_data(off, site))
        # Exactly gcp-n1's [Peer] section leaves wg0.conf (a blank line, then the section).
        gcp_key = deferred.public_key("mock gcp-n1-wg-key").sample
        assert added == [] and sorted(removed) == sorted(
            ["", "    [Peer]", "    # gcp-n1", f"    PublicKey = {gcp_key}", "    AllowedIPs = 172.27.5.1/32",
             "    Endpoint = 203.0.113.30:51820", "    PersistentKeepalive = 25"]
        )  # fmt: skip
    assert changed == {"aws-node-sg", "aws-n1", "azure-node-nsg", "azure-n1"}
    wireguard_on = next(r for r in burst.by_name("aws-node-sg").plain("ingress") if r["protocol"] == "udp")
    wireguard_off = next(r for r in off.by_name("aws-node-sg").plain("ingress") if r["protocol"] == "udp")
    assert set(wireguard_on["cidrBlocks"]) - set(wireguard_off["cidrBlocks"]) == {"203.0.113.30/32"}
    assert set(wireguard_off["cidrBlocks"]) < set(wireguard_on["cidrBlocks"])
    nsg_on, nsg_off = (r.by_name("azure-node-nsg").plain("securityRules")[0] for r in (burst, off))
    assert set(nsg_on["sourceAddressPrefixes"]) - set(nsg_off["sourceAddressPrefixes"]) == {"203.0.113.30/32"}

    # Every router loses exactly that peer (and its endpoint), the exports lose the node.
    for on, off_router in zip(burst.plan.routers, off.plan.routers, strict=True):
        assert [p.name for p in off_router.wireguard_peers] == [
            p.name for p in on.wireguard_peers if p.name != "gcp-n1"
        ]
        assert "gcp-n1" in str(render_router(burst.plan, on).config()) and "gcp-n1" not in str(
            render_router(off.plan, off_router).config()
        )
        assert "203.0.113.30" not in str(render_router(off.plan, off_router).config())
    dc1 = ["dc1-r1", "dc1-r2", "dc1-hv1", "dc1-hv2"]
    assert [m["name"] for m in off.exports[MEMBERS_OUTPUT]] == [*dc1, "aws-n1", "azure-n1"]
    assert set(off.exports["clouds"]) == {"aws", "azure"}
    assert {s: off.exports["clouds"][s] for s in ("aws", "azure")} == {
        s: burst.exports["clouds"][s] for s in ("aws", "azure")
    }
    assert "gcp" not in off.exports["plan"]["clouds"]
