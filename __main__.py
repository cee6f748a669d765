"""The Pulumi program: stack config -> validated model -> components -> exports.

Thin on purpose: everything it knows comes from ``fabric``. Bad config stops here, with
every problem listed, before any resource is registered.
"""

import pulumi

from fabric.components.config import read_inventory
from fabric.components.datacenter import Datacenter
from fabric.components.peers import MEMBERS_OUTPUT, peer_members

inventory = read_inventory()
config = pulumi.Config("fabric")
# Required (model check) when the stack has routers; a stack of nodes needs none.
api_key = config.get_secret("vyos_api_key")
ssh_private_key = config.get_secret("ssh_private_key")  # None: an SSH agent
datacenter = Datacenter(inventory, peer_members(inventory.peer_stacks), api_key, ssh_private_key)
pulumi.export(MEMBERS_OUTPUT, datacenter.mesh.members)
pulumi.export("mesh_peers", datacenter.mesh.peers)
pulumi.export("plan", datacenter.summary)
pulumi.export("clouds", datacenter.clouds_summary)
