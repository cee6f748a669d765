"""What lab to bring up: its nodes (name, underlay address, SSH address) and the underlay MTU.

A spec comes from Python (``LabSpec``/``NodeSpec``, or ``default_spec(n)``) or from a
JSON or YAML file (``load_spec``), in any of these shapes::

    [{name: n1, underlay: 10.254.0.11/24, ssh: 10.255.1.2}, ...]          # a list of nodes
    {underlay_mtu: 1700, nodes: [...]}                                       # with lab settings
    {config: {"fabric:nodes": [{name, site, id, endpoint, ssh: {address, host_key}}, ...],
              "fabric:mtu": {underlay: 1700}}}                               # a Pulumi stack file

A node's ``underlay`` is its address on the shared underlay bridge (``endpoint`` in the
stack's form, always a /24 there; ``underlay_prefix`` in the other shapes, default /24);
the underlay MTU is ``underlay_mtu``, or the stack's ``fabric:mtu.underlay``, default
1700. ``ssh`` (or ``ssh.address``; sshd listens on port 22)
is its management address: the /30 around it is the node's own link to the root
namespace, whose side takes the /30's other address. A pinned ``ssh.host_key`` must be
the node's lab key (``lab.keys.host_key_line``); ``site`` and ``id`` are the stack's
and ignored here.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path
from typing import Any

import yaml

from lab.keys import host_key_fingerprint, host_key_line
from lab.system import LabError

NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?$")
#: Interface names are ``fl-<node>`` and ``ep-<endpoint>``: Linux allows 15 characters.
MAX_NAME = 12
DEFAULT_UNDERLAY_MTU = 1700
DEFAULT_UNDERLAY_PREFIX = 24
MANAGEMENT_PREFIX = 30
#: ``default_spec``: node i (1-based) is ``n<i>`` at 10.254.0.(10+i)/24, SSH at 10.255.i.2.
DEFAULT_UNDERLAY = IPv4Network("10.254.0.0/24")
DEFAULT_MANAGEMENT = IPv4Network("10.255.0.0/16")
#: Enough for a 1500-byte tenant MTU: VXLAN (50) inside WireGuard (60) is 110 bytes.
MIN_MTU, MAX_MTU = 1280, 9216


@dataclass(frozen=True)
class NodeSpec:
    """One node: ``name`` (≤ 12 characters, it names interfaces), its underlay address and SSH address."""

    name: str
    underlay: IPv4Interface
    ssh: IPv4Address

    @property
    def management(self) -> IPv4Network:
        """The node's management link (a /30: the root namespace's side and the node's)."""
        return IPv4Network(f"{self.ssh}/{MANAGEMENT_PREFIX}", strict=False)

    @property
    def host_side(self) -> IPv4Address:
        """The root namespace's address on the management link."""
        first, second = list(self.management.hosts())
        return second if self.ssh == first else first


@dataclass(frozen=True)
class LabSpec:
    """The nodes and the underlay MTU (default 1700: a 1500-byte tenant MTU needs at least 1610)."""

    nodes: tuple[NodeSpec, ...]
    underlay_mtu: int = DEFAULT_UNDERLAY_MTU

    def __post_init__(self) -> None:
        problems = spec_problems(self)
        if problems:
            raise LabError("invalid lab spec:\n  " + "\n  ".join(problems))


def spec_problems(spec: LabSpec) -> list[str]:
    problems = []
    if not spec.nodes:
        problems.append("no nodes")
    if not MIN_MTU <= spec.underlay_mtu <= MAX_MTU:
        problems.append(f"underlay_mtu {spec.underlay_mtu} is not within {MIN_MTU}-{MAX_MTU}")
    names: set[str] = set()
    underlays: dict[IPv4Address, str] = {}
    links: dict[IPv4Network, str] = {}
    for node in spec.nodes:
        where = f"node {node.name!r}"
        if not NAME.match(node.name):
            problems.append(
                f"{where}: a name is 1-{MAX_NAME} of a-z, 0-9 and '-' (not at either end): it names interfaces"
            )
        if node.name in names:
            problems.append(f"{where}: the name is used twice")
        names.add(node.name)
        network = spec.nodes[0].underlay.network
        if node.underlay.network != network:
            problems.append(f"{where}: underlay {node.underlay} is not in {network}: the underlay is one bridge")
        if node.underlay.ip in (network.network_address, network.broadcast_address) and network.prefixlen < 31:
            problems.append(f"{where}: underlay {node.underlay} is not a host address of its network")
        if node.underlay.ip in underlays:
            problems.append(f"{where}: underlay address {node.underlay.ip} is also {underlays[node.underlay.ip]}'s")
        underlays[node.underlay.ip] = node.name
        for label, address in (("underlay", node.underlay.ip), ("ssh", node.ssh)):
            if not address.is_private:
                problems.append(
                    f"{where}: {label} address {address} is not private: the lab uses private addresses only"
                )
        if node.ssh not in set(node.management.hosts()):
            problems.append(f"{where}: ssh address {node.ssh} is not a host address of its /{MANAGEMENT_PREFIX}")
        for other_net, other in links.items():
            if node.management.overlaps(other_net):
                problems.append(f"{where}: management link {node.management} overlaps {other}'s {other_net}")
        if node.management.overlaps(network):
            problems.append(f"{where}: management link {node.management} overlaps the underlay {network}")
        links[node.management] = node.name
    return problems


