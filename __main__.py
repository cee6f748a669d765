"""The Pulumi program: stack config -> validated model -> components -> exports.

Thin on purpose: everything it knows comes from ``fabric``. Bad config stops here, with
every problem listed, before any resource is registered.
"""

import pulumi

from fabric.components.config import read_inventory
from fabric.components.datacenter import Datacenter
from fabric.components.peers import MEMBERS_OUTPUT, peer_members

inventory = read_inventory()
api_key = pulumi.Config("fabric").require_secret("vyos_api_key")
datacenter = Datacenter(inventory, peer_members(inventory.peer_stacks), api_key)
pulumi.export(MEMBERS_OUTPUT, datacenter.mesh.members)
pulumi.export("mesh_peers", datacenter.mesh.peers)
pulumi.export("plan", datacenter.summary)
