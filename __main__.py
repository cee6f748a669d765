"""The Pulumi program: stack config -> validated model -> plan -> exports.

Thin on purpose: everything it knows comes from ``fabric`` (the pure core). Bad
config stops here, with every problem listed, before any resource is registered.
"""

import pulumi

from fabric import topology
from fabric.components.config import read_inventory
from fabric.export import plan_summary
from fabric.stackfile import placeholder_keys

inventory = read_inventory()
# Public keys only shape the WireGuard peer lines, which are not exported; the key
# resources that replace these stand-ins come with the router components.
plan = topology.build(inventory, placeholder_keys(inventory))
pulumi.export("plan", plan_summary(plan))