def default_spec(count: int = 3, underlay_mtu: int = DEFAULT_UNDERLAY_MTU) -> LabSpec:
    """``count`` nodes ``n1``... on ``10.254.0.0/24``, SSH at ``10.255.<i>.2``."""
    if not 1 <= count <= 250:
        raise LabError(f"a default lab has 1-250 nodes, not {count}")
    return LabSpec(
        nodes=tuple(
            NodeSpec(
                name=f"n{i}",
                underlay=IPv4Interface(f"{DEFAULT_UNDERLAY.network_address + 10 + i}/{DEFAULT_UNDERLAY.prefixlen}"),
                ssh=DEFAULT_MANAGEMENT.network_address + 256 * i + 2,
            )
            for i in range(1, count + 1)
        ),
        underlay_mtu=underlay_mtu,
    )


def _node(raw: Any, prefix: int) -> NodeSpec:
    if not isinstance(raw, Mapping):
        raise LabError(f"a node is a mapping with name, underlay (or endpoint) and ssh, not {raw!r}")
    name = str(raw.get("name", ""))
    try:
        if "underlay" in raw:
            underlay = IPv4Interface(str(raw["underlay"]))
            if "/" not in str(raw["underlay"]):
                underlay = IPv4Interface(f"{raw['underlay']}/{prefix}")
        elif "endpoint" in raw:
            underlay = IPv4Interface(f"{raw['endpoint']}/{prefix}")
        else:
            raise LabError(f"node {name!r}: no underlay (or endpoint) address")
        ssh = raw.get("ssh")
        if isinstance(ssh, Mapping):
            pinned = ssh.get("host_key")
            if pinned and not _is_lab_key(str(pinned), name):
                raise LabError(f"node {name!r}: ssh.host_key is not the lab's key for it: pin {host_key_line(name)}")
            ssh = ssh.get("address")
        if ssh is None:
            raise LabError(f"node {name!r}: no ssh address")
        return NodeSpec(name=name, underlay=underlay, ssh=IPv4Address(str(ssh)))
    except (ipaddress.AddressValueError, ipaddress.NetmaskValueError, ValueError) as exc:
        raise LabError(f"node {name!r}: {exc}") from exc


def _is_lab_key(pinned: str, name: str) -> bool:
    if pinned.strip().startswith("SHA256:"):
        return pinned.strip().rstrip("=") == host_key_fingerprint(name)
    return host_key_line(name).split()[1] in pinned.split()


def parse_spec(data: Any) -> LabSpec:
    """A spec from already-loaded data (see the module docstring for the shapes)."""
    settings: Mapping[str, Any] = {}
    nodes: Any = data
    if isinstance(data, Mapping):
        settings = data
        if "config" in data and isinstance(data["config"], Mapping):
            config = data["config"]
            nodes = config.get("fabric:nodes")
            mtu = config.get("fabric:mtu")
            underlay_mtu = mtu.get("underlay") if isinstance(mtu, Mapping) else None
            settings = {"underlay_mtu": underlay_mtu or DEFAULT_UNDERLAY_MTU}
        else:
            nodes = data.get("nodes")
    if not isinstance(nodes, Sequence) or isinstance(nodes, str):
        raise LabError("a lab spec is a list of nodes, {nodes: [...]} or a stack file with fabric:nodes")
    prefix = int(settings.get("underlay_prefix", DEFAULT_UNDERLAY_PREFIX))
    return LabSpec(
        nodes=tuple(_node(raw, prefix) for raw in nodes),
        underlay_mtu=int(settings.get("underlay_mtu", DEFAULT_UNDERLAY_MTU)),
    )


def load_spec(path: Path) -> LabSpec:
    """A spec from a JSON or YAML file."""
    try:
        text = path.read_text()
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise LabError(f"{path}: {exc}") from exc
    try:
        return parse_spec(data)
    except LabError as exc:
        raise LabError(f"{path}: {exc}") from exc
