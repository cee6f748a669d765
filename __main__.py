"""The Pulumi program: stack config -> validated model -> components -> exports.

Thin on purpose: everything it knows comes from ``fabric``. The config, the peer
stacks' members and every rendered config are validated first, by the same loader as
``python -m fabric validate`` (same refusals, same messages); bad input stops here,
with every problem listed, before any resource is registered.
"""

import sys

import pulumi

from fabric.components.config import read_stack
from fabric.components.datacenter import Datacenter
from fabric.components.peers import PeerStackError
from fabric.components.verify import verify_after_up
from fabric.errors import ConfigError
from fabric.loader import MEMBERS_OUTPUT

try:
    stack = read_stack()
except (ConfigError, PeerStackError) as exc:
    # Printed as `validate` prints it; the engine shows the program's stderr and fails the run.
    print(f"{pulumi.get_stack()}: {exc}", file=sys.stderr)
    sys.exit(1)
config = pulumi.Config("fabric")
# Required (model check) when the stack has routers; a stack of nodes needs none.
api_key = config.get_secret("vyos_api_key")
ssh_private_key = config.get_secret("ssh_private_key")  # None: an SSH agent
datacenter = Datacenter(stack.inventory, stack.plan, api_key, ssh_private_key)
# The post-up check (fabric:verify), when the stack asks for it and has devices to read.
checks = None
if stack.inventory.verify.after_up:
    checks = verify_after_up(
        f"{datacenter.name}-verify",
        pulumi.get_stack(),
        stack,
        datacenter.device_resources(),
        datacenter.rendered(),
        datacenter.mesh.members,
        api_key,
        ssh_private_key,
        datacenter,
    )
pulumi.export(MEMBERS_OUTPUT, datacenter.mesh.members)
pulumi.export("mesh_peers", datacenter.mesh.peers)
pulumi.export("plan", datacenter.summary)
pulumi.export("clouds", datacenter.clouds_summary)
